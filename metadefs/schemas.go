package metadefs

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/api/schema"
)

// The /v2/schemas/metadefs/{name} documents: Glance's metadefs schemas
// (glance/api/v2/metadef_*.py get_schema, get_collection_schema) as
// glance.schema.Schema.raw() and CollectionSchema.raw() render them,
// written as ordered objects (schema.Object) and encoded as json.dumps
// does (schema.Encode).

// schemaDocs holds the precomputed bodies, by name.
var schemaDocs = map[string][]byte{
	"namespace":      schema.Encode(itemSchema("namespace", namespaceSchemaProps(), namespaceDefinitions(), "namespace")),
	"namespaces":     schema.Encode(collectionSchema("namespaces", "namespace", namespaceSchemaProps(), namespaceDefinitions(), "array", "namespace")),
	"object":         schema.Encode(itemSchema("object", objectSchemaProps(), namespaceDefinitions(), "name")),
	"objects":        schema.Encode(collectionSchema("objects", "object", objectSchemaProps(), namespaceDefinitions(), "array", "name")),
	"property":       schema.Encode(itemSchema("property", propertySchemaProps(), propertyDefinitions(), "type", "title", "name")),
	"properties":     schema.Encode(collectionSchema("properties", "property", propertySchemaProps(), propertyDefinitions(), "object", "type", "title")),
	"tag":            schema.Encode(itemSchema("tag", tagSchemaProps(), nil, "name")),
	"tags":           schema.Encode(collectionSchema("tags", "tag", tagSchemaProps(), nil, "array", "name")),
	"resource_type":  schema.Encode(itemSchema("resource_type_association", associationSchemaProps(), nil, "name")),
	"resource_types": schema.Encode(collectionSchema("resource_type_associations", "resource_type_association", associationSchemaProps(), nil, "array", "name")),
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

// itemSchema is Schema(name, props, required, definitions).raw().
func itemSchema(name string, props, definitions schema.Object, required ...string) schema.Object {
	o := schema.Object{{"name", name}, {"properties", props}, {"additionalProperties", false}}
	if definitions != nil {
		o = append(o, schema.Member{"definitions", definitions})
	}
	return append(o, schema.Member{"required", schema.Strings(required...)})
}

// collectionSchema is CollectionSchema (kind "array") or
// DictCollectionSchema (kind "object") raw(): the item schema without
// its definitions, which move to the collection.
func collectionSchema(name, itemName string, props, definitions schema.Object, kind string, required ...string) schema.Object {
	item := itemSchema(itemName, props, nil, required...)
	member := schema.Object{{"type", "array"}, {"items", item}}
	if kind == "object" {
		member = schema.Object{{"type", "object"}, {"additionalProperties", item}}
	}
	o := schema.Object{
		{"name", name},
		{"properties", schema.Object{
			{name, member},
			{"first", schema.Object{{"type", "string"}}},
			{"next", schema.Object{{"type", "string"}}},
			{"schema", schema.Object{{"type", "string"}}},
		}},
		{"links", []any{
			schema.Object{{"rel", "first"}, {"href", "{first}"}},
			schema.Object{{"rel", "next"}, {"href", "{next}"}},
			schema.Object{{"rel", "describedby"}, {"href", "{schema}"}},
		}},
	}
	if definitions != nil {
		o = append(o, schema.Member{"definitions", definitions})
	}
	return o
}

// strSchema, strMaxSchema, stampSchema, refSchema, linkSchema and
// typeEnumSchema are the property schemas the documents repeat.
func strSchema() schema.Object { return schema.Object{{"type", "string"}} }

func strMaxSchema(n int) schema.Object { return schema.Object{{"type", "string"}, {"maxLength", n}} }

func stampSchema(desc string) schema.Object {
	return schema.Object{{"type", "string"}, {"readOnly", true}, {"description", desc}, {"format", "date-time"}}
}

func refSchema(name string) schema.Object { return schema.Object{{"$ref", "#/definitions/" + name}} }

func linkSchema() schema.Object { return schema.Object{{"readOnly", true}, {"type", "string"}} }

func typeEnumSchema() schema.Object {
	return schema.Object{{"type", "string"}, {"enum", append(schema.Strings(propertyTypes...), nil)}}
}

// propertySchemaProps are the attributes of a property definition.
func propertySchemaProps() schema.Object {
	return schema.Object{
		{"name", strMaxSchema(maxName)},
		{"title", strSchema()},
		{"description", strSchema()},
		{"operators", schema.Object{{"type", "array"}, {"items", strSchema()}}},
		{"type", typeEnumSchema()},
		{"required", refSchema("stringArray")},
		{"minimum", schema.Object{{"type", "number"}}},
		{"maximum", schema.Object{{"type", "number"}}},
		{"maxLength", refSchema("positiveInteger")},
		{"minLength", refSchema("positiveIntegerDefault0")},
		{"pattern", schema.Object{{"type", "string"}, {"format", "regex"}}},
		{"enum", schema.Object{{"type", "array"}}},
		{"readonly", schema.Object{{"type", "boolean"}}},
		{"default", schema.Object{}},
		{"items", schema.Object{{"type", "object"}, {"properties", schema.Object{
			{"type", typeEnumSchema()},
			{"enum", schema.Object{{"type", "array"}}},
		}}}},
		{"maxItems", refSchema("positiveInteger")},
		{"minItems", refSchema("positiveIntegerDefault0")},
		{"uniqueItems", schema.Object{{"type", "boolean"}, {"default", false}}},
		{"additionalItems", schema.Object{{"type", "boolean"}}},
	}
}

// countDefinitions are the integer definitions shared by the schemas.
func countDefinitions() schema.Object {
	return schema.Object{
		{"positiveInteger", schema.Object{{"type", "integer"}, {"minimum", 0}}},
		{"positiveIntegerDefault0", schema.Object{{"allOf", []any{refSchema("positiveInteger"), schema.Object{{"default", 0}}}}}},
	}
}

// namespaceDefinitions are the definitions of the namespace and object
// schemas.
func namespaceDefinitions() schema.Object {
	return append(countDefinitions(),
		schema.Member{"stringArray", schema.Object{{"type", "array"}, {"items", strSchema()}, {"uniqueItems", true}}},
		schema.Member{"property", schema.Object{{"type", "object"}, {"additionalProperties", schema.Object{
			{"type", "object"},
			{"required", schema.Strings("title", "type")},
			{"properties", propertySchemaProps()},
		}}}},
	)
}

// propertyDefinitions are the definitions of the property schema.
func propertyDefinitions() schema.Object {
	return append(countDefinitions(),
		schema.Member{"stringArray", schema.Object{{"type", "array"}, {"items", strSchema()}, {"minItems", 1}, {"uniqueItems", true}}},
	)
}

// namespaceSchemaProps are the attributes of a namespace.
func namespaceSchemaProps() schema.Object {
	return schema.Object{
		{"namespace", schema.Object{{"type", "string"}, {"description", "The unique namespace text."}, {"maxLength", maxName}}},
		{"display_name", schema.Object{{"type", "string"}, {"description", "The user friendly name for the namespace. Used by UI if available."}, {"maxLength", maxName}}},
		{"description", schema.Object{{"type", "string"}, {"description", "Provides a user friendly description of the namespace."}, {"maxLength", 500}}},
		{"visibility", schema.Object{{"type", "string"}, {"description", "Scope of namespace accessibility."}, {"enum", schema.Strings(public, private)}}},
		{"protected", schema.Object{{"type", "boolean"}, {"description", "If true, namespace will not be deletable."}}},
		{"owner", schema.Object{{"type", "string"}, {"description", "Owner of the namespace."}, {"maxLength", maxOwner}}},
		{"created_at", stampSchema("Date and time of namespace creation")},
		{"updated_at", stampSchema("Date and time of the last namespace modification")},
		{"schema", linkSchema()},
		{"self", linkSchema()},
		{"resource_type_associations", schema.Object{{"type", "array"}, {"items", schema.Object{{"type", "object"}, {"properties", schema.Object{
			{"name", strSchema()}, {"prefix", strSchema()}, {"properties_target", strSchema()},
		}}}}}},
		{"properties", refSchema("property")},
		{"objects", schema.Object{{"type", "array"}, {"items", schema.Object{{"type", "object"}, {"properties", schema.Object{
			{"name", strSchema()}, {"description", strSchema()}, {"required", refSchema("stringArray")}, {"properties", refSchema("property")},
		}}}}}},
		{"tags", schema.Object{{"type", "array"}, {"items", schema.Object{{"type", "object"}, {"properties", schema.Object{
			{"name", strSchema()},
		}}}}}},
	}
}

// objectSchemaProps are the attributes of an object.
func objectSchemaProps() schema.Object {
	return schema.Object{
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
func tagSchemaProps() schema.Object {
	return schema.Object{
		{"name", strMaxSchema(maxName)},
		{"created_at", stampSchema("Date and time of tag creation")},
		{"updated_at", stampSchema("Date and time of the last tag modification")},
	}
}

// associationSchemaProps are the attributes of a resource type
// association.
func associationSchemaProps() schema.Object {
	return schema.Object{
		{"name", schema.Object{{"type", "string"}, {"description", "Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html"}, {"maxLength", maxName}}},
		{"prefix", schema.Object{{"type", "string"}, {"description", "Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :)."}, {"maxLength", maxName}}},
		{"properties_target", schema.Object{{"type", "string"}, {"description", "Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity."}, {"maxLength", maxName}}},
		{"created_at", stampSchema("Date and time of resource type association")},
		{"updated_at", stampSchema("Date and time of the last resource type association modification")},
	}
}
