package api

import (
	"slices"
	"strconv"
	"strings"
)

// diskFormats are the accepted disk_format values (Glance's default
// [image_format] disk_formats), in Glance's order.
var diskFormats = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}

// containerFormats are the accepted container_format values (Glance's
// default [image_format] container_formats), in Glance's order.
var containerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}

// schemaObj is a JSON object whose keys keep their insertion order, so the
// documents we serve list keys in the order Glance's Python dicts do.
type schemaObj []schemaKV

// schemaKV is one member of a schemaObj.
type schemaKV struct {
	k string
	v any
}

// schemaDocs holds the precomputed bodies served at /v2/schemas/{name}.
var schemaDocs = map[string][]byte{
	"image":   schemaEncode(imageSchemaDoc()),
	"images":  schemaEncode(imagesSchemaDoc()),
	"member":  schemaEncode(memberSchemaDoc()),
	"members": schemaEncode(membersSchemaDoc()),
	"task":    schemaEncode(taskSchemaDoc()),
	"tasks":   schemaEncode(tasksSchemaDoc()),
}

// schemaJSON returns the body served at /v2/schemas/{name} for name in
// image, images, member, members, task, tasks, and false for any other
// name. The bytes are shared: callers must not modify them.
func schemaJSON(name string) ([]byte, bool) {
	b, ok := schemaDocs[name]
	return b, ok
}

// imageSchema returns a fresh copy of the /v2/schemas/image document
// (objects as map[string]any, arrays as []any), for validation and for
// building responses.
func imageSchema() map[string]any {
	return schemaToAny(imageSchemaDoc()).(map[string]any)
}

// imageSchemaDoc is Glance's image schema (glance.schema.PermissiveSchema
// "image".raw()): base properties followed by the stock custom properties
// of etc/schema-image.json, any other property a string.
func imageSchemaDoc() schemaObj {
	props := imageBaseProperties()
	props = append(props, imageCustomProperties()...)
	return schemaObj{
		{"name", "image"},
		{"properties", props},
		{"additionalProperties", schemaObj{{"type", "string"}}},
		{"links", []any{
			schemaObj{{"rel", "self"}, {"href", "{self}"}},
			schemaObj{{"rel", "enclosure"}, {"href", "{file}"}},
			schemaObj{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// imagesSchemaDoc is Glance's CollectionSchema("images").raw().
func imagesSchemaDoc() schemaObj {
	return schemaObj{
		{"name", "images"},
		{"properties", schemaObj{
			{"images", schemaObj{{"type", "array"}, {"items", imageSchemaDoc()}}},
			{"first", schemaObj{{"type", "string"}}},
			{"next", schemaObj{{"type", "string"}}},
			{"schema", schemaObj{{"type", "string"}}},
		}},
		{"links", []any{
			schemaObj{{"rel", "first"}, {"href", "{first}"}},
			schemaObj{{"rel", "next"}, {"href", "{next}"}},
			schemaObj{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// schemaMinimalCollection is Glance's CollectionSchema(name).minimal(), as
// served for members and tasks: items is the item schema's minimal() form.
func schemaMinimalCollection(name string, item schemaObj) schemaObj {
	return schemaObj{
		{"name", name},
		{"properties", schemaObj{
			{name, schemaObj{{"type", "array"}, {"items", item}}},
			{"schema", schemaObj{{"type", "string"}}},
		}},
		{"links", []any{
			schemaObj{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// schemaUUIDPattern is the UUID pattern Glance uses for ids.
const schemaUUIDPattern = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}" +
	"-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

// schemaNullable returns the JSON-schema type list ["null", typ].
func schemaNullable(typ string) []any { return []any{"null", typ} }

// schemaFormatEnum returns [null, formats...], the enum of a format property.
func schemaFormatEnum(formats []string) []any {
	e := make([]any, 0, len(formats)+1)
	e = append(e, nil)
	for _, f := range formats {
		e = append(e, f)
	}
	return e
}

// schemaStrings converts a string list to a JSON array.
func schemaStrings(ss ...string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// schemaEncode serialises v like Python's json.dumps with its default
// separators (", " and ": ") and ensure_ascii. v may hold schemaObj,
// map[string]any (keys sorted), []any, []string, string, bool, int, int64,
// float64 and nil.
func schemaEncode(v any) []byte {
	var b strings.Builder
	schemaEncodeTo(&b, v)
	return []byte(b.String())
}

func schemaEncodeTo(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case string:
		b.WriteString(jsonQuoteASCII(t))
	case schemaObj:
		b.WriteByte('{')
		for i, kv := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(jsonQuoteASCII(kv.k))
			b.WriteString(": ")
			schemaEncodeTo(b, kv.v)
		}
		b.WriteByte('}')
	case map[string]any:
		schemaEncodeTo(b, schemaSortedObj(t))
	case []string:
		schemaEncodeTo(b, schemaStrings(t...))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			schemaEncodeTo(b, e)
		}
		b.WriteByte(']')
	default:
		panic("api: schemaEncode: unsupported type")
	}
}

// schemaSortedObj turns a map into a schemaObj with sorted keys.
func schemaSortedObj(m map[string]any) schemaObj {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := make(schemaObj, len(keys))
	for i, k := range keys {
		o[i] = schemaKV{k, m[k]}
	}
	return o
}

// schemaToAny deep-converts schemaObj values to map[string]any and copies
// arrays, so callers get a value they may freely modify.
func schemaToAny(v any) any {
	switch t := v.(type) {
	case schemaObj:
		m := make(map[string]any, len(t))
		for _, kv := range t {
			m[kv.k] = schemaToAny(kv.v)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = schemaToAny(e)
		}
		return a
	case []string:
		return schemaStrings(t...)
	default:
		return v
	}
}
