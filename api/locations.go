package api

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// A location is an external http(s) origin of an image's data. Adding one
// to a queued image (POST /v2/images/{id}/locations, or a PATCH of
// /locations when show_multiple_locations is on) runs a location_import
// task that makes the image active with the location, its size and the
// validation hashes recorded. The first download (or cache warm, prefetch
// or copy) pulls the origin once for the whole cluster, chunks and
// replicates it like an upload and checks it against the recorded size
// and hashes before any byte is served (Backend.PullImage); the cluster's
// chunks serve every later download. A backend may instead read the
// origin when the location is added.

// LocationSettings are the operator's choices Glance calls
// show_multiple_locations and show_image_direct_url (both off by
// default): whether image JSON shows "locations" (and PATCH may change
// them) and "direct_url".
type LocationSettings struct {
	ShowMultipleLocations bool
	ShowImageDirectURL    bool
}

// hashAlgos are the algorithms validation data may name, with their
// digest sizes.
var hashAlgos = map[string]int{"md5": md5.Size, "sha1": sha1.Size, "sha256": sha256.Size, "sha512": sha512.Size}

// locationAPI serves an image's locations: listing and adding them
// (/v2/images/{id}/locations), and the /locations operations of an image
// PATCH, which imageAPI hands over (locations_patch.go).
type locationAPI struct {
	srv     *Server // the shared core: image visibility, policy, image JSON
	backend Backend
	quota   *quotas
}

var _ Extension = (*locationAPI)(nil)

// Routes are the locations routes.
func (la *locationAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/images/{id}/locations", Methods: map[string]HandlerFunc{"GET": la.getLocations, "POST": la.addLocation}, Allow: "GET, POST"},
	}
}

// errLocationSchema is a 400 for a body that fails the location schema.
func errLocationSchema(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Explanation: "Provided object does not match schema 'location': " + fmt.Sprintf(format, args...)}
}

// isHTTPURL reports whether s is an http or https URL with a host: the
// only locations this cluster can read.
func isHTTPURL(s string) bool { return validImportURI(s) }

// errLocationFiltered is the 400 for a location the cluster may not
// read (the import filter).
func errLocationFiltered(url string) *Error {
	return badRequest("Invalid location %s: the URI does not pass filtering.", url)
}

// parseAddLocation decodes and checks the body of POST .../locations.
func parseAddLocation(r *http.Request) (string, catalog.ValidationData, error) {
	var body map[string]json.RawMessage
	var vd catalog.ValidationData
	if err := readJSON(r, &body); err != nil {
		return "", vd, err
	}
	if body == nil {
		return "", vd, &Error{Status: http.StatusBadRequest, Explanation: "Unexpected body type. Expected list/dict."}
	}
	raw, ok := body["url"]
	if !ok {
		return "", vd, errLocationSchema("'url' is a required property")
	}
	var url string
	if err := json.Unmarshal(raw, &url); err != nil {
		return "", vd, errLocationSchema("%s is not of type 'string'", compactJSON(raw))
	}
	if raw, ok := body["validation_data"]; ok {
		var err error
		if vd, err = parseValidation(raw, false); err != nil {
			return "", vd, err
		}
		if err := checkHashValue(vd, http.StatusBadRequest); err != nil {
			return "", vd, err
		}
	}
	return url, vd, nil
}

// parseValidation decodes validation_data: os_hash_algo and os_hash_value
// (both or neither), and checksum when withChecksum (the PATCH form).
func parseValidation(raw json.RawMessage, withChecksum bool) (catalog.ValidationData, error) {
	var vd catalog.ValidationData
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return vd, errLocationSchema("%s is not of type 'object'", compactJSON(raw))
	}
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return vd, errLocationSchema("%s is not of type 'string'", compactJSON(v))
		}
		switch {
		case k == "os_hash_algo":
			if _, ok := hashAlgos[s]; !ok {
				return vd, errLocationSchema("'%s' is not one of ['sha1', 'sha256', 'sha512', 'md5']", s)
			}
			vd.OSHashAlgo = s
		case k == "os_hash_value":
			if len(s) > 128 {
				return vd, errLocationSchema("'%s' is too long", s)
			}
			vd.OSHashValue = s
		case k == "checksum" && withChecksum:
			if len(s) != 32 {
				return vd, errLocationSchema("'%s' is not 32 characters long", s)
			}
			vd.Checksum = s
		default:
			return vd, errLocationSchema("Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	switch {
	case vd.OSHashValue != "" && vd.OSHashAlgo == "":
		return vd, errLocationSchema("'os_hash_algo' is a dependency of 'os_hash_value'")
	case vd.OSHashAlgo != "" && vd.OSHashValue == "":
		return vd, errLocationSchema("'os_hash_value' is a dependency of 'os_hash_algo'")
	}
	return vd, nil
}

// checkHashValue checks that os_hash_value is hex of the algorithm's
// digest size (status: 400 for POST, 409 for PATCH, as in Glance).
func checkHashValue(vd catalog.ValidationData, status int) error {
	if vd.OSHashValue == "" {
		return nil
	}
	b, err := hex.DecodeString(vd.OSHashValue)
	if err != nil {
		return &Error{Status: status, Explanation: fmt.Sprintf("os_hash_value (%s) is not a valid hexadecimal value", vd.OSHashValue)}
	}
	if want := hashAlgos[vd.OSHashAlgo]; len(b) != want {
		return &Error{Status: status, Explanation: fmt.Sprintf("os_hash_value: (%s) is not the correct size for (%s) (should be (%d) bytes)", vd.OSHashValue, vd.OSHashAlgo, want)}
	}
	return nil
}

func compactJSON(raw json.RawMessage) string { return strings.TrimSpace(string(raw)) }

// addLocation serves POST /v2/images/{id}/locations: 202, and a
// location_import task reads the URL into the cluster and activates the
// image.
func (la *locationAPI) addLocation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	url, vd, err := parseAddLocation(r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	err = catalog.RetryOnConflict(ctx, importRetries, nil, func(ctx context.Context) error {
		img, err := la.srv.visibleImage(r, id, true)
		if err != nil {
			return err
		}
		if img.Status != catalog.StatusQueued {
			return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("It's not allowed to add locations if image status is %s.", img.Status)}
		}
		if err := la.srv.enforce(ctx, actAddImageLocation, img); err != nil {
			return err
		}
		if !isHTTPURL(url) {
			if !authFrom(ctx).HasRole("service") {
				return &Error{Status: http.StatusForbidden, Explanation: "http store must be enabled to use location API by normal user."}
			}
			return badRequest("Invalid location %s: this cloud reads locations over http and https only.", url)
		}
		if !la.srv.allowedURL(url) {
			return errLocationFiltered(url)
		}
		if err := requireFormats(img); err != nil {
			return err
		}
		if err := checkImportLock(ctx, la.backend, img); err != nil {
			return err
		}
		maxSize, err := la.quota.importLimit(ctx, 0)
		if err != nil {
			return err
		}
		input, _ := json.Marshal(map[string]any{"image_id": img.ID, "loc_url": url, "validation_data": vd})
		job := &catalog.LocationJob{
			ImageID: img.ID, ImageRevision: img.Revision, URL: url,
			Locations:  []catalog.Location{{URL: url, Metadata: map[string]string{}}},
			Validation: vd, MaxSize: maxSize,
		}
		job.Task = newTask(w, r, catalog.TaskTypeLocationImport, input)
		job.Task.ImageID = img.ID
		return la.backend.StartLocationImport(ctx, job)
	})
	return acceptedOr(w, id, err)
}

// getLocations serves GET /v2/images/{id}/locations (service or admin):
// the image's locations as [{"url", "metadata"}].
func (la *locationAPI) getLocations(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := la.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	if err := la.srv.enforce(r.Context(), actFetchLocation, img); err != nil {
		return err
	}
	return writeRawJSON(w, http.StatusOK, locationsJSON(imageLocations(img)))
}

// locationsJSON renders locations as Glance does: [{"url", "metadata"}].
func locationsJSON(locs []catalog.Location) string {
	items := make([]string, len(locs))
	for i, l := range locs {
		keys := make([]string, 0, len(l.Metadata))
		for k := range l.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		md := newObject()
		for _, k := range keys {
			md.str(k, l.Metadata[k])
		}
		o := newObject()
		o.str("url", l.URL)
		o.raw("metadata", md.close())
		items[i] = o.close()
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// taskPoll is how often waitTask looks at a task.
const taskPoll = 25 * time.Millisecond

// waitTask waits until a task has finished and returns it.
func (la *locationAPI) waitTask(ctx context.Context, id string) (*catalog.Task, error) {
	for {
		d, err := la.backend.Doc(ctx, catalog.TaskKind, id)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			t, err := catalog.TaskFromDoc(d)
			if err != nil {
				return nil, err
			}
			if t.Finished() {
				return t, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(taskPoll):
		}
	}
}
