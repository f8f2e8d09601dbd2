package api

// What the handlers of every group share: reading a request's body and,
// on the core (Server), the image the caller may see and an image's JSON
// answer with the view it is rendered in.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

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
// 404. With fresh, the local replica first passes a read barrier (before
// a read-modify-write). Without, an id the local replica does not know is
// looked for again after a read barrier, so an image just created through
// another node is found. An image the replica holds but the caller may
// not see is answered 404 at once: a share or a visibility change is the
// owner's write, not the caller's (a client's own writes carry a
// revision: revision.go), and a barrier for every refused read would put
// a scan of other projects' images on the leader.
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

// writeImage answers an image's JSON.
func (s *Server) writeImage(w http.ResponseWriter, r *http.Request, status int, img *catalog.Image) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := io.WriteString(w, imageJSON(img, s.imageView(r.Context())))
	return err
}

// imageView returns the view of this request's images.
func (s *Server) imageView(context.Context) *imageView {
	return &imageView{locations: s.cfg.Backend.LocationSettings()}
}
