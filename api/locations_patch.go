package api

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// locationPatch is what the /locations operations of one PATCH asked
// for: whether any ran, and the validation data new to the image.
type locationPatch struct {
	touched bool
	vd      catalog.ValidationData
}

// applyLocationOp applies one /locations operation to img (a clone of
// cur) with Glance's rules. Locations on a queued image are only
// recorded here; updateImage then reads them into the cluster.
func (la *locationAPI) applyLocationOp(r *http.Request, img *catalog.Image, op patchOp, lp *locationPatch) error {
	show := la.backend.LocationSettings().ShowMultipleLocations
	pos := op.pos
	switch op.op {
	case "replace":
		locs, vds, err := parseLocationList(op.value)
		if err != nil {
			return err
		}
		// Glance: with locations already there, a replace may change
		// their metadata only, not which URLs they are; the store
		// locations (derived, last) not even that.
		cur, stored := imageLocations(img), storeLocations(img)
		if len(cur) > 0 && !sameURLs(cur, locs) {
			return badRequest("Original locations is not empty: %s", locationsJSON(cur))
		}
		for _, st := range stored {
			if !slices.ContainsFunc(locs, func(l catalog.Location) bool { return sameLocation(l, st) }) {
				return badRequest("The location %s is where the cluster stores the image's data in store %s: it cannot be changed", st.URL, st.Metadata["store"])
			}
		}
		locs = slices.DeleteFunc(locs, func(l catalog.Location) bool { return isStoreLocation(l.URL) })
		if len(locs) == 0 && len(img.Locations) == 0 {
			locs = img.Locations // nothing but the store locations: no change
		}
		if err := la.checkFiltered(locs); err != nil {
			return err
		}
		if len(locs) == 0 && len(stored) == 0 {
			return &Error{Status: http.StatusForbidden, Explanation: "Cannot set locations to empty list."}
		}
		if !show {
			return &Error{Status: http.StatusForbidden, Explanation: "It's not allowed to update locations if locations are invisible."}
		}
		if img.Status != catalog.StatusActive && img.Status != catalog.StatusQueued {
			return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("It's not allowed to replace locations if image status is %s.", img.Status)}
		}
		if err := mergeValidation(img, lp, vds); err != nil {
			return err
		}
		for i, l := range locs {
			if slices.ContainsFunc(locs[:i], func(o catalog.Location) bool { return o.URL == l.URL }) {
				return badRequest("The location %s already exists", l.URL)
			}
		}
		img.Locations = locs
	case "add":
		locs, vds, err := parseLocationList(json.RawMessage("[" + string(op.value) + "]"))
		if err != nil {
			return err
		}
		if isStoreLocation(locs[0].URL) {
			return badRequest("Invalid location %s: this cloud reads locations over http and https only.", locs[0].URL)
		}
		if err := la.checkFiltered(locs); err != nil {
			return err
		}
		if !show {
			return &Error{Status: http.StatusForbidden, Explanation: "It's not allowed to add locations if locations are invisible."}
		}
		if img.Status != catalog.StatusActive && img.Status != catalog.StatusQueued {
			return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("It's not allowed to add locations if image status is %s.", img.Status)}
		}
		if err := mergeValidation(img, lp, vds); err != nil {
			return err
		}
		at, ok := locationPos(pos, len(imageLocations(img)), true)
		if !ok {
			return badRequest("Invalid position for adding a location.")
		}
		at = min(at, len(img.Locations)) // the store locations stay last
		if slices.ContainsFunc(img.Locations, func(o catalog.Location) bool { return o.URL == locs[0].URL }) {
			return badRequest("The location %s already exists", locs[0].URL)
		}
		img.Locations = slices.Insert(img.Locations, at, locs[0])
	case "remove":
		if err := la.srv.enforce(r.Context(), actDelImageLocation, img); err != nil {
			return err
		}
		if !show {
			return &Error{Status: http.StatusForbidden, Explanation: "It's not allowed to remove locations if locations are invisible."}
		}
		if img.Status != catalog.StatusActive {
			return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("It's not allowed to remove locations if image status is %s.", img.Status)}
		}
		all := imageLocations(img)
		if len(all) == 1 {
			return &Error{Status: http.StatusForbidden, Explanation: "Cannot remove last location in the image."}
		}
		at, ok := locationPos(pos, len(all), false)
		if !ok {
			return badRequest("Invalid position for removing a location.")
		}
		if at >= len(img.Locations) {
			st := all[at].Metadata["store"]
			return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("The location %s is the image's data in store %s; remove it with DELETE /v2/stores/%s/%s.", all[at].URL, st, st, img.ID)}
		}
		img.Locations = slices.Delete(img.Locations, at, at+1)
	}
	lp.touched = true
	return nil
}

// sameURLs reports two location lists with the same URLs, in any order.
func sameURLs(a, b []catalog.Location) bool {
	urls := func(ls []catalog.Location) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = l.URL
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(urls(a), urls(b))
}

// locationPos is Glance's _get_locations_op_pos: "-" is the end (add) or
// the last location (remove), digits an index.
func locationPos(pos string, n int, allowEnd bool) (int, bool) {
	at := n - 1
	if allowEnd {
		at = n
	}
	switch {
	case pos == "-":
	case pos != "" && strings.Trim(pos, "0123456789") == "":
		v, err := strconv.Atoi(pos)
		if err != nil {
			return 0, false
		}
		at = v
	default:
		return 0, false
	}
	if allowEnd {
		return at, at >= 0 && at <= n
	}
	return at, at >= 0 && at < n
}

// checkFiltered refuses locations the cluster may not read (the import
// filter).
func (la *locationAPI) checkFiltered(locs []catalog.Location) error {
	for _, l := range locs {
		if !la.srv.allowedURL(l.URL) {
			return errLocationFiltered(l.URL)
		}
	}
	return nil
}

// parseLocationList decodes a JSON list of locations as the image
// schema describes them: {"url", "metadata", "validation_data"?}. Only
// http and https URLs can be read, and metadata values must be strings.
func parseLocationList(raw json.RawMessage) ([]catalog.Location, []catalog.ValidationData, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, nil, errSchema("%s is not of type 'array'", compactJSON(raw))
	}
	locs := make([]catalog.Location, 0, len(items))
	var vds []catalog.ValidationData
	for _, it := range items {
		if it == nil {
			return nil, nil, errSchema("None is not of type 'object'")
		}
		for _, k := range []string{"url", "metadata"} {
			if _, ok := it[k]; !ok {
				return nil, nil, errSchema("'%s' is a required property", k)
			}
		}
		var l catalog.Location
		if err := json.Unmarshal(it["url"], &l.URL); err != nil {
			return nil, nil, errSchema("%s is not of type 'string'", compactJSON(it["url"]))
		}
		if len(l.URL) > 255 {
			return nil, nil, errSchema("'%s' is too long", l.URL)
		}
		var md map[string]json.RawMessage
		if err := json.Unmarshal(it["metadata"], &md); err != nil || md == nil {
			return nil, nil, errSchema("%s is not of type 'object'", compactJSON(it["metadata"]))
		}
		l.Metadata = make(map[string]string, len(md))
		for k, v := range md {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, nil, badRequest("Location metadata values must be strings here; %q is %s.", k, compactJSON(v))
			}
			l.Metadata[k] = s
		}
		if !isHTTPURL(l.URL) && !isStoreLocation(l.URL) { // a store location: only kept by a replace
			return nil, nil, badRequest("Invalid location %s: this cloud reads locations over http and https only.", l.URL)
		}
		if v, ok := it["validation_data"]; ok {
			vd, err := parseValidation(v, true)
			if err != nil {
				return nil, nil, err
			}
			if vd.OSHashAlgo == "" {
				return nil, nil, errSchema("'os_hash_algo' is a required property")
			}
			vds = append(vds, vd)
		}
		locs = append(locs, l)
	}
	return locs, vds, nil
}

// mergeValidation is Glance's _validate_validation_data: the values must
// agree with each other, with what the image already has, and be new only
// on a queued image; new values are kept in lp for the import to verify.
func mergeValidation(img *catalog.Image, lp *locationPatch, vds []catalog.ValidationData) error {
	conflict := func(format string, args ...any) error {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf(format, args...)}
	}
	merged := lp.vd
	var fresh []string
	for _, vd := range vds {
		for _, f := range []struct {
			name      string
			val       string
			into      *string // the merged value
			fromImage *string // the image's value
		}{
			{"checksum", vd.Checksum, &merged.Checksum, img.Checksum},
			{"os_hash_algo", vd.OSHashAlgo, &merged.OSHashAlgo, img.OSHashAlgo},
			{"os_hash_value", vd.OSHashValue, &merged.OSHashValue, img.OSHashValue},
		} {
			if f.val == "" {
				continue
			}
			if *f.into != "" && *f.into != f.val {
				return conflict("Conflicting values for %s", f.name)
			}
			if f.fromImage != nil && *f.fromImage == f.val {
				continue
			}
			if f.fromImage != nil && *f.fromImage != "" {
				return conflict("%s is already set with a different value", f.name)
			}
			*f.into = f.val
			if !slices.Contains(fresh, f.name) {
				fresh = append(fresh, f.name)
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if img.Status != catalog.StatusQueued {
		return conflict("New value(s) for %s may only be provided when image status is 'queued'", strings.Join(fresh, ", "))
	}
	if merged.Checksum != "" {
		b, err := hex.DecodeString(merged.Checksum)
		if err != nil {
			return conflict("checksum (%s) is not a valid hexadecimal value", merged.Checksum)
		}
		if len(b) != 16 {
			return conflict("checksum (%s) is not the correct size for md5 (should be 16 bytes)", merged.Checksum)
		}
	}
	if merged.OSHashAlgo != "" && merged.OSHashAlgo != "sha512" {
		return conflict("os_hash_algo must be sha512, not %s", merged.OSHashAlgo)
	}
	if err := checkHashValue(merged, http.StatusConflict); err != nil {
		return err
	}
	lp.vd = merged
	return nil
}

// finishLocationPatch ends a PATCH that gave a queued image locations:
// the first location is read into the cluster by a location_import task
// (with the PATCH's other changes committed as the task starts), and the
// PATCH answers once the image is active, or 400 with the reason the
// task failed.
func (la *locationAPI) finishLocationPatch(w http.ResponseWriter, r *http.Request, cur, img *catalog.Image, lp *locationPatch) error {
	ctx := r.Context()
	if err := requireFormats(img); err != nil {
		return err
	}
	if err := checkImportLock(ctx, la.backend, cur); err != nil {
		return err
	}
	maxSize, err := la.quota.importLimit(ctx, 0)
	if err != nil {
		return err
	}
	url := img.Locations[0].URL
	input, _ := json.Marshal(map[string]any{"image_id": img.ID, "loc_url": url, "validation_data": lp.vd})
	job := &catalog.LocationJob{
		ImageID: cur.ID, ImageRevision: cur.Revision, Image: img, URL: url,
		Locations: img.Locations, Validation: lp.vd, MaxSize: maxSize,
	}
	job.Task = newTask(w, r, catalog.TaskTypeLocationImport, input)
	job.Task.ImageID = img.ID
	if err := la.backend.StartLocationImport(ctx, job); err != nil {
		return err
	}
	t, err := la.waitTask(ctx, job.Task.ID)
	if err != nil {
		return err
	}
	if t.Status != catalog.TaskSuccess {
		return badRequest("Invalid location %s: %s", url, t.Message)
	}
	out, err := la.srv.visibleImage(r, img.ID, true)
	if err != nil {
		return err
	}
	return la.srv.writeImage(w, r, http.StatusOK, out)
}
