package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// readJSON decodes a request body that must be a JSON object or array,
// at most maxJSONBody bytes of UTF-8.
func readJSON(r *http.Request, v any) error {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("JSON request bodies are limited to %d bytes.", maxJSONBody)}
	if r.ContentLength > maxJSONBody {
		return tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxJSONBody {
		return tooLarge
	}
	if len(body) == 0 {
		return &Error{Status: http.StatusBadRequest, Explanation: "Body expected in request."}
	}
	var probe any
	// Go would take invalid UTF-8 inside strings as U+FFFD; Glance's
	// decoder refuses it as malformed JSON.
	if err := json.Unmarshal(body, &probe); err != nil || !utf8.Valid(body) {
		return &Error{Status: http.StatusBadRequest, Explanation: "Malformed JSON in request body."}
	}
	switch probe.(type) {
	case map[string]any, []any:
	default:
		return &Error{Status: http.StatusBadRequest, Explanation: "Unexpected body type. Expected list/dict."}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Status: http.StatusBadRequest, Explanation: "Malformed JSON in request body."}
	}
	return nil
}

// rejectBody answers 400 when a request that takes no body has one:
// Glance's has_body sees a Content-Length above 0, or a Transfer-Encoding
// on a POST, PUT or PATCH only.
func rejectBody(r *http.Request) error {
	chunked := r.ContentLength < 0 && len(r.TransferEncoding) > 0 &&
		(r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch)
	if r.ContentLength > 0 || chunked {
		return &Error{Status: http.StatusBadRequest, Explanation: "A body is not expected with this request."}
	}
	return nil
}

// visibleImage returns the image if the caller may see it, else Glance's
// 404. A miss in the local replica is retried after Sync, so an image just
// created through another node is found.
func (s *Server) visibleImage(r *http.Request, id string, fresh bool) (*catalog.Image, error) {
	ctx := r.Context()
	if fresh {
		if err := s.cfg.Backend.Sync(ctx); err != nil {
			return nil, err
		}
	}
	img, err := s.cfg.Backend.Image(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) && !fresh {
		if err := s.cfg.Backend.Sync(ctx); err != nil {
			return nil, err
		}
		img, err = s.cfg.Backend.Image(ctx, id)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, errNotFoundImage(id)
	}
	if err != nil {
		return nil, err
	}
	if !allowed(actGetImage, s.subjectFor(ctx, img)) {
		return nil, errNotFoundImage(id)
	}
	return img, nil
}

// createImage serves POST /v2/images.
func (s *Server) createImage(w http.ResponseWriter, r *http.Request) error {
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
	if err := s.quota.checkImageCount(r.Context()); err != nil {
		return err
	}
	out, err := s.cfg.Backend.CreateImage(r.Context(), img)
	if errors.Is(err, catalog.ErrExists) {
		return &Error{Status: http.StatusConflict, Explanation: "Image with identifier " + img.ID + " already exists!", Err: err}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+"/v2/images/"+out.ID)
	s.setImportHeaders(r.Context(), w)
	return s.writeImage(w, r, http.StatusCreated, out)
}

// writeImage answers an image's JSON.
func (s *Server) writeImage(w http.ResponseWriter, r *http.Request, status int, img *catalog.Image) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := io.WriteString(w, imageJSON(img, s.imageView(r.Context())))
	return err
}

// showImage serves GET /v2/images/{id}.
func (s *Server) showImage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := s.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	return s.writeImage(w, r, http.StatusOK, img)
}

// deleteImage serves DELETE /v2/images/{id}.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := s.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := s.enforce(r.Context(), actDeleteImage, img); err != nil {
		return err
	}
	if img.Protected {
		return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Image %s is protected and cannot be deleted.", img.ID)}
	}
	if err := s.cfg.Backend.DeleteImage(r.Context(), img.ID, img.Revision); err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errNotFoundImage(img.ID)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
