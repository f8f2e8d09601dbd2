package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/p2pglance/p2pglance/raftfsm"
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

// Store is one store of GET /v2/info/stores.
type Store struct {
	ID          string
	Description string
	Default     bool
	// Type and Properties are shown by /v2/info/stores/detail.
	Type       string
	Properties map[string]any
	// Nodes are the ids of the nodes whose copies count for the store
	// (every node for the default store, the zone's nodes otherwise).
	Nodes []string
}

// Usage is a project's usage and the configured limits (0: unlimited).
// Sizes are in bytes.
type Usage struct {
	ImageSizeTotal      UsageItem
	ImageStageTotal     UsageItem
	ImageCountTotal     UsageItem
	ImageCountUploading UsageItem
}

// UsageItem is one resource's usage and limit (0: unlimited).
type UsageItem struct {
	Usage, Limit int64
}

// importRoutes are the routes of interoperable import, tasks and
// discovery.
func (s *Server) importRoutes() []route {
	return []route{
		{path: "/v2/images/{id}/stage", methods: map[string]handlerFunc{"PUT": s.stageImage}, allow: "PUT"},
		{path: "/v2/images/{id}/import", methods: map[string]handlerFunc{"POST": s.importImage}, allow: "POST"},
		{path: "/v2/images/{id}/tasks", methods: map[string]handlerFunc{"GET": s.imageTasks}, allow: "GET"},
		{path: "/v2/tasks", methods: map[string]handlerFunc{"GET": s.listTasks, "POST": s.createTask}, allow: "GET, POST"},
		{path: "/v2/tasks/{task}", methods: map[string]handlerFunc{"GET": s.showTask, "DELETE": s.deleteTask}, allow: "GET, DELETE"},
		{path: "/v2/info/import", methods: map[string]handlerFunc{"GET": s.infoImport}, allow: "GET"},
		{path: "/v2/info/stores", methods: map[string]handlerFunc{"GET": s.infoStores}, allow: "GET"},
		{path: "/v2/info/stores/detail", methods: map[string]handlerFunc{"GET": s.infoStoresDetail}, allow: "GET"},
		{path: "/v2/info/usage", methods: map[string]handlerFunc{"GET": s.infoUsage}, allow: "GET"},
	}
}

// setImportHeaders adds the headers Glance sends on image create: the
// enabled import methods and the store ids.
func (s *Server) setImportHeaders(ctx context.Context, w http.ResponseWriter) {
	if m := s.cfg.Backend.ImportMethods(); len(m) > 0 {
		w.Header().Set("OpenStack-image-import-methods", strings.Join(m, ","))
	}
	stores, err := s.cfg.Backend.Stores(ctx)
	if err != nil || len(stores) == 0 {
		return
	}
	ids := make([]string, len(stores))
	for i, st := range stores {
		ids[i] = st.ID
	}
	w.Header().Set("OpenStack-image-store-ids", strings.Join(ids, ","))
}

// imageSizeHint reads x-openstack-image-size, falling back to
// Content-Length; -1 when neither is known.
func imageSizeHint(r *http.Request) (int64, error) {
	if v := r.Header.Get("X-Openstack-Image-Size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, badRequest("Invalid or missing image size in request headers.")
		}
		return n, nil
	}
	if r.ContentLength >= 0 {
		return r.ContentLength, nil
	}
	return -1, nil
}

// stageImage serves PUT /v2/images/{id}/stage: queued -> uploading, the
// data chunked and replicated like an upload, and recorded as staged so
// that any node can import it.
func (s *Server) stageImage(w http.ResponseWriter, r *http.Request) error {
	if err := requireOctetStream(r); err != nil {
		return err
	}
	sizeHint, err := imageSizeHint(r)
	if err != nil {
		return err
	}
	img, err := s.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := s.enforce(r.Context(), actModifyImage, img); err != nil {
		return err
	}
	if img.Status != raftfsm.StatusQueued {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Image status transition from %s to uploading is not allowed", img.Status)}
	}
	if img.Staging != nil {
		return &Error{Status: http.StatusConflict, Explanation: "The image data has already been staged."}
	}
	limit, err := s.dataLimit(r.Context(), quotaStage, sizeHint)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if _, err := s.cfg.Backend.StageImage(r.Context(), img, body, sizeHint); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("stage: %w", ErrTooLarge)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// importRetries bounds how often an import is revalidated after losing a
// race for the image.
const importRetries = 3

// importImage serves POST /v2/images/{id}/import: 202 with an empty body
// once the import is locked in and its task recorded; the work runs in
// the background on this node.
func (s *Server) importImage(w http.ResponseWriter, r *http.Request) error {
	req, err := s.parseImportRequest(r)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		img, err := s.visibleImage(r, mux.Vars(r)["id"], true)
		if err != nil {
			return err
		}
		job, err := s.prepareImport(r, img, req)
		if err != nil {
			return err
		}
		if job == nil { // copy-image to all stores, all of which hold it
			w.WriteHeader(http.StatusAccepted)
			return nil
		}
		job.Task = s.newTask(w, r, TaskTypeAPIImageImport, importTaskInput(img.ID, req.raw, job.Stores))
		job.Task.ImageID = img.ID
		err = s.cfg.Backend.StartImport(r.Context(), job)
		if errors.Is(err, raftfsm.ErrConflict) && attempt < importRetries {
			continue
		}
		if errors.Is(err, raftfsm.ErrNotFound) {
			return errNotFoundImage(img.ID)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
}

// prepareImport applies Glance's checks on the image (409s, policy, the
// lock, stores, quota) and returns the job to start; nil means there is
// nothing to do.
func (s *Server) prepareImport(r *http.Request, img *raftfsm.Image, req *importRequest) (*ImportJob, error) {
	ctx := r.Context()
	conflict := func(msg string) error { return &Error{Status: http.StatusConflict, Explanation: msg} }
	switch {
	case img.Status == raftfsm.StatusActive && req.method != MethodCopyImage:
		return nil, conflict("Image with status active cannot be target for import")
	case img.Status != raftfsm.StatusActive && req.method == MethodCopyImage:
		return nil, conflict("Only images with status active can be targeted for copying")
	case img.Status != raftfsm.StatusQueued && (req.method == MethodWebDownload || req.method == MethodGlanceDownload):
		return nil, conflict(fmt.Sprintf("Image needs to be in 'queued' state to use '%s' method", req.method))
	case req.method == MethodGlanceDirect && (img.Status != raftfsm.StatusUploading || img.Staging == nil):
		return nil, conflict("Image needs to be staged before 'glance-direct' method can be used")
	case img.ContainerFormat == nil:
		return nil, conflict("'container_format' needs to be set before import")
	case img.DiskFormat == nil:
		return nil, conflict("'disk_format' needs to be set before import")
	}
	act := actModifyImage
	if req.method == MethodCopyImage {
		act = actCopyImage
	}
	if err := s.enforce(ctx, act, img); err != nil {
		return nil, err
	}
	stores, err := s.resolveStores(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.method == MethodCopyImage {
		if stores, err = s.storesToCopy(ctx, img, stores, req.allStores); err != nil || len(stores) == 0 {
			return nil, err
		}
	}
	if err := s.checkImportLock(ctx, img); err != nil {
		return nil, err
	}
	job := &ImportJob{
		ImageID: img.ID, ImageRevision: img.Revision, Method: req.method, URI: req.uri,
		Stores: stores, AllStoresMustSucceed: req.mustSucceed,
		Region: req.region, RemoteImageID: req.remoteID, MaxSize: s.cfg.MaxImageSize,
	}
	if req.method == MethodGlanceDownload {
		job.Forward = forwardHeaders(r)
	}
	if req.method != MethodCopyImage {
		staged := int64(0)
		if req.method == MethodGlanceDirect {
			staged = img.Staging.Size
		}
		if job.MaxSize, err = s.importLimit(ctx, staged); err != nil {
			return nil, err
		}
	}
	return job, nil
}

// checkImportLock answers 409 while another import holds the image.
func (s *Server) checkImportLock(ctx context.Context, img *raftfsm.Image) error {
	id := img.Properties[PropImportTask]
	if id == "" {
		return nil
	}
	d, err := s.cfg.Backend.Doc(ctx, TaskKind, id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return nil // a lock whose task is gone holds nothing
	}
	if err != nil {
		return err
	}
	t, err := TaskFromDoc(d)
	if err != nil {
		return err
	}
	if t.Finished() {
		return nil
	}
	return &Error{Status: http.StatusConflict, Explanation: "Image has active task"}
}

// forwardHeaders are the caller's credentials, sent on to the Glance a
// glance-download fetches from.
func forwardHeaders(r *http.Request) http.Header {
	h := http.Header{}
	for _, k := range []string{"X-Auth-Token", "X-Project-Id", "X-Tenant-Id", "X-Roles", "X-User-Id"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// resolveStores turns the request's stores (body, X-Image-Meta-Store
// header, all_stores) into store ids; an unknown store is 409 as in
// Glance.
func (s *Server) resolveStores(ctx context.Context, req *importRequest) ([]string, error) {
	all, err := s.cfg.Backend.Stores(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	var ids []string
	for _, st := range all {
		known[st.ID] = true
		ids = append(ids, st.ID)
	}
	if req.allStores {
		return ids, nil
	}
	want := req.stores
	if len(want) == 0 {
		want = []string{DefaultStore}
		if req.header != "" {
			want = []string{req.header}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range want {
		if !known[id] {
			return nil, &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Unknown scheme '%s' found in URI", id)}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// storesToCopy drops the stores that already hold an active image: with
// all_stores they are skipped, otherwise naming one is 400.
func (s *Server) storesToCopy(ctx context.Context, img *raftfsm.Image, stores []string, allStores bool) ([]string, error) {
	all, err := s.cfg.Backend.Stores(ctx)
	if err != nil {
		return nil, err
	}
	holds := map[string]bool{}
	for _, st := range all {
		for _, n := range st.Nodes {
			for _, p := range img.Placement {
				if n == p {
					holds[st.ID] = true
				}
			}
		}
	}
	holds[DefaultStore] = img.Manifest != nil
	var out []string
	for _, id := range stores {
		switch {
		case !holds[id]:
			out = append(out, id)
		case !allStores:
			return nil, badRequest("Image is already present at store '%s'", id)
		}
	}
	return out, nil
}
