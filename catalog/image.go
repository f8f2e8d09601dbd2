package catalog

import (
	"slices"
	"time"
)

// Image statuses, as Glance names them.
const (
	StatusQueued        = "queued"
	StatusSaving        = "saving"
	StatusActive        = "active"
	StatusKilled        = "killed"
	StatusDeleted       = "deleted"
	StatusUploading     = "uploading"
	StatusImporting     = "importing"
	StatusPendingDelete = "pending_delete"
	StatusDeactivated   = "deactivated"
)

// Visibility values.
const (
	VisibilityPublic    = "public"
	VisibilityCommunity = "community"
	VisibilityShared    = "shared"
	VisibilityPrivate   = "private"
)

// ChunkRef names one chunk of an image: its BLAKE3-256 digest in hex and
// its size in bytes.
type ChunkRef struct {
	Digest string `json:"d"`
	Size   int64  `json:"s"`
}

// Manifest is how an image's bytes are rebuilt: the ordered chunks, and
// the hashes of the whole stream.
type Manifest struct {
	Chunks      []ChunkRef `json:"chunks"`
	Size        int64      `json:"size"`
	Checksum    string     `json:"checksum"`      // md5 hex
	OSHashAlgo  string     `json:"os_hash_algo"`  // "sha512"
	OSHashValue string     `json:"os_hash_value"` // hex
}

// Offsets returns the byte offset of each chunk and the total size.
func (m *Manifest) Offsets() ([]int64, int64) {
	offs := make([]int64, len(m.Chunks))
	var off int64
	for i, c := range m.Chunks {
		offs[i] = off
		off += c.Size
	}
	return offs, off
}

// UploadLock records which node is receiving an image's data, so a node
// that restarts (or dies) mid-upload can have the image returned to queued.
type UploadLock struct {
	Node    string    `json:"node"`
	Session string    `json:"session"`
	Started time.Time `json:"started"`
}

// Image is one catalog entry with every Glance attribute, plus the
// manifest and durable placement of its data.
type Image struct {
	ID              string            `json:"id"`
	Name            *string           `json:"name"`
	Status          string            `json:"status"`
	Visibility      string            `json:"visibility"`
	Protected       bool              `json:"protected"`
	OSHidden        bool              `json:"os_hidden"`
	Checksum        *string           `json:"checksum"`
	OSHashAlgo      *string           `json:"os_hash_algo"`
	OSHashValue     *string           `json:"os_hash_value"`
	Owner           *string           `json:"owner"`
	Size            *int64            `json:"size"`
	VirtualSize     *int64            `json:"virtual_size"`
	MinRAM          int64             `json:"min_ram"`
	MinDisk         int64             `json:"min_disk"`
	DiskFormat      *string           `json:"disk_format"`
	ContainerFormat *string           `json:"container_format"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Tags            []string          `json:"tags"`
	Properties      map[string]string `json:"properties,omitempty"`

	// Manifest is set once the image's data is stored (status active).
	Manifest *Manifest `json:"manifest,omitempty"`
	// Placement lists the ids of the nodes holding every chunk durably.
	Placement []string `json:"placement,omitempty"`
	// ShortPlacement marks data committed on fewer nodes than the
	// replica count asked for (nodes were down then): repair tops it up
	// once enough nodes are alive. A placement reduced on purpose (a
	// store delete) is not marked and stays as it is.
	ShortPlacement bool `json:"short_placement,omitempty"`
	// Upload is set while a node is receiving the image's data.
	Upload *UploadLock `json:"upload,omitempty"`
	// Staging is the manifest of data staged for an interoperable import
	// (PUT /stage, status uploading), held durably by StagingPlacement so
	// that any node can finish the import.
	Staging          *Manifest `json:"staging,omitempty"`
	StagingPlacement []string  `json:"staging_placement,omitempty"`
	// Locations are external origins of the image's data (http(s) URLs)
	// that the cluster pulls from on first download.
	Locations []Location `json:"locations,omitempty"`
	// Stores are the stores the image's data was put in, in the order
	// they were added, as Glance lists an image's stores (one location
	// per store): an upload's store, an import's stores that succeeded,
	// each store copy-image added; a store delete removes one. Nil on
	// an image whose data came from a location, or was stored before
	// stores were recorded: it is then in the default store only.
	Stores []string `json:"stores,omitempty"`

	// Revision is the Raft log index of the command that last changed
	// the image. It is assigned by Apply.
	Revision uint64 `json:"revision"`
}

// InStores returns the stores holding the image's data (Stores, or the
// default store for data recorded without them); nil without data.
func (img *Image) InStores() []string {
	switch {
	case img.Manifest == nil:
		return nil
	case img.Stores != nil:
		return img.Stores
	}
	return []string{DefaultStore}
}

// Clone returns a deep copy of img, safe to modify.
func (img *Image) Clone() *Image {
	c := *img
	c.Name = clonePtr(img.Name)
	c.Checksum = clonePtr(img.Checksum)
	c.OSHashAlgo = clonePtr(img.OSHashAlgo)
	c.OSHashValue = clonePtr(img.OSHashValue)
	c.Owner = clonePtr(img.Owner)
	c.Size = clonePtr(img.Size)
	c.VirtualSize = clonePtr(img.VirtualSize)
	c.DiskFormat = clonePtr(img.DiskFormat)
	c.ContainerFormat = clonePtr(img.ContainerFormat)
	c.Tags = slices.Clone(img.Tags)
	if img.Properties != nil {
		c.Properties = make(map[string]string, len(img.Properties))
		for k, v := range img.Properties {
			c.Properties[k] = v
		}
	}
	if img.Manifest != nil {
		m := *img.Manifest
		m.Chunks = slices.Clone(img.Manifest.Chunks)
		c.Manifest = &m
	}
	c.Placement = slices.Clone(img.Placement)
	if img.Staging != nil {
		m := *img.Staging
		m.Chunks = slices.Clone(img.Staging.Chunks)
		c.Staging = &m
	}
	c.StagingPlacement = slices.Clone(img.StagingPlacement)
	c.Stores = slices.Clone(img.Stores)
	if img.Locations != nil {
		c.Locations = make([]Location, len(img.Locations))
		for i, l := range img.Locations {
			c.Locations[i] = Location{URL: l.URL}
			if l.Metadata != nil {
				c.Locations[i].Metadata = make(map[string]string, len(l.Metadata))
				for k, v := range l.Metadata {
					c.Locations[i].Metadata[k] = v
				}
			}
		}
	}
	if img.Upload != nil {
		u := *img.Upload
		c.Upload = &u
	}
	return &c
}

// HasTag reports whether img carries tag.
func (img *Image) HasTag(tag string) bool {
	return slices.Contains(img.Tags, tag)
}

// Requeue puts img back to queued, as Glance does after a failed upload
// (or stage, or import): the upload lock, size and virtual size are
// cleared.
func (img *Image) Requeue(now time.Time) {
	img.Status = StatusQueued
	img.Upload = nil
	img.Size = nil
	img.VirtualSize = nil
	img.UpdatedAt = now
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Location is an external copy of an image's data.
type Location struct {
	URL      string            `json:"url"`
	Metadata map[string]string `json:"metadata,omitempty"`
}
