package catalog

import (
	"errors"
	"fmt"
)

// Sentinel errors of the domain. The catalog's replicated state returns
// the first three (also as the outcome of a refused Raft command); a node
// returns the others; the API maps every one of them to Glance's status
// code and text in one table (api/errmap.go).
var (
	// ErrNotFound means no live image (or member, or document) has that id.
	ErrNotFound = errors.New("image not found")
	// ErrExists means an image with that id exists or existed (ids are
	// never reused, even after delete).
	ErrExists = errors.New("image id already used")
	// ErrConflict means the command's precondition (expected revision)
	// no longer holds.
	ErrConflict = errors.New("changed concurrently")

	// ErrUnavailable means the cluster cannot take the request now (no
	// leader, no quorum, no holder of a chunk reachable): 503.
	ErrUnavailable = errors.New("service unavailable")
	// ErrNoQuorum means a write could not reach the Raft leader (none, or
	// not reachable from this node, as on the minority side of a network
	// partition) within the node's write timeout: 503. It is an
	// ErrUnavailable.
	ErrNoQuorum = fmt.Errorf("no quorum: cluster leader unreachable: %w", ErrUnavailable)
	// ErrUploadInterrupted means the client's upload stream failed; the
	// image went back to queued.
	ErrUploadInterrupted = errors.New("upload interrupted")
	// ErrTooLarge means the data exceeds the image size cap: 413.
	ErrTooLarge = errors.New("image data too large")
	// ErrSizeMismatch means the data's length differs from the size the
	// client announced: 400.
	ErrSizeMismatch = errors.New("image size does not match announced size")
	// ErrGone means the image was deleted while its data was uploaded: 410.
	ErrGone = errors.New("image deleted during upload")
	// ErrBodyTimeout means the client sent no byte of its request body
	// for the transfer idle timeout: 408. The API wraps the body read
	// error with it; a node passes it through (with %w).
	ErrBodyTimeout = errors.New("request body idle timeout")
	// ErrUnsupportedFormat means the image's data is not of its declared
	// disk_format, or is unsafe (format inspection refused it): 415. A
	// *FormatError carries the reason shown to the client.
	ErrUnsupportedFormat = errors.New("image data refused by format inspection")
	// ErrStorageFull means image data could not be stored: this node's
	// disk, or that of every node that could hold a required copy, is
	// full: 413, as Glance answers when its store is full.
	ErrStorageFull = errors.New("image storage media is full")
)

// FormatError is the refusal of image data by format inspection; it
// wraps ErrUnsupportedFormat and the inspector's own error.
type FormatError struct {
	// Reason is the text shown to the client (Glance's wording).
	Reason string
	// Err is the inspector's error.
	Err error
}

// Error implements error.
func (e *FormatError) Error() string { return "image format refused: " + e.Reason }

// Unwrap returns ErrUnsupportedFormat and the inspector's error, so both
// errors.Is(err, ErrUnsupportedFormat) and a match on Err hold.
func (e *FormatError) Unwrap() []error { return []error{ErrUnsupportedFormat, e.Err} }
