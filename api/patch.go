package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// JSON-patch media types Glance accepts on PATCH /v2/images/{id}.
const (
	patchV20 = "application/openstack-images-v2.0-json-patch"
	patchV21 = "application/openstack-images-v2.1-json-patch"
)

// patchOp is one decoded change, whichever media type carried it.
type patchOp struct {
	op    string // add, remove, replace
	path  string // the attribute (depth-1 pointer, decoded)
	value json.RawMessage
}

// parsePatch decodes and checks a JSON-patch body in either media type.
func parsePatch(r *http.Request, mediaType string) ([]patchOp, error) {
	var raw []map[string]json.RawMessage
	if err := readJSON(r, &raw); err != nil {
		if e, ok := err.(*Error); ok && e.Status == http.StatusBadRequest && strings.HasPrefix(e.Explanation, "Malformed") {
			return nil, &Error{Status: http.StatusBadRequest, Explanation: "Request body must be a JSON array of operation objects."}
		}
		return nil, err
	}
	ops := make([]patchOp, 0, len(raw))
	for _, m := range raw {
		if m == nil {
			return nil, &Error{Status: http.StatusBadRequest, Explanation: "Operations must be JSON objects."}
		}
		var op patchOp
		var pathRaw json.RawMessage
		if mediaType == patchV21 {
			if err := json.Unmarshal(m["op"], &op.op); err != nil || m["op"] == nil {
				return nil, &Error{Status: http.StatusBadRequest, Explanation: "Unable to find 'op' in JSON Schema change"}
			}
			pathRaw = m["path"]
			if pathRaw == nil {
				return nil, &Error{Status: http.StatusBadRequest, Explanation: "Unable to find 'path' in JSON Schema change"}
			}
		} else {
			n := 0
			for _, k := range []string{"add", "remove", "replace"} {
				if v, ok := m[k]; ok {
					op.op, pathRaw = k, v
					n++
				}
			}
			if n != 1 {
				return nil, &Error{Status: http.StatusBadRequest, Explanation: "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\"."}
			}
		}
		switch op.op {
		case "add", "remove", "replace":
		default:
			return nil, &Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf("Invalid operation: `%s`: Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".", op.op)}
		}
		var ptr string
		if err := json.Unmarshal(pathRaw, &ptr); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Explanation: "Json path should start with a '/', end with no '/', no 2 subsequent '/' are allowed."}
		}
		path, err := decodePointer(ptr)
		if err != nil {
			return nil, err
		}
		op.path = path
		if op.op != "remove" {
			v, ok := m["value"]
			if !ok {
				return nil, &Error{Status: http.StatusBadRequest, Explanation: "Unable to find 'value' in JSON Schema change"}
			}
			op.value = v
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// decodePointer checks a JSON pointer of depth 1 and decodes it.
func decodePointer(ptr string) (string, error) {
	bad := &Error{Status: http.StatusBadRequest, Explanation: "Json path should start with a '/', end with no '/', no 2 subsequent '/' are allowed."}
	if !strings.HasPrefix(ptr, "/") || strings.HasSuffix(ptr, "/") || strings.Contains(ptr, "//") {
		return "", bad
	}
	parts := strings.Split(ptr[1:], "/")
	if len(parts) != 1 {
		return "", &Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf("Invalid JSON pointer for this resource: '%s'", ptr)}
	}
	p := parts[0]
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 >= len(p) || (p[i+1] != '0' && p[i+1] != '1')) {
			return "", &Error{Status: http.StatusBadRequest, Explanation: "Pointer contains '~' not part of a recognized escape sequence."}
		}
	}
	p = strings.ReplaceAll(p, "~1", "/")
	return strings.ReplaceAll(p, "~0", "~"), nil
}

// updateImage serves PATCH /v2/images/{id}.
func (s *Server) updateImage(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != patchV20 && ct != patchV21 {
		e := &Error{Status: http.StatusUnsupportedMediaType}
		e.Header = http.Header{"Accept-Patch": []string{patchV20 + ", " + patchV21}}
		return e
	}
	a := authFrom(r.Context())
	ops, err := parsePatch(r, ct)
	if err != nil {
		return err
	}
	cur, err := s.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := s.enforce(r.Context(), actModifyImage, cur); err != nil {
		return err
	}
	img := cur.Clone()
	for _, op := range ops {
		if err := applyPatchOp(a, img, op, ct); err != nil {
			return err
		}
	}
	img.UpdatedAt = time.Now().UTC()
	out, err := s.cfg.Backend.UpdateImage(r.Context(), img, cur.Revision)
	if err != nil {
		return err
	}
	return writeImage(w, http.StatusOK, out)
}

// applyPatchOp applies one change to img with Glance's rules.
func applyPatchOp(a *Auth, img *raftfsm.Image, op patchOp, mediaType string) error {
	key := op.path
	switch {
	case key == "locations":
		return &Error{Status: http.StatusForbidden, Explanation: "It's not allowed to update locations if locations are invisible."}
	case readOnlyAttrs[key]:
		return errReadOnly(key)
	case isReserved(key):
		return errReserved(key)
	}
	if (key == "disk_format" || key == "container_format") && img.Status != raftfsm.StatusQueued && img.Status != raftfsm.StatusImporting {
		return &Error{Status: http.StatusForbidden, Detail: fmt.Sprintf("Attribute %s can be only replaced for a queued image.", key)}
	}
	base := baseAttrs[key]
	_, exists := img.Properties[key]
	switch op.op {
	case "remove":
		if base {
			return &Error{Status: http.StatusForbidden, Detail: fmt.Sprintf("Property %s may not be removed.", key)}
		}
		if !exists {
			return &Error{Status: http.StatusConflict, Detail: fmt.Sprintf("Property %s does not exist.", key)}
		}
		delete(img.Properties, key)
		return nil
	case "replace":
		if !base && !exists {
			return &Error{Status: http.StatusConflict, Detail: fmt.Sprintf("Property %s does not exist.", key)}
		}
	case "add":
		// The draft-4 add refuses any key the image already has, base
		// attributes included (Glance's hasattr check).
		if mediaType == patchV20 && (base || exists) {
			return &Error{Status: http.StatusConflict, Detail: fmt.Sprintf("Property %s already present.", key)}
		}
	}
	if key == "owner" && !a.Admin {
		return &Error{Status: http.StatusForbidden, Detail: "Owner can't be updated by non admin."}
	}
	return setAttr(a, img, key, op.value)
}
