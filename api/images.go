package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// imageAPI serves the image resource: the image list and create
// (/v2/images), one image (show, PATCH, delete), its data (/file), its
// tags and its actions (deactivate, reactivate).
type imageAPI struct {
	srv       *Server // the shared core: image visibility, policy, image JSON
	backend   Backend
	cache     Cache // counts downloads; nil: no cache at this node
	quota     *quotas
	locations *locationAPI // the /locations operations of a PATCH
	log       *slog.Logger
}

var _ Extension = (*imageAPI)(nil)

// Routes are the image routes.
func (ia *imageAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/images", Methods: map[string]HandlerFunc{"GET": ia.listImages, "POST": ia.createImage}, Allow: "GET, POST"},
		{Path: "/v2/images/{id}", Methods: map[string]HandlerFunc{"GET": ia.showImage, "PATCH": ia.updateImage, "DELETE": ia.deleteImage}, Allow: "GET, PATCH, DELETE"},
		{Path: RouteImageFile, Methods: map[string]HandlerFunc{"GET": ia.downloadImage, "PUT": ia.uploadImage}, Allow: "GET, PUT"},
		{Path: "/v2/images/{id}/tags/{tag}", Methods: map[string]HandlerFunc{"PUT": ia.addTag, "DELETE": ia.deleteTag}, Allow: "PUT, DELETE"},
		{Path: "/v2/images/{id}/actions/deactivate", Methods: map[string]HandlerFunc{"POST": ia.deactivateImage}, Allow: "POST"},
		{Path: "/v2/images/{id}/actions/reactivate", Methods: map[string]HandlerFunc{"POST": ia.reactivateImage}, Allow: "POST"},
	}
}

// createImage serves POST /v2/images.
func (ia *imageAPI) createImage(w http.ResponseWriter, r *http.Request) error {
	a := authFrom(r.Context())
	var raw json.RawMessage
	if err := readJSON(r, &raw); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return errSchema("%s is not of type 'object'", shortJSON(raw))
	}
	now := time.Now().UTC()
	img := &catalog.Image{
		Status:     catalog.StatusQueued,
		Visibility: catalog.VisibilityShared,
		CreatedAt:  now,
		UpdatedAt:  now,
		Tags:       []string{},
	}
	if a.Project != "" {
		p := a.Project
		img.Owner = &p
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := body[k]
		switch {
		case k == "id":
			id, err := decodeString(k, v, false)
			if err != nil {
				return err
			}
			if !uuidPattern.MatchString(*id) {
				return errSchema("'%s' does not match %s (id)", *id, jsonString(uuidPattern.String()))
			}
			img.ID = *id
		case k == "os_hash_algo" || k == "os_hash_value":
			// Glance stores these as shadowed custom properties; ignore.
		case k == "locations":
			return errReserved(k)
		case readOnlyAttrs[k]:
			return errReadOnly(k)
		case isReserved(k):
			return errReserved(k)
		default:
			if err := setAttr(a, img, k, v); err != nil {
				return err
			}
		}
	}
	if err := roleRule(a, actAddImage, "member"); err != nil {
		return err
	}
	if img.ID == "" {
		img.ID = uuid.NewString()
	}
	if err := ia.quota.checkImageCount(r.Context()); err != nil {
		return err
	}
	out, err := ia.backend.CreateImage(r.Context(), img)
	if errors.Is(err, catalog.ErrExists) {
		return &Error{Status: http.StatusConflict, Explanation: "Image with identifier " + img.ID + " already exists!", Err: err}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+"/v2/images/"+out.ID)
	ia.setImportHeaders(r.Context(), w)
	return ia.srv.writeImage(w, r, http.StatusCreated, out)
}

// setImportHeaders adds the headers Glance sends on image create: the
// enabled import methods and the store ids.
func (ia *imageAPI) setImportHeaders(ctx context.Context, w http.ResponseWriter) {
	if m := ia.backend.ImportMethods(); len(m) > 0 {
		w.Header().Set("OpenStack-image-import-methods", strings.Join(m, ","))
	}
	stores, err := ia.backend.Stores(ctx)
	if err != nil || len(stores) == 0 {
		return
	}
	ids := make([]string, len(stores))
	for i, st := range stores {
		ids[i] = st.ID
	}
	w.Header().Set("OpenStack-image-store-ids", strings.Join(ids, ","))
}

// showImage serves GET /v2/images/{id}.
func (ia *imageAPI) showImage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := ia.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	return ia.srv.writeImage(w, r, http.StatusOK, img)
}

// deleteImage serves DELETE /v2/images/{id}.
func (ia *imageAPI) deleteImage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := ia.srv.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := ia.srv.enforce(r.Context(), actDeleteImage, img); err != nil {
		return err
	}
	if img.Protected {
		return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Image %s is protected and cannot be deleted.", img.ID)}
	}
	if err := ia.backend.DeleteImage(r.Context(), img.ID, img.Revision); err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errNotFoundImage(img.ID)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
