package schema

// DiskFormats are the accepted disk_format values (Glance's default
// [image_format] disk_formats), in Glance's order.
var DiskFormats = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}

// ContainerFormats are the accepted container_format values (Glance's
// default [image_format] container_formats), in Glance's order.
var ContainerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}

// docs holds the precomputed bodies served at /v2/schemas/{name}.
var docs = map[string][]byte{
	"image":   Encode(imageDoc()),
	"images":  Encode(imagesDoc()),
	"member":  Encode(memberDoc()),
	"members": Encode(membersDoc()),
	"task":    Encode(taskDoc()),
	"tasks":   Encode(tasksDoc()),
}

// JSON returns the body served at /v2/schemas/{name} for name in image,
// images, member, members, task, tasks, and false for any other name. The
// bytes are shared: callers must not modify them.
func JSON(name string) ([]byte, bool) {
	b, ok := docs[name]
	return b, ok
}

// imageDoc is Glance's image schema (glance.schema.PermissiveSchema
// "image".raw()): base properties followed by the stock custom properties
// of etc/schema-image.json, any other property a string.
func imageDoc() Object {
	props := imageBaseProperties()
	props = append(props, imageCustomProperties()...)
	return Object{
		{"name", "image"},
		{"properties", props},
		{"additionalProperties", Object{{"type", "string"}}},
		{"links", []any{
			Object{{"rel", "self"}, {"href", "{self}"}},
			Object{{"rel", "enclosure"}, {"href", "{file}"}},
			Object{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// imagesDoc is Glance's CollectionSchema("images").raw().
func imagesDoc() Object {
	return Object{
		{"name", "images"},
		{"properties", Object{
			{"images", Object{{"type", "array"}, {"items", imageDoc()}}},
			{"first", Object{{"type", "string"}}},
			{"next", Object{{"type", "string"}}},
			{"schema", Object{{"type", "string"}}},
		}},
		{"links", []any{
			Object{{"rel", "first"}, {"href", "{first}"}},
			Object{{"rel", "next"}, {"href", "{next}"}},
			Object{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// minimalCollection is Glance's CollectionSchema(name).minimal(), as
// served for members and tasks: items is the item schema's minimal() form.
func minimalCollection(name string, item Object) Object {
	return Object{
		{"name", name},
		{"properties", Object{
			{name, Object{{"type", "array"}, {"items", item}}},
			{"schema", Object{{"type", "string"}}},
		}},
		{"links", []any{
			Object{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
}

// uuidPattern is the UUID pattern Glance uses for ids.
const uuidPattern = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}" +
	"-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

// nullable returns the JSON-schema type list ["null", typ].
func nullable(typ string) []any { return []any{"null", typ} }

// formatEnum returns [null, formats...], the enum of a format property.
func formatEnum(formats []string) []any {
	e := make([]any, 0, len(formats)+1)
	e = append(e, nil)
	for _, f := range formats {
		e = append(e, f)
	}
	return e
}
