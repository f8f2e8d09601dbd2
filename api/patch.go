package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
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
	pos   string // the position of /locations/<pos> (add, remove)
	value json.RawMessage
}

// patchOps are the JSON-patch operations Glance supports.
var patchOps = []string{"add", "remove", "replace"}

// parsePatch decodes and checks a JSON-patch body in either media type,
// as Glance's deserializer does before it looks the image up: the body's
// shape, each operation and pointer, then read-only and reserved paths
// (403) and the values' types (400).
func parsePatch(r *http.Request, mediaType string) ([]patchOp, error) {
	var doc json.RawMessage
	if err := readJSON(r, &doc); err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, badRequest("Request body must be a JSON array of operation objects.")
	}
	ops := make([]patchOp, 0, len(raw))
	for _, item := range raw {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil || m == nil {
			return nil, badRequest("Operations must be JSON objects.")
		}
		var op patchOp
		var pathRaw json.RawMessage
		if mediaType == patchV21 {
			rawOp, ok := m["op"]
			if !ok || isNull(rawOp) {
				return nil, badRequest("Unable to find `op` in JSON Schema change. It must be one of the following: %s.", strings.Join(patchOps, ", "))
			}
			if json.Unmarshal(rawOp, &op.op) != nil || !slices.Contains(patchOps, op.op) {
				return nil, badRequest("Invalid operation: `%s`. It must be one of the following: %s.", jsonText(rawOp), strings.Join(patchOps, ", "))
			}
			if pathRaw, ok = m["path"]; !ok {
				return nil, badRequest("Unable to find 'path' in JSON Schema change")
			}
		} else {
			for _, k := range patchOps {
				if v, ok := m[k]; ok {
					if op.op != "" {
						return nil, badRequest("Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".")
					}
					op.op, pathRaw = k, v
				}
			}
			if op.op == "" {
				return nil, badRequest("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".")
			}
		}
		path, err := decodePointer(jsonText(pathRaw))
		if err != nil {
			return nil, err
		}
		// Only /locations/<index> (add, remove) goes deeper than one.
		depth := 1
		if path[0] == "locations" && op.op != "replace" {
			depth = 2
		}
		if len(path) != depth {
			return nil, badRequest("Invalid JSON pointer for this resource: '/%s'", strings.Join(path, "/"))
		}
		op.path = path[0]
		if len(path) == 2 {
			op.pos = path[1]
		}
		if op.op != "remove" {
			v, ok := m["value"]
			if !ok {
				return nil, badRequest("Operation \"%s\" requires a member named \"value\".", op.op)
			}
			op.value = v
		}
		if err := validatePatchOp(op); err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// jsonText is a JSON value as Glance's messages show it: a string's
// content, or else the JSON text.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return shortJSON(raw)
}

// validatePatchOp is Glance's _validate_change: read-only and reserved
// roots (403), then the value against the image schema (400). Rules that
// need the image (policy, status, existing properties) come later, in
// applyPatchOp.
func validatePatchOp(op patchOp) error {
	switch key := op.path; {
	case readOnlyAttrs[key]:
		return errReadOnly(key)
	case isReserved(key):
		return errReserved(key)
	case op.op == "remove" || key == "locations":
		return nil
	}
	scratch := &catalog.Image{}
	return setAttr(&Auth{Admin: true}, scratch, op.path, op.value)
}

var (
	pointerAdjacent = regexp.MustCompile(`/\s*?/`)
	pointerBadTilde = regexp.MustCompile(`~[^01]`)
)

// decodePointer checks a JSON pointer as Glance does (messages included)
// and returns its decoded, trimmed parts.
func decodePointer(ptr string) ([]string, error) {
	bad := func(why string) error { return badRequest("Pointer `%s` %s", ptr, why) }
	switch {
	case !strings.HasPrefix(ptr, "/"):
		return nil, bad(`does not start with "/".`)
	case pointerAdjacent.MatchString(ptr[1:]):
		return nil, bad(`contains adjacent "/".`)
	case len(ptr) > 1 && strings.HasSuffix(ptr, "/"):
		return nil, bad(`end with "/".`)
	case strings.TrimSpace(ptr[1:]) == "/":
		return nil, bad("does not contains valid token.")
	case pointerBadTilde.MatchString(ptr) || strings.HasSuffix(ptr, "~"):
		return nil, bad(`contains "~" not part of a recognized escape sequence.`)
	}
	parts := strings.Split(strings.TrimLeft(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~"))
	}
	return parts, nil
}

// updateImage serves PATCH /v2/images/{id}.
func (ia *imageAPI) updateImage(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != patchV20 && ct != patchV21 {
		return &Error{
			Status: http.StatusUnsupportedMediaType,
			Detail: "Image PATCH expects Content-Type one of: " + patchV20 + ", " + patchV21,
			Header: http.Header{"Accept-Patch": []string{patchV20 + ", " + patchV21}},
		}
	}
	a := authFrom(r.Context())
	ops, err := parsePatch(r, ct)
	if err != nil {
		return err
	}
	cur, err := ia.srv.visibleImage(r, mux.Vars(r)["id"], true)
	if err != nil {
		return err
	}
	if err := ia.srv.enforce(r.Context(), actModifyImage, cur); err != nil {
		return err
	}
	img := cur.Clone()
	var lp locationPatch
	for _, op := range ops {
		if op.path == "locations" {
			err = ia.locations.applyLocationOp(r, img, op, &lp)
		} else {
			err = applyPatchOp(a, img, op, ct)
		}
		if err != nil {
			return err
		}
	}
	img.UpdatedAt = time.Now().UTC()
	if lp.touched && cur.Status == catalog.StatusQueued && len(img.Locations) > 0 {
		return ia.locations.finishLocationPatch(w, r, cur, img, &lp)
	}
	out, err := ia.backend.UpdateImage(r.Context(), img, cur.Revision)
	if err != nil {
		return err
	}
	return ia.srv.writeImage(w, r, http.StatusOK, out)
}

// applyPatchOp applies one change to img with Glance's rules.
func applyPatchOp(a *Auth, img *catalog.Image, op patchOp, mediaType string) error {
	key := op.path
	switch {
	case key == "locations":
		return &Error{Status: http.StatusForbidden, Explanation: "It's not allowed to update locations if locations are invisible."}
	case readOnlyAttrs[key]:
		return errReadOnly(key)
	case isReserved(key):
		return errReserved(key)
	}
	if (key == "disk_format" || key == "container_format") && img.Status != catalog.StatusQueued && img.Status != catalog.StatusImporting {
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
