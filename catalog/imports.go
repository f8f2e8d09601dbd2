package catalog

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/http"
)

// Import methods, as Glance's enabled_import_methods names them.
const (
	MethodGlanceDirect   = "glance-direct"
	MethodWebDownload    = "web-download"
	MethodCopyImage      = "copy-image"
	MethodGlanceDownload = "glance-download"
)

// DefaultStore is the id of the default store: the R durable copies
// anywhere in the cluster. Every other store is a zone, named as the zone.
const DefaultStore = "default"

// Properties Glance keeps on an image while (and after) it is imported.
const (
	// PropImportTask is the import lock: the id of the task importing.
	PropImportTask = "os_glance_import_task"
	// PropImportingToStores lists the stores not done yet (comma-separated).
	PropImportingToStores = "os_glance_importing_to_stores"
	// PropFailedImport lists the stores the import failed for.
	PropFailedImport = "os_glance_failed_import"
)

// ImportJob is an import the API has validated, for Backend.StartImport.
type ImportJob struct {
	// Task is the task to record (status pending) and keep up to date.
	Task *Task
	// ImageID is the image imported into; ImageRevision is the revision
	// the API validated (the lock is taken only if it still holds).
	ImageID       string
	ImageRevision uint64
	// Method is one of the Method* constants.
	Method string
	// URI is web-download's source (http or https).
	URI string
	// Stores are the target store ids (DefaultStore or zone names).
	Stores []string
	// AllStoresMustSucceed fails the whole import when one store fails;
	// otherwise failed stores are listed in os_glance_failed_import.
	AllStoresMustSucceed bool
	// Region and RemoteImageID name glance-download's source image.
	Region, RemoteImageID string
	// Forward holds the caller's credential headers (X-Auth-Token, or the
	// noauth identity headers) for glance-download. Never stored.
	Forward http.Header
	// MaxSize caps the bytes a download may bring in: image_size_cap and
	// what is left of the image_size_total quota.
	MaxSize int64
}

// ValidationData are the hashes a location's data must match; empty
// fields are not checked. OSHashAlgo is md5, sha1, sha256 or sha512.
type ValidationData struct {
	Checksum    string `json:"checksum,omitempty"`
	OSHashAlgo  string `json:"os_hash_algo,omitempty"`
	OSHashValue string `json:"os_hash_value,omitempty"`
}

// LocationJob is a location import the API has validated, for
// Backend.StartLocationImport.
type LocationJob struct {
	// Task is the location_import task to record (status pending).
	Task *Task
	// ImageID is the image filled; the job locks it only if it is still
	// at ImageRevision (else the error wraps ErrConflict).
	ImageID       string
	ImageRevision uint64
	// Image, when set, is the image to lock instead of the stored one (a
	// PATCH's other changes applied); its Locations are ignored.
	Image *Image
	// URL is the origin read (http or https).
	URL string
	// Locations are recorded on the image once it is active.
	Locations []Location
	// Validation must match the data, else the task fails.
	Validation ValidationData
	// MaxSize caps the bytes read from the origin.
	MaxSize int64
}

// NewHash returns a hash of a validation algorithm (nil if unknown).
func NewHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}
