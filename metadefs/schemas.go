package metadefs

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
)

// The /v2/schemas/metadefs/{name} documents: Glance's metadefs schemas
// (glance/api/v2/metadef_*.py get_schema, get_collection_schema) as
// glance.schema.Schema.raw() and CollectionSchema.raw() render them.

// schemaDocs holds the precomputed bodies, by name.
var schemaDocs = map[string][]byte{
	"namespace":      schemaEncode(itemSchema("namespace", namespaceSchemaProps(), namespaceDefinitions(), "namespace")),
	"namespaces":     schemaEncode(collectionSchema("namespaces", "namespace", namespaceSchemaProps(), namespaceDefinitions(), "array", "namespace")),
	"object":         schemaEncode(itemSchema("object", objectSchemaProps(), namespaceDefinitions(), "name")),
	"objects":        schemaEncode(collectionSchema("objects", "object", objectSchemaProps(), namespaceDefinitions(), "array", "name")),
	"property":       schemaEncode(itemSchema("property", propertySchemaProps(), propertyDefinitions(), "type", "title", "name")),
	"properties":     schemaEncode(collectionSchema("properties", "property", propertySchemaProps(), propertyDefinitions(), "object", "type", "title")),
	"tag":            schemaEncode(itemSchema("tag", tagSchemaProps(), nil, "name")),
	"tags":           schemaEncode(collectionSchema("tags", "tag", tagSchemaProps(), nil, "array", "name")),
	"resource_type":  schemaEncode(itemSchema("resource_type_association", associationSchemaProps(), nil, "name")),
	"resource_types": schemaEncode(collectionSchema("resource_type_associations", "resource_type_association", associationSchemaProps(), nil, "array", "name")),
}

// showSchema serves GET /v2/schemas/metadefs/{name}.
func (s *Service) showSchema(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	body, ok := schemaDocs[mux.Vars(r)["name"]]
	if !ok {
		return api.NewError(http.StatusNotFound, "")
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(body)
	return err
}

// schemaObj is a JSON object whose members keep their order, so the
// schemas list keys in the order Glance's Python dicts do.
type schemaObj []schemaKV

// schemaKV is one member of a schemaObj.
type schemaKV struct {
	k string
	v any
}

// MarshalJSON encodes the members in their order.
func (o schemaObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(kv.k)
		if err != nil {
			return nil, err
		}
		v, err := marshal(kv.v)
		if err != nil {
			return nil, fmt.Errorf("encode schema member %s: %w", kv.k, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// schemaStrings converts a string list to a JSON array.
func schemaStrings(ss ...string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// schemaEncode renders a schema as Glance serves it: json.dumps with its
// default separators. The schemas hold ASCII text only, which
// json.dumps's ensure_ascii leaves as it is. It panics on a value that
// does not encode, a bug in the schemas below.
func schemaEncode(o schemaObj) []byte {
	b, err := marshal(o)
	if err != nil {
		panic(fmt.Errorf("metadefs: encode schema: %w", err))
	}
	return pySpaced(b)
}

// itemSchema is Schema(name, props, required, definitions).raw().
func itemSchema(name string, props, definitions schemaObj, required ...string) schemaObj {
	o := schemaObj{{"name", name}, {"properties", props}, {"additionalProperties", false}}
	if definitions != nil {
		o = append(o, schemaKV{"definitions", definitions})
	}
	return append(o, schemaKV{"required", schemaStrings(required...)})
}

// collectionSchema is CollectionSchema (kind "array") or
// DictCollectionSchema (kind "object") raw(): the item schema without
// its definitions, which move to the collection.
func collectionSchema(name, itemName string, props, definitions schemaObj, kind string, required ...string) schemaObj {
	item := itemSchema(itemName, props, nil, required...)
	member := schemaObj{{"type", "array"}, {"items", item}}
	if kind == "object" {
		member = schemaObj{{"type", "object"}, {"additionalProperties", item}}
	}
	o := schemaObj{
		{"name", name},
		{"properties", schemaObj{
			{name, member},
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
	if definitions != nil {
		o = append(o, schemaKV{"definitions", definitions})
	}
	return o
}

// strSchema, strMaxSchema, stampSchema, refSchema, linkSchema and
// typeEnumSchema are the property schemas the documents repeat.
func strSchema() schemaObj { return schemaObj{{"type", "string"}} }

func strMaxSchema(n int) schemaObj { return schemaObj{{"type", "string"}, {"maxLength", n}} }

func stampSchema(desc string) schemaObj {
	return schemaObj{{"type", "string"}, {"readOnly", true}, {"description", desc}, {"format", "date-time"}}
}

func refSchema(name string) schemaObj { return schemaObj{{"$ref", "#/definitions/" + name}} }

func linkSchema() schemaObj { return schemaObj{{"readOnly", true}, {"type", "string"}} }

func typeEnumSchema() schemaObj {
	return schemaObj{{"type", "string"}, {"enum", append(schemaStrings(propertyTypes...), nil)}}
}

// propertySchemaProps are the attributes of a property definition.
func propertySchemaProps() schemaObj {
	return schemaObj{
		{"name", strMaxSchema(maxName)},
		{"title", strSchema()},
		{"description", strSchema()},
		{"operators", schemaObj{{"type", "array"}, {"items", strSchema()}}},
		{"type", typeEnumSchema()},
		{"required", refSchema("stringArray")},
		{"minimum", schemaObj{{"type", "number"}}},
		{"maximum", schemaObj{{"type", "number"}}},
		{"maxLength", refSchema("positiveInteger")},
		{"minLength", refSchema("positiveIntegerDefault0")},
		{"pattern", schemaObj{{"type", "string"}, {"format", "regex"}}},
		{"enum", schemaObj{{"type", "array"}}},
		{"readonly", schemaObj{{"type", "boolean"}}},
		{"default", schemaObj{}},
		{"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"type", typeEnumSchema()},
			{"enum", schemaObj{{"type", "array"}}},
		}}}},
		{"maxItems", refSchema("positiveInteger")},
		{"minItems", refSchema("positiveIntegerDefault0")},
		{"uniqueItems", schemaObj{{"type", "boolean"}, {"default", false}}},
		{"additionalItems", schemaObj{{"type", "boolean"}}},
	}
}

// countDefinitions are the integer definitions shared by the schemas.
func countDefinitions() schemaObj {
	return schemaObj{
		{"positiveInteger", schemaObj{{"type", "integer"}, {"minimum", 0}}},
		{"positiveIntegerDefault0", schemaObj{{"allOf", []any{refSchema("positiveInteger"), schemaObj{{"default", 0}}}}}},
	}
}

// namespaceDefinitions are the definitions of the namespace and object
// schemas.
func namespaceDefinitions() schemaObj {
	return append(countDefinitions(),
		schemaKV{"stringArray", schemaObj{{"type", "array"}, {"items", strSchema()}, {"uniqueItems", true}}},
		schemaKV{"property", schemaObj{{"type", "object"}, {"additionalProperties", schemaObj{
			{"type", "object"},
			{"required", schemaStrings("title", "type")},
			{"properties", propertySchemaProps()},
		}}}},
	)
}

// propertyDefinitions are the definitions of the property schema.
func propertyDefinitions() schemaObj {
	return append(countDefinitions(),
		schemaKV{"stringArray", schemaObj{{"type", "array"}, {"items", strSchema()}, {"minItems", 1}, {"uniqueItems", true}}},
	)
}

// namespaceSchemaProps are the attributes of a namespace.
func namespaceSchemaProps() schemaObj {
	return schemaObj{
		{"namespace", schemaObj{{"type", "string"}, {"description", "The unique namespace text."}, {"maxLength", maxName}}},
		{"display_name", schemaObj{{"type", "string"}, {"description", "The user friendly name for the namespace. Used by UI if available."}, {"maxLength", maxName}}},
		{"description", schemaObj{{"type", "string"}, {"description", "Provides a user friendly description of the namespace."}, {"maxLength", 500}}},
		{"visibility", schemaObj{{"type", "string"}, {"description", "Scope of namespace accessibility."}, {"enum", schemaStrings(public, private)}}},
		{"protected", schemaObj{{"type", "boolean"}, {"description", "If true, namespace will not be deletable."}}},
		{"owner", schemaObj{{"type", "string"}, {"description", "Owner of the namespace."}, {"maxLength", maxOwner}}},
		{"created_at", stampSchema("Date and time of namespace creation")},
		{"updated_at", stampSchema("Date and time of the last namespace modification")},
		{"schema", linkSchema()},
		{"self", linkSchema()},
		{"resource_type_associations", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", strSchema()}, {"prefix", strSchema()}, {"properties_target", strSchema()},
		}}}}}},
		{"properties", refSchema("property")},
		{"objects", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", strSchema()}, {"description", strSchema()}, {"required", refSchema("stringArray")}, {"properties", refSchema("property")},
		}}}}}},
		{"tags", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", strSchema()},
		}}}}}},
	}
}

// objectSchemaProps are the attributes of an object.
func objectSchemaProps() schemaObj {
	return schemaObj{
		{"name", strMaxSchema(maxName)},
		{"description", strSchema()},
		{"required", refSchema("stringArray")},
		{"properties", refSchema("property")},
		{"schema", linkSchema()},
		{"self", linkSchema()},
		{"created_at", stampSchema("Date and time of object creation")},
		{"updated_at", stampSchema("Date and time of the last object modification")},
	}
}

// tagSchemaProps are the attributes of a tag.
func tagSchemaProps() schemaObj {
	return schemaObj{
		{"name", strMaxSchema(maxName)},
		{"created_at", stampSchema("Date and time of tag creation")},
		{"updated_at", stampSchema("Date and time of the last tag modification")},
	}
}

// associationSchemaProps are the attributes of a resource type
// association.
func associationSchemaProps() schemaObj {
	return schemaObj{
		{"name", schemaObj{{"type", "string"}, {"description", "Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html"}, {"maxLength", maxName}}},
		{"prefix", schemaObj{{"type", "string"}, {"description", "Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :)."}, {"maxLength", maxName}}},
		{"properties_target", schemaObj{{"type", "string"}, {"description", "Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity."}, {"maxLength", maxName}}},
		{"created_at", stampSchema("Date and time of resource type association")},
		{"updated_at", stampSchema("Date and time of the last resource type association modification")},
	}
}
