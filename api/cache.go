package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// Cache manages the node's image cache (Config.Cache), as Glance's
// /v2/cache API does for one API worker's image_cache_dir. Without one
// the API answers as a Glance without a cache does (404).
type Cache interface {
	// CacheState lists the active images this node holds every chunk of,
	// and the images queued for prefetch into this node.
	CacheState(ctx context.Context) (*CacheState, error)
	// QueueCache queues an active image for prefetch into this node; the
	// chunks come from peers in the background.
	QueueCache(ctx context.Context, imageID string) error
	// EvictCache drops the image from the queue and this node's copies of
	// its chunks, except chunks the node holds as durable copies. It
	// reports whether the image was queued.
	EvictCache(ctx context.Context, imageID string) (queued bool, err error)
	// ClearCache evicts every cached chunk (cache) and/or empties the
	// prefetch queue (queue).
	ClearCache(ctx context.Context, cache, queue bool) error
	// CleanCache removes invalid cache entries.
	CleanCache(ctx context.Context) error
	// PruneCache evicts cached chunks, least recently used first, until
	// the cache fits its budget.
	PruneCache(ctx context.Context) (*PruneResult, error)
	// CacheNodes returns the Glance API URLs of the live nodes that hold
	// every chunk of the image, sorted.
	CacheNodes(ctx context.Context, imageID string) ([]string, error)
	// RecordDownload counts one download of the image served by this
	// node (its hits and last access in the cache listing).
	RecordDownload(imageID string)
}

// CachedImage is one entry of GET /v2/cache's cached_images.
type CachedImage struct {
	ImageID      string
	Hits         int64
	LastAccessed time.Time
	LastModified time.Time
	Size         int64
}

// CacheState is GET /v2/cache: what this node caches and what it is
// about to.
type CacheState struct {
	Cached []CachedImage
	Queued []string
}

// PruneResult is the answer of POST /v2/cache/prune.
type PruneResult struct {
	Files, Bytes int64
}

// Glance's cache policy rules (glance/policies/cache.py).
const (
	actCacheList  = "cache_list"
	actCacheImage = "cache_image"
	actCacheDel   = "cache_delete"
	actCacheClean = "cache_clean"
	actCachePrune = "cache_prune"
	actCacheNodes = "list_cached_nodes"
)

// cacheAPI serves Glance's cache API (/v2/cache, admin only) over the
// node's Cache. Its routes are served without a cache too, answering as
// a Glance without one does (404).
type cacheAPI struct {
	srv     *Server // the shared core: image visibility
	backend Backend
	cache   Cache // nil: no cache at this node
}

var _ Extension = (*cacheAPI)(nil)

// Routes are the routes of the cache API. clean and prune come before
// {id} so that they are not taken for image ids.
func (ca *cacheAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/cache", Methods: map[string]HandlerFunc{"GET": ca.cacheState, "DELETE": ca.clearCache}, Allow: "GET, DELETE"},
		{Path: "/v2/cache/clean", Methods: map[string]HandlerFunc{"POST": ca.cleanCache}, Allow: "POST"},
		{Path: "/v2/cache/prune", Methods: map[string]HandlerFunc{"POST": ca.pruneCache}, Allow: "POST"},
		{Path: "/v2/cache/nodes/{id}", Methods: map[string]HandlerFunc{"GET": ca.cacheNodes}, Allow: "GET"},
		{Path: "/v2/cache/{id}", Methods: map[string]HandlerFunc{"PUT": ca.queueCache, "DELETE": ca.evictCache}, Allow: "DELETE, PUT"},
	}
}

// cacheFor checks a cache policy rule (admin only), then that this
// server has a cache, as Glance's CacheController._enforce does.
func (ca *cacheAPI) cacheFor(ctx context.Context, act string) (Cache, error) {
	if err := adminOnly(ctx, act); err != nil {
		return nil, err
	}
	c := ca.cache
	if c == nil {
		return nil, &Error{Status: http.StatusNotFound, Explanation: "Caching via API is not supported at this site."}
	}
	return c, nil
}

// cacheState serves GET /v2/cache.
func (ca *cacheAPI) cacheState(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	c, err := ca.cacheFor(r.Context(), actCacheList)
	if err != nil {
		return err
	}
	st, err := c.CacheState(r.Context())
	if err != nil {
		return err
	}
	items := make([]string, len(st.Cached))
	for i, ci := range st.Cached {
		o := newObject()
		o.str("image_id", ci.ImageID)
		o.raw("hits", strconv.FormatInt(ci.Hits, 10))
		o.raw("last_accessed", pyEpoch(ci.LastAccessed))
		o.raw("last_modified", pyEpoch(ci.LastModified))
		o.raw("size", strconv.FormatInt(ci.Size, 10))
		items[i] = o.close()
	}
	queued := make([]string, len(st.Queued))
	for i, id := range st.Queued {
		queued[i] = jsonString(id)
	}
	o := newObject()
	o.raw("cached_images", "["+strings.Join(items, ", ")+"]")
	o.raw("queued_images", "["+strings.Join(queued, ", ")+"]")
	return writeRawJSON(w, http.StatusOK, o.close())
}

// pyEpoch renders a time as Python's json.dumps renders time.time(): a
// float of seconds, with at least one decimal (0.0 for the zero time).
func pyEpoch(t time.Time) string {
	if t.IsZero() {
		return "0.0"
	}
	s := strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// errCacheImageNotFound is Glance's 404 of the cache API.
func errCacheImageNotFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Image %s not found.", id)}
}

// queueCache serves PUT /v2/cache/{id}: 202, the image's chunks are
// fetched into this node in the background.
func (ca *cacheAPI) queueCache(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	img, err := ca.srv.visibleImage(r, id, true)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return errCacheImageNotFound(id)
		}
		return err
	}
	c, err := ca.cacheFor(r.Context(), actCacheImage)
	if err != nil {
		return err
	}
	if img.Status != catalog.StatusActive || img.Manifest == nil {
		return badRequest("Only images with status active can be targeted for queueing")
	}
	if err := c.QueueCache(r.Context(), img.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// evictCache serves DELETE /v2/cache/{id}: 204. The image leaves the
// queue, and this node drops its cached chunks of it (not the chunks it
// holds as a durable copy). 404 only when the image is unknown both to
// the catalog and to this node's queue, as in Glance.
func (ca *cacheAPI) evictCache(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	if err := ca.backend.Sync(ctx); err != nil {
		return err
	}
	_, err := ca.backend.Image(ctx, id)
	known := err == nil
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if !known {
		queued := false
		if c := ca.cache; c != nil {
			st, err := c.CacheState(ctx)
			if err != nil {
				return err
			}
			for _, q := range st.Queued {
				queued = queued || q == id
			}
		}
		if !queued {
			return errCacheImageNotFound(id)
		}
	}
	c, err := ca.cacheFor(ctx, actCacheDel)
	if err != nil {
		return err
	}
	if _, err := c.EvictCache(ctx, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// clearCache serves DELETE /v2/cache: 204. x-image-cache-clear-target
// picks what is cleared: "cache", "queue", or both when empty.
func (ca *cacheAPI) clearCache(w http.ResponseWriter, r *http.Request) error {
	c, err := ca.cacheFor(r.Context(), actCacheDel)
	if err != nil {
		return err
	}
	var cache, queue bool
	switch strings.ToLower(r.Header.Get("X-Image-Cache-Clear-Target")) {
	case "":
		cache, queue = true, true
	case "cache":
		cache = true
	case "queue":
		queue = true
	default:
		return badRequest("If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.")
	}
	if err := c.ClearCache(r.Context(), cache, queue); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cleanCache serves POST /v2/cache/clean: 200 without a body.
func (ca *cacheAPI) cleanCache(w http.ResponseWriter, r *http.Request) error {
	c, err := ca.cacheFor(r.Context(), actCacheClean)
	if err != nil {
		return err
	}
	if err := c.CleanCache(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// pruneCache serves POST /v2/cache/prune: 200 with what was evicted.
func (ca *cacheAPI) pruneCache(w http.ResponseWriter, r *http.Request) error {
	c, err := ca.cacheFor(r.Context(), actCachePrune)
	if err != nil {
		return err
	}
	res, err := c.PruneCache(r.Context())
	if err != nil {
		return err
	}
	o := newObject()
	o.raw("total_files_pruned", strconv.FormatInt(res.Files, 10))
	o.raw("total_bytes_pruned", strconv.FormatInt(res.Bytes, 10))
	return writeRawJSON(w, http.StatusOK, o.close())
}

// cacheNodes serves GET /v2/cache/nodes/{id}: the API URLs of the nodes
// that hold the whole image. (Glance answers 409 unless its cache runs on
// the centralized_db driver, whose list this mirrors: every node here
// knows who holds what through gossip.)
func (ca *cacheAPI) cacheNodes(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	c, err := ca.cacheFor(r.Context(), actCacheNodes)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	img, err := ca.srv.visibleImage(r, id, false)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return errCacheImageNotFound(id)
		}
		return err
	}
	urls, err := c.CacheNodes(r.Context(), img.ID)
	if err != nil {
		return err
	}
	q := make([]string, len(urls))
	for i, u := range urls {
		q[i] = jsonString(u)
	}
	return writeRawJSON(w, http.StatusOK, "["+strings.Join(q, ", ")+"]")
}
