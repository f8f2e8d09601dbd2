package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// importAPI serves interoperable image import: staging an image's data
// (/v2/images/{id}/stage) and starting an import (/v2/images/{id}/import)
// by any of the enabled methods.
type importAPI struct {
	srv          *Server // the shared core: image visibility, policy
	backend      Backend
	quota        *quotas
	maxImageSize int64 // Config.MaxImageSize: the cap of a copy
}

var _ Extension = (*importAPI)(nil)

// Routes are the import routes.
func (ip *importAPI) Routes() []Route {
	return []Route{
		{Path: RouteImageStage, Methods: map[string]HandlerFunc{"PUT": ip.stageImage}, Allow: "PUT"},
		{Path: "/v2/images/{id}/import", Methods: map[string]HandlerFunc{"POST": ip.importImage}, Allow: "POST"},
	}
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
func (ip *importAPI) stageImage(w http.ResponseWriter, r *http.Request) error {
	if err := requireOctetStream(r); err != nil {
		return err
	}
	sizeHint, err := imageSizeHint(r)
	if err != nil {
		return err
	}
	img, err := ip.srv.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := ip.srv.enforce(r.Context(), actModifyImage, img); err != nil {
		return err
	}
	if img.Status != catalog.StatusQueued {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Image status transition from %s to uploading is not allowed", img.Status)}
	}
	if img.Staging != nil {
		return &Error{Status: http.StatusConflict, Explanation: "The image data has already been staged."}
	}
	limit, err := ip.quota.dataLimit(r.Context(), quotaStage, sizeHint)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if _, err := ip.backend.StageImage(r.Context(), img, body, sizeHint); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("stage: %w", catalog.ErrTooLarge)
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
func (ip *importAPI) importImage(w http.ResponseWriter, r *http.Request) error {
	req, err := ip.parseImportRequest(r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	err = catalog.RetryOnConflict(r.Context(), importRetries, nil, func(ctx context.Context) error {
		img, err := ip.srv.visibleImage(r, id, true)
		if err != nil {
			return err
		}
		job, err := ip.prepareImport(r, img, req)
		if err != nil || job == nil { // nil: copy-image to all stores, all of which hold it
			return err
		}
		job.Task = newTask(w, r, catalog.TaskTypeAPIImageImport, importTaskInput(img.ID, req.raw, job.Stores))
		job.Task.ImageID = img.ID
		return ip.backend.StartImport(ctx, job)
	})
	return acceptedOr(w, id, err)
}

// acceptedOr answers 202 for a job started (err nil), Glance's 404 for an
// image gone meanwhile, or err.
func acceptedOr(w http.ResponseWriter, id string, err error) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return errNotFoundImage(id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// prepareImport applies Glance's checks on the image (409s, policy, the
// lock, stores, quota) and returns the job to start; nil means there is
// nothing to do.
func (ip *importAPI) prepareImport(r *http.Request, img *catalog.Image, req *importRequest) (*catalog.ImportJob, error) {
	ctx := r.Context()
	conflict := func(msg string) error { return &Error{Status: http.StatusConflict, Explanation: msg} }
	switch {
	case img.Status == catalog.StatusActive && req.method != catalog.MethodCopyImage:
		return nil, conflict("Image with status active cannot be target for import")
	case img.Status != catalog.StatusActive && req.method == catalog.MethodCopyImage:
		return nil, conflict("Only images with status active can be targeted for copying")
	case img.Status != catalog.StatusQueued && (req.method == catalog.MethodWebDownload || req.method == catalog.MethodGlanceDownload):
		return nil, conflict(fmt.Sprintf("Image needs to be in 'queued' state to use '%s' method", req.method))
	case req.method == catalog.MethodGlanceDirect && (img.Status != catalog.StatusUploading || img.Staging == nil):
		return nil, conflict("Image needs to be staged before 'glance-direct' method can be used")
	case img.ContainerFormat == nil:
		return nil, conflict("'container_format' needs to be set before import")
	case img.DiskFormat == nil:
		return nil, conflict("'disk_format' needs to be set before import")
	}
	act := actModifyImage
	if req.method == catalog.MethodCopyImage {
		act = actCopyImage
	}
	if err := ip.srv.enforce(ctx, act, img); err != nil {
		return nil, err
	}
	stores, err := ip.resolveStores(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.method == catalog.MethodCopyImage {
		if stores, err = storesToCopy(img, stores, req.allStores); err != nil || len(stores) == 0 {
			return nil, err
		}
	}
	if err := checkImportLock(ctx, ip.backend, img); err != nil {
		return nil, err
	}
	job := &catalog.ImportJob{
		ImageID: img.ID, ImageRevision: img.Revision, Method: req.method, URI: req.uri,
		Stores: stores, AllStoresMustSucceed: req.mustSucceed,
		Region: req.region, RemoteImageID: req.remoteID, MaxSize: ip.maxImageSize,
	}
	if req.method == catalog.MethodGlanceDownload {
		job.Forward = forwardHeaders(r)
	}
	if req.method != catalog.MethodCopyImage {
		staged := int64(0)
		if req.method == catalog.MethodGlanceDirect {
			staged = img.Staging.Size
		}
		if job.MaxSize, err = ip.quota.importLimit(ctx, staged); err != nil {
			return nil, err
		}
	}
	return job, nil
}

// checkImportLock answers 409 while another import holds the image.
func checkImportLock(ctx context.Context, b Backend, img *catalog.Image) error {
	id := img.Properties[catalog.PropImportTask]
	if id == "" {
		return nil
	}
	d, err := b.Doc(ctx, catalog.TaskKind, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil // a lock whose task is gone holds nothing
	}
	if err != nil {
		return err
	}
	t, err := catalog.TaskFromDoc(d)
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
func (ip *importAPI) resolveStores(ctx context.Context, req *importRequest) ([]string, error) {
	all, err := ip.backend.Stores(ctx)
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
		want = []string{catalog.DefaultStore}
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

// storesToCopy drops the stores the image is already in: with
// all_stores they are skipped, otherwise naming one is 400.
func storesToCopy(img *catalog.Image, stores []string, allStores bool) ([]string, error) {
	in := img.InStores()
	var out []string
	for _, id := range stores {
		switch {
		case !slices.Contains(in, id):
			out = append(out, id)
		case !allStores:
			return nil, badRequest("Image is already present at store '%s'", id)
		}
	}
	return out, nil
}
