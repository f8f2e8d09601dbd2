package api

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// hiddenProperties are stored but never shown (Glance hides them too).
var hiddenProperties = map[string]bool{"os_glance_stage_host": true, "os_glance_hash_op_host": true}

// glanceTime formats a timestamp as Glance does: UTC, seconds, "Z".
func glanceTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// jsonWriter builds a JSON object with keys in a chosen order, using
// Python's json.dumps separators (", " and ": ") as Glance does.
type jsonWriter struct {
	b     strings.Builder
	first bool
}

func newObject() *jsonWriter {
	w := &jsonWriter{first: true}
	w.b.WriteByte('{')
	return w
}

func (w *jsonWriter) key(k string) {
	if !w.first {
		w.b.WriteString(", ")
	}
	w.first = false
	w.b.WriteString(strconv.Quote(k))
	w.b.WriteString(": ")
}

func (w *jsonWriter) raw(k, v string) { w.key(k); w.b.WriteString(v) }

func (w *jsonWriter) str(k, v string) { w.raw(k, jsonString(v)) }

func (w *jsonWriter) strPtr(k string, v *string) {
	if v == nil {
		w.raw(k, "null")
		return
	}
	w.str(k, *v)
}

func (w *jsonWriter) intPtr(k string, v *int64) {
	if v == nil {
		w.raw(k, "null")
		return
	}
	w.raw(k, strconv.FormatInt(*v, 10))
}

func (w *jsonWriter) bool(k string, v bool) { w.raw(k, strconv.FormatBool(v)) }

func (w *jsonWriter) close() string { w.b.WriteByte('}'); return w.b.String() }

// jsonString encodes s as a JSON string (non-ASCII kept as UTF-8).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// imageJSON renders an image as Glance does: custom properties first, then
// the base attributes in Glance's order. v adds what depends on the
// node: locations and direct_url (when the operator shows them) and the
// stores holding the data; nil leaves them out.
func imageJSON(img *catalog.Image, v *imageView) string {
	w := newObject()
	keys := make([]string, 0, len(img.Properties))
	for k := range img.Properties {
		if !hiddenProperties[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.str(k, img.Properties[k])
	}
	w.strPtr("name", img.Name)
	w.strPtr("disk_format", img.DiskFormat)
	w.strPtr("container_format", img.ContainerFormat)
	w.str("visibility", img.Visibility)
	w.intPtr("size", img.Size)
	w.intPtr("virtual_size", img.VirtualSize)
	w.str("status", img.Status)
	w.strPtr("checksum", img.Checksum)
	w.bool("protected", img.Protected)
	w.raw("min_ram", strconv.FormatInt(img.MinRAM, 10))
	w.raw("min_disk", strconv.FormatInt(img.MinDisk, 10))
	w.strPtr("owner", img.Owner)
	w.bool("os_hidden", img.OSHidden)
	w.strPtr("os_hash_algo", img.OSHashAlgo)
	w.strPtr("os_hash_value", img.OSHashValue)
	w.str("id", img.ID)
	w.str("created_at", glanceTime(img.CreatedAt))
	w.str("updated_at", glanceTime(img.UpdatedAt))
	if v != nil && (v.locations.ShowMultipleLocations || v.locations.ShowImageDirectURL) {
		locs := imageLocations(img)
		if v.locations.ShowMultipleLocations {
			w.raw("locations", locationsJSON(locs))
		}
		if v.locations.ShowImageDirectURL && len(locs) > 0 {
			w.str("direct_url", locs[0].URL)
		}
	}
	tags := make([]string, len(img.Tags))
	for i, t := range img.Tags {
		tags[i] = jsonString(t)
	}
	w.raw("tags", "["+strings.Join(tags, ", ")+"]")
	w.str("self", "/v2/images/"+img.ID)
	w.str("file", "/v2/images/"+img.ID+"/file")
	w.str("schema", "/v2/schemas/image")
	if stores := v.storesOf(img); len(stores) > 0 {
		w.str("stores", strings.Join(stores, ","))
	}
	return w.close()
}

// imageView is what an image's JSON depends on besides the image: the
// location settings.
type imageView struct {
	locations LocationSettings
}

// storesOf returns the stores holding an image's data, as the "stores"
// attribute lists them: the stores it was put in (Image.InStores).
func (v *imageView) storesOf(img *catalog.Image) []string {
	if v == nil {
		return nil
	}
	return img.InStores()
}
