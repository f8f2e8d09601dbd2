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

// storeAPI serves the store-level delete (/v2/stores/{store}/{id},
// admin): an image's durable copies leaving one store.
type storeAPI struct {
	srv     *Server // the shared core: image visibility, policy
	backend Backend
}

var _ Extension = (*storeAPI)(nil)

// Routes are the store routes.
func (sa *storeAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/stores/{store}/{id}", Methods: map[string]HandlerFunc{"DELETE": sa.deleteFromStore}, Allow: "DELETE"},
	}
}

// deleteFromStore serves DELETE /v2/stores/{store}/{id} (admin): the
// image's durable copies in that zone leave its placement (they become
// evictable cache on their nodes). 204. The default store holds every
// image as long as it has data, so it cannot be deleted from; nor can
// the last durable copy.
func (sa *storeAPI) deleteFromStore(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	storeID, id := mux.Vars(r)["store"], mux.Vars(r)["id"]
	stores, err := sa.backend.Stores(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(stores, func(st catalog.Store) bool { return st.ID == storeID })
	if i < 0 {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The selected store %s is not available on this node.", storeID)}
	}
	store := stores[i]
	view := &imageView{stores: stores}
	onlyStore := &Error{Status: http.StatusForbidden, Explanation: "Cannot delete image data from the only store containing it. Consider deleting the image instead."}
	err = catalog.RetryOnConflict(ctx, rewriteRetries, nil, func(ctx context.Context) error {
		cur, err := sa.srv.visibleImage(r, id, true)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Status == http.StatusNotFound {
				return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Failed to find image %s", id)}
			}
			return err
		}
		if err := sa.srv.enforce(ctx, actGetImageLocation, cur); err != nil {
			return err
		}
		if err := sa.srv.enforce(ctx, actDelImageLocation, cur); err != nil {
			return err
		}
		if cur.Status != catalog.StatusActive {
			return &Error{Status: http.StatusConflict, Explanation: "It's not allowed to remove image data from store if image status is not 'active'"}
		}
		held := view.storesOf(cur)
		switch {
		case len(held) <= 1:
			return onlyStore
		case !slices.Contains(held, storeID):
			return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Image %s is not stored in store %s.", id, storeID)}
		case storeID == catalog.DefaultStore:
			return &Error{Status: http.StatusForbidden, Explanation: "The default store holds every durable copy of the image's data and cannot be deleted from. Consider deleting the image instead."}
		}
		next := cur.Clone()
		next.Placement = slices.DeleteFunc(next.Placement, func(n string) bool { return slices.Contains(store.Nodes, n) })
		if len(next.Placement) == 0 {
			return onlyStore
		}
		next.UpdatedAt = time.Now().UTC()
		_, err = sa.backend.UpdateImage(ctx, next, cur.Revision)
		return err
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Failed to find image %s", id)}
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
