package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// uploadImage serves PUT /v2/images/{id}/file.
func (ia *imageAPI) uploadImage(w http.ResponseWriter, r *http.Request) error {
	if err := requireOctetStream(r); err != nil {
		return err
	}
	sizeHint, err := imageSizeHint(r)
	if err != nil {
		return err
	}
	store := r.Header.Get("X-Image-Meta-Store")
	if err := ia.checkUploadStore(r.Context(), store); err != nil {
		return err
	}
	img, err := ia.srv.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := ia.srv.enforce(r.Context(), actUploadImage, img); err != nil {
		return err
	}
	if img.Status != catalog.StatusQueued {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Image status transition from %s to saving is not allowed", img.Status)}
	}
	if err := requireFormats(img); err != nil {
		return err
	}
	limit, err := ia.quota.dataLimit(r.Context(), quotaImageSize, sizeHint)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if _, err := ia.upload(r.Context(), img, body, sizeHint, store); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("upload: %w", catalog.ErrTooLarge)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkUploadStore checks the X-Image-Meta-Store of an upload: "" (none)
// or a known store, else 400 as Glance answers an unknown scheme.
func (ia *imageAPI) checkUploadStore(ctx context.Context, store string) error {
	if store == "" {
		return nil
	}
	stores, err := ia.backend.Stores(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(stores, func(st catalog.Store) bool { return st.ID == store }) {
		return badRequest("Unknown scheme '%s' found in URI", store)
	}
	return nil
}

// upload stores an upload's data: in the default store (R copies
// anywhere), or with one copy in the zone of store (X-Image-Meta-Store).
func (ia *imageAPI) upload(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64, store string) (*catalog.Image, error) {
	if store == "" || store == catalog.DefaultStore {
		return ia.backend.Upload(ctx, img, r, sizeHint)
	}
	return ia.backend.UploadToStore(ctx, img, r, sizeHint, store)
}

// requireOctetStream is Glance's check of an upload's or a stage's
// Content-Type: application/octet-stream (parameters aside), else 415
// naming the type sent ("None" when there is none).
func requireOctetStream(r *http.Request) error {
	ct := "None"
	if vs, ok := r.Header["Content-Type"]; ok && len(vs) > 0 {
		ct, _, _ = strings.Cut(vs[0], ";")
		ct = strings.TrimSpace(ct)
	}
	if strings.EqualFold(ct, "application/octet-stream") {
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Detail: "Invalid content type " + ct}
}

// requireFormats is Glance's check before data is saved.
func requireFormats(img *catalog.Image) error {
	var missing []string
	if img.DiskFormat == nil {
		missing = append(missing, "disk_format")
	}
	if img.ContainerFormat == nil {
		missing = append(missing, "container_format")
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return badRequest("Property %s must be set prior to saving data.", missing[0])
	}
	return badRequest("Properties %s must be set prior to saving data.", strings.Join(missing, ", "))
}

// downloadImage serves GET /v2/images/{id}/file, with Range support.
func (ia *imageAPI) downloadImage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	a := authFrom(r.Context())
	img, err := ia.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	if img.Manifest == nil && img.Status != catalog.StatusActive {
		// The image may have just become active through another node.
		if img, err = ia.srv.visibleImage(r, img.ID, true); err != nil {
			return err
		}
	}
	if err := ia.srv.enforce(r.Context(), actDownloadImage, img); err != nil {
		return err
	}
	if img.Status == catalog.StatusDeactivated && !a.Admin {
		return &Error{Status: http.StatusForbidden, Explanation: "The requested image has been deactivated. Image data download is forbidden."}
	}
	if img.Manifest == nil && len(img.Locations) > 0 {
		// Data only at the image's locations: pulled (once, cluster
		// wide) and verified before any byte is served.
		if img, err = ia.backend.PullImage(r.Context(), img); err != nil {
			return err
		}
	}
	if img.Manifest == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	size := img.Manifest.Size
	off, n, partial, err := parseRange(r, size)
	if err != nil {
		return err
	}
	body, err := ia.backend.OpenImage(r.Context(), img, off, n)
	if err != nil {
		return err
	}
	defer body.Close()
	if c := ia.cache; c != nil {
		c.RecordDownload(img.ID)
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if img.Checksum != nil {
		h.Set("Content-MD5", *img.Checksum)
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
	}
	w.WriteHeader(status)
	sent, err := io.Copy(w, body)
	if hook := ia.srv.cfg.ImageSent; hook != nil {
		hook(r.Context(), img, a.Project, a.User, sent, n)
	}
	if err != nil {
		// Headers are gone: abort the connection so the client sees a
		// truncated transfer, never a short body taken as complete.
		ia.log.Warn("download aborted", "image", img.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// parseRange reads a Range (or legacy Content-Range) request header.
func parseRange(r *http.Request, size int64) (off, n int64, partial bool, err error) {
	spec := r.Header.Get("Range")
	if spec == "" {
		if cr := r.Header.Get("Content-Range"); cr != "" {
			spec = legacyRange(cr)
			if spec == "" {
				return 0, 0, false, rangeNotSatisfiable(size)
			}
		}
	}
	if spec == "" {
		return 0, size, false, nil
	}
	rest, ok := strings.CutPrefix(spec, "bytes=")
	if !ok {
		return 0, 0, false, rangeNotSatisfiable(size)
	}
	if strings.Contains(rest, ",") {
		return 0, 0, false, badRequest("Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.")
	}
	first, lastStr, ok := strings.Cut(strings.TrimSpace(rest), "-")
	if !ok {
		return 0, 0, false, rangeNotSatisfiable(size)
	}
	if first == "" {
		k, err := strconv.ParseInt(lastStr, 10, 64)
		if err != nil || k <= 0 {
			return 0, 0, false, rangeNotSatisfiable(size)
		}
		k = min(k, size)
		return size - k, k, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false, rangeNotSatisfiable(size)
	}
	end := size - 1
	if lastStr != "" {
		e, err := strconv.ParseInt(lastStr, 10, 64)
		if err != nil || e < start {
			return 0, 0, false, rangeNotSatisfiable(size)
		}
		end = min(e, size-1)
	}
	return start, end - start + 1, true, nil
}

// legacyRange turns "bytes a-b/*" into "bytes=a-b".
func legacyRange(cr string) string {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return ""
	}
	rng, _, _ := strings.Cut(rest, "/")
	return "bytes=" + rng
}

func rangeNotSatisfiable(size int64) *Error {
	return &Error{
		Status: http.StatusRequestedRangeNotSatisfiable,
		Header: http.Header{"Content-Range": []string{fmt.Sprintf("bytes */%d", size)}},
	}
}
