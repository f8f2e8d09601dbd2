package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// Prefetcher runs pre-seeding jobs (Config.Prefetcher).
type Prefetcher interface {
	// StartPrefetch records a new job in the catalog; every matching
	// node (including nodes that join later) carries it out.
	StartPrefetch(ctx context.Context, imageID string, target catalog.PrefetchTarget) (*catalog.PrefetchJob, error)
	// Prefetch returns a job with the live progress of every target node.
	Prefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error)
	// Prefetches lists every job (without live per-node progress).
	Prefetches(ctx context.Context) ([]*catalog.PrefetchJob, error)
	// CancelPrefetch cancels a job; nodes stop working on it.
	CancelPrefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error)
}

// prefetchAPI serves the pre-seeding jobs API (/p2p/v1/prefetch, admin
// only), registered when Config.Prefetcher is set.
type prefetchAPI struct {
	srv        *Server // the shared core: image visibility
	prefetcher Prefetcher
}

var _ Extension = (*prefetchAPI)(nil)

// Routes are the prefetch routes.
func (pa *prefetchAPI) Routes() []Route {
	return []Route{
		{Path: "/p2p/v1/prefetch", Methods: map[string]HandlerFunc{"GET": pa.listPrefetch, "POST": pa.createPrefetch}, Allow: "GET, POST"},
		{Path: "/p2p/v1/prefetch/{id}", Methods: map[string]HandlerFunc{"GET": pa.showPrefetch, "DELETE": pa.cancelPrefetch}, Allow: "GET, DELETE"},
	}
}

// createPrefetch serves POST /p2p/v1/prefetch: 202 with the job.
func (pa *prefetchAPI) createPrefetch(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "prefetch"); err != nil {
		return err
	}
	var body struct {
		ImageID string                  `json:"image_id"`
		Target  *catalog.PrefetchTarget `json:"target"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if body.ImageID == "" {
		return badRequest("image_id is required.")
	}
	if body.Target == nil || (!body.Target.All && body.Target.Zone == "" && body.Target.Rack == "" && len(body.Target.Labels) == 0) {
		return badRequest(`target is required: {"all": true}, or any of zone, rack, labels.`)
	}
	if body.Target.All && (body.Target.Zone != "" || body.Target.Rack != "" || len(body.Target.Labels) > 0) {
		return badRequest(`target "all" cannot be combined with zone, rack or labels.`)
	}
	img, err := pa.srv.visibleImage(r, body.ImageID, true)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return badRequest("No image found with ID %s", body.ImageID)
		}
		return err
	}
	// An active image whose data is still only at its locations is
	// pulled first by the job (Backend.PullImage).
	if img.Status != catalog.StatusActive || img.Manifest == nil && len(img.Locations) == 0 {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Image %s is %s; only active images can be prefetched.", img.ID, img.Status)}
	}
	job, err := pa.prefetcher.StartPrefetch(r.Context(), img.ID, *body.Target)
	if err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+"/p2p/v1/prefetch/"+job.ID)
	return writeJSON(w, http.StatusAccepted, job)
}

// listPrefetch serves GET /p2p/v1/prefetch.
func (pa *prefetchAPI) listPrefetch(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "prefetch"); err != nil {
		return err
	}
	jobs, err := pa.prefetcher.Prefetches(r.Context())
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []*catalog.PrefetchJob{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

// showPrefetch serves GET /p2p/v1/prefetch/{id}.
func (pa *prefetchAPI) showPrefetch(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "prefetch"); err != nil {
		return err
	}
	job, err := pa.prefetcher.Prefetch(r.Context(), mux.Vars(r)["id"])
	if errors.Is(err, catalog.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Explanation: "No prefetch job with ID " + mux.Vars(r)["id"]}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, job)
}

// cancelPrefetch serves DELETE /p2p/v1/prefetch/{id}: 200 with the job.
func (pa *prefetchAPI) cancelPrefetch(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), "prefetch"); err != nil {
		return err
	}
	job, err := pa.prefetcher.CancelPrefetch(r.Context(), mux.Vars(r)["id"])
	if errors.Is(err, catalog.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Explanation: "No prefetch job with ID " + mux.Vars(r)["id"]}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, job)
}
