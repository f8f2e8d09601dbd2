package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// rewriteRetries bounds the read-modify-write retries of a tag change or
// image action that lost a race with another write to the same image: the
// change is re-applied to fresh state instead of answered 409.
const rewriteRetries = 5

// addTag serves PUT /v2/images/{id}/tags/{tag}: 204, idempotent.
func (ia *imageAPI) addTag(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	tag := mux.Vars(r)["tag"]
	if len([]rune(tag)) > maxStringLen {
		return errSchema("'%s' is too long (tags)", tag)
	}
	return ia.rewriteImage(w, r, actModifyImage, func(img *catalog.Image) error {
		if slices.Contains(img.Tags, tag) {
			return errUnchanged
		}
		if len(img.Tags) >= maxTagCount {
			return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: fmt.Sprintf("Image tag limit exceeded for image %s: Maximum number of tags exceeded (%d).", img.ID, maxTagCount)}
		}
		img.Tags = append(img.Tags, tag)
		return nil
	})
}

// deleteTag serves DELETE /v2/images/{id}/tags/{tag}: 204, or 404 when
// the image has no such tag.
func (ia *imageAPI) deleteTag(w http.ResponseWriter, r *http.Request) error {
	tag := mux.Vars(r)["tag"]
	return ia.rewriteImage(w, r, actModifyImage, func(img *catalog.Image) error {
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return &Error{Status: http.StatusNotFound}
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		return nil
	})
}

// errUnchanged tells rewriteImage that the image already is as asked.
var errUnchanged = errors.New("image unchanged")

// rewriteImage applies change to a clone of the image the caller may
// modify, writes it back (retrying on a revision conflict) and answers 204.
func (ia *imageAPI) rewriteImage(w http.ResponseWriter, r *http.Request, act action, change func(*catalog.Image) error) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	err := catalog.RetryOnConflict(r.Context(), rewriteRetries, nil, func(ctx context.Context) error {
		cur, err := ia.srv.visibleImage(r, id, true)
		if err != nil {
			return err
		}
		if err := ia.srv.enforce(r.Context(), act, cur); err != nil {
			return err
		}
		img := cur.Clone()
		if img.Tags == nil {
			img.Tags = []string{}
		}
		err = change(img)
		if errors.Is(err, errUnchanged) {
			return nil
		}
		if err != nil {
			return err
		}
		img.UpdatedAt = time.Now().UTC()
		_, err = ia.backend.UpdateImage(ctx, img, cur.Revision)
		return err
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return errNotFoundImage(id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
