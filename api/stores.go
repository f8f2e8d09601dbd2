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

// deleteFromStore serves DELETE /v2/stores/{store}/{id}: the store
// leaves the image's stores, and the durable copies on nodes of that
// zone that the remaining stores do not need leave its placement (they
// become evictable cache on their nodes). 204. The default store cannot
// be deleted from (its copies are the image's durable data), nor the
// image's last store.
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
		held := cur.InStores()
		switch {
		case len(held) <= 1:
			return onlyStore
		case !slices.Contains(held, storeID):
			return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Image %s is not stored in store %s.", id, storeID)}
		case storeID == catalog.DefaultStore:
			return &Error{Status: http.StatusForbidden, Explanation: "The default store holds every durable copy of the image's data and cannot be deleted from. Consider deleting the image instead."}
		}
		next := cur.Clone()
		next.Stores = slices.DeleteFunc(slices.Clone(held), func(s string) bool { return s == storeID })
		next.Placement = releaseZoneCopies(next.Placement, store, next.Stores, stores)
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

// releaseZoneCopies drops from placement the nodes of store's zone that
// the remaining stores do not need: the default store keeps its replica
// count of copies, and every other remaining zone store a copy in its
// zone.
func releaseZoneCopies(placement []string, store catalog.Store, remaining []string, all []catalog.Store) []string {
	replicas := 0
	zoneNodes := map[string][]string{}
	for _, st := range all {
		if st.ID == catalog.DefaultStore {
			replicas, _ = st.Properties["replicas"].(int)
		}
		zoneNodes[st.ID] = st.Nodes
	}
	enough := func(p []string) bool {
		if slices.Contains(remaining, catalog.DefaultStore) && len(p) < max(replicas, 1) {
			return false
		}
		for _, s := range remaining {
			if s != catalog.DefaultStore && !slices.ContainsFunc(p, func(n string) bool { return slices.Contains(zoneNodes[s], n) }) {
				return false
			}
		}
		return len(p) > 0
	}
	out := slices.Clone(placement)
	for i := len(out) - 1; i >= 0; i-- {
		if !slices.Contains(store.Nodes, out[i]) {
			continue
		}
		if cand := slices.Delete(slices.Clone(out), i, i+1); enough(cand) {
			out = cand
		}
	}
	return out
}
