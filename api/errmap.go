package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/p2pglance/p2pglance/api/keystone"
	"github.com/p2pglance/p2pglance/catalog"
)

// httpError maps any error a handler returns to Glance's answer. It is
// the one place where domain errors become HTTP statuses.
func (s *Server) httpError(err error) *Error {
	var e *Error
	var fe *catalog.FormatError
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, keystone.ErrTokenInvalid):
		return keystoneUnauthorized(s.keystone, err)
	case errors.Is(err, keystone.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Explanation: "The Keystone service is temporarily unavailable.", Err: err}
	case errors.As(err, &fe):
		return &Error{Status: http.StatusUnsupportedMediaType, Detail: fe.Reason, Err: err}
	case errors.Is(err, catalog.ErrBodyTimeout):
		return &Error{Status: http.StatusRequestTimeout, Explanation: "The request body stalled: no data arrived for too long.", Err: err}
	case errors.Is(err, catalog.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Err: err}
	case errors.Is(err, catalog.ErrConflict):
		return &Error{Status: http.StatusConflict, Explanation: "The image was changed by another request; retry with fresh data.", Err: err}
	case errors.Is(err, catalog.ErrExists):
		return &Error{Status: http.StatusConflict, Explanation: "An image with this identifier already exists.", Err: err}
	case errors.Is(err, catalog.ErrStorageFull):
		// Glance's image_data.py for glance_store.StorageFull.
		return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: "Image storage media is full: There is not enough disk space on the image storage media.", Err: err}
	case errors.Is(err, catalog.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: "Image exceeds the storage quota: the data is larger than the image size cap.", Err: err}
	case errors.Is(err, catalog.ErrSizeMismatch):
		return &Error{Status: http.StatusBadRequest, Explanation: "The uploaded data does not match the size given in x-openstack-image-size.", Err: err}
	case errors.Is(err, catalog.ErrGone):
		return &Error{Status: http.StatusGone, Explanation: "Image was deleted while its data was being uploaded.", Err: err}
	case errors.Is(err, catalog.ErrUploadInterrupted):
		return &Error{Status: http.StatusBadRequest, Explanation: "The image data stream was interrupted; the image is queued again.", Err: err}
	case errors.Is(err, catalog.ErrNoQuorum):
		return &Error{Status: http.StatusServiceUnavailable, Explanation: "No quorum: the cluster leader cannot be reached from this node, so the write was not confirmed. Reads still work here; retry the write later or through another node.", Err: err}
	case errors.Is(err, catalog.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Explanation: "The image service cannot complete the request now (no quorum or no reachable copy); try again.", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Status: 499, Explanation: "Client closed request.", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Err: err}
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// errNotFoundImage is Glance's 404 for an unknown or invisible image.
func errNotFoundImage(id string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: "No image found with ID " + id}
}
