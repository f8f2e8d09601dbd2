package api

import (
	"fmt"
	"net/http"

	"github.com/p2pglance/p2pglance/catalog"
)

// deactivateImage serves POST /v2/images/{id}/actions/deactivate: active
// becomes deactivated (204); already deactivated is a no-op; any other
// status is 403.
func (ia *imageAPI) deactivateImage(w http.ResponseWriter, r *http.Request) error {
	return ia.rewriteImage(w, r, actDeactivate, func(img *catalog.Image) error {
		switch img.Status {
		case catalog.StatusDeactivated:
			return errUnchanged
		case catalog.StatusActive:
			img.Status = catalog.StatusDeactivated
			return nil
		}
		return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Not allowed to deactivate image in status '%s'", img.Status)}
	})
}

// reactivateImage serves POST /v2/images/{id}/actions/reactivate:
// deactivated becomes active (204); already active is a no-op; any other
// status is 403.
func (ia *imageAPI) reactivateImage(w http.ResponseWriter, r *http.Request) error {
	return ia.rewriteImage(w, r, actReactivate, func(img *catalog.Image) error {
		switch img.Status {
		case catalog.StatusActive:
			return errUnchanged
		case catalog.StatusDeactivated:
			img.Status = catalog.StatusActive
			return nil
		}
		return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Not allowed to reactivate image in status '%s'", img.Status)}
	})
}
