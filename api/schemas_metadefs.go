package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// The /v2/schemas/metadefs/{name} documents: Glance's metadefs schemas
// (glance/api/v2/metadef_*.py get_schema, get_collection_schema) as
// glance.schema.Schema.raw() and CollectionSchema.raw() render them.

// mdSchemaDocs holds the precomputed bodies, by name.
var mdSchemaDocs = map[string][]byte{
	"namespace":      schemaEncode(mdItemSchema("namespace", mdNamespaceSchemaProps(), mdNamespaceDefinitions(), "namespace")),
	"namespaces":     schemaEncode(mdCollectionSchema("namespaces", "namespace", mdNamespaceSchemaProps(), mdNamespaceDefinitions(), "array", "namespace")),
	"object":         schemaEncode(mdItemSchema("object", mdObjectSchemaProps(), mdNamespaceDefinitions(), "name")),
	"objects":        schemaEncode(mdCollectionSchema("objects", "object", mdObjectSchemaProps(), mdNamespaceDefinitions(), "array", "name")),
	"property":       schemaEncode(mdItemSchema("property", mdPropertySchemaProps(), mdPropertyDefinitions(), "type", "title", "name")),
	"properties":     schemaEncode(mdCollectionSchema("properties", "property", mdPropertySchemaProps(), mdPropertyDefinitions(), "object", "type", "title")),
	"tag":            schemaEncode(mdItemSchema("tag", mdTagSchemaProps(), nil, "name")),
	"tags":           schemaEncode(mdCollectionSchema("tags", "tag", mdTagSchemaProps(), nil, "array", "name")),
	"resource_type":  schemaEncode(mdItemSchema("resource_type_association", mdAssociationSchemaProps(), nil, "name")),
	"resource_types": schemaEncode(mdCollectionSchema("resource_type_associations", "resource_type_association", mdAssociationSchemaProps(), nil, "array", "name")),
}

// mdShowSchema serves GET /v2/schemas/metadefs/{name}.
func (s *Server) mdShowSchema(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	body, ok := mdSchemaDocs[mux.Vars(r)["name"]]
	if !ok {
		return NewError(http.StatusNotFound, "")
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(body)
	return err
}

// mdItemSchema is Schema(name, props, required, definitions).raw().
func mdItemSchema(name string, props, definitions schemaObj, required ...string) schemaObj {
	o := schemaObj{{"name", name}, {"properties", props}, {"additionalProperties", false}}
	if definitions != nil {
		o = append(o, schemaKV{"definitions", definitions})
	}
	return append(o, schemaKV{"required", schemaStrings(required...)})
}

// mdCollectionSchema is CollectionSchema (kind "array") or
// DictCollectionSchema (kind "object") raw(): the item schema without
// its definitions, which move to the collection.
func mdCollectionSchema(name, itemName string, props, definitions schemaObj, kind string, required ...string) schemaObj {
	item := mdItemSchema(itemName, props, nil, required...)
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

func mdStr() schemaObj { return schemaObj{{"type", "string"}} }

func mdStrMax(n int) schemaObj { return schemaObj{{"type", "string"}, {"maxLength", n}} }

func mdStamp(desc string) schemaObj {
	return schemaObj{{"type", "string"}, {"readOnly", true}, {"description", desc}, {"format", "date-time"}}
}

func mdRef(name string) schemaObj { return schemaObj{{"$ref", "#/definitions/" + name}} }

func mdLinkProp() schemaObj { return schemaObj{{"readOnly", true}, {"type", "string"}} }

func mdTypeEnumSchema() schemaObj {
	return schemaObj{{"type", "string"}, {"enum", append(schemaStrings(mdPropertyTypes...), nil)}}
}

// mdPropertySchemaProps are the attributes of a property definition.
func mdPropertySchemaProps() schemaObj {
	return schemaObj{
		{"name", mdStrMax(mdMaxName)},
		{"title", mdStr()},
		{"description", mdStr()},
		{"operators", schemaObj{{"type", "array"}, {"items", mdStr()}}},
		{"type", mdTypeEnumSchema()},
		{"required", mdRef("stringArray")},
		{"minimum", schemaObj{{"type", "number"}}},
		{"maximum", schemaObj{{"type", "number"}}},
		{"maxLength", mdRef("positiveInteger")},
		{"minLength", mdRef("positiveIntegerDefault0")},
		{"pattern", schemaObj{{"type", "string"}, {"format", "regex"}}},
		{"enum", schemaObj{{"type", "array"}}},
		{"readonly", schemaObj{{"type", "boolean"}}},
		{"default", schemaObj{}},
		{"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"type", mdTypeEnumSchema()},
			{"enum", schemaObj{{"type", "array"}}},
		}}}},
		{"maxItems", mdRef("positiveInteger")},
		{"minItems", mdRef("positiveIntegerDefault0")},
		{"uniqueItems", schemaObj{{"type", "boolean"}, {"default", false}}},
		{"additionalItems", schemaObj{{"type", "boolean"}}},
	}
}

// mdCountDefinitions are the integer definitions shared by the schemas.
func mdCountDefinitions() schemaObj {
	return schemaObj{
		{"positiveInteger", schemaObj{{"type", "integer"}, {"minimum", 0}}},
		{"positiveIntegerDefault0", schemaObj{{"allOf", []any{mdRef("positiveInteger"), schemaObj{{"default", 0}}}}}},
	}
}

// mdNamespaceDefinitions are the definitions of the namespace and object
// schemas.
func mdNamespaceDefinitions() schemaObj {
	return append(mdCountDefinitions(),
		schemaKV{"stringArray", schemaObj{{"type", "array"}, {"items", mdStr()}, {"uniqueItems", true}}},
		schemaKV{"property", schemaObj{{"type", "object"}, {"additionalProperties", schemaObj{
			{"type", "object"},
			{"required", schemaStrings("title", "type")},
			{"properties", mdPropertySchemaProps()},
		}}}},
	)
}

// mdPropertyDefinitions are the definitions of the property schema.
func mdPropertyDefinitions() schemaObj {
	return append(mdCountDefinitions(),
		schemaKV{"stringArray", schemaObj{{"type", "array"}, {"items", mdStr()}, {"minItems", 1}, {"uniqueItems", true}}},
	)
}

func mdNamespaceSchemaProps() schemaObj {
	return schemaObj{
		{"namespace", schemaObj{{"type", "string"}, {"description", "The unique namespace text."}, {"maxLength", mdMaxName}}},
		{"display_name", schemaObj{{"type", "string"}, {"description", "The user friendly name for the namespace. Used by UI if available."}, {"maxLength", mdMaxName}}},
		{"description", schemaObj{{"type", "string"}, {"description", "Provides a user friendly description of the namespace."}, {"maxLength", 500}}},
		{"visibility", schemaObj{{"type", "string"}, {"description", "Scope of namespace accessibility."}, {"enum", schemaStrings(mdPublic, mdPrivate)}}},
		{"protected", schemaObj{{"type", "boolean"}, {"description", "If true, namespace will not be deletable."}}},
		{"owner", schemaObj{{"type", "string"}, {"description", "Owner of the namespace."}, {"maxLength", maxStringLen}}},
		{"created_at", mdStamp("Date and time of namespace creation")},
		{"updated_at", mdStamp("Date and time of the last namespace modification")},
		{"schema", mdLinkProp()},
		{"self", mdLinkProp()},
		{"resource_type_associations", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", mdStr()}, {"prefix", mdStr()}, {"properties_target", mdStr()},
		}}}}}},
		{"properties", mdRef("property")},
		{"objects", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", mdStr()}, {"description", mdStr()}, {"required", mdRef("stringArray")}, {"properties", mdRef("property")},
		}}}}}},
		{"tags", schemaObj{{"type", "array"}, {"items", schemaObj{{"type", "object"}, {"properties", schemaObj{
			{"name", mdStr()},
		}}}}}},
	}
}

func mdObjectSchemaProps() schemaObj {
	return schemaObj{
		{"name", mdStrMax(mdMaxName)},
		{"description", mdStr()},
		{"required", mdRef("stringArray")},
		{"properties", mdRef("property")},
		{"schema", mdLinkProp()},
		{"self", mdLinkProp()},
		{"created_at", mdStamp("Date and time of object creation")},
		{"updated_at", mdStamp("Date and time of the last object modification")},
	}
}

func mdTagSchemaProps() schemaObj {
	return schemaObj{
		{"name", mdStrMax(mdMaxName)},
		{"created_at", mdStamp("Date and time of tag creation")},
		{"updated_at", mdStamp("Date and time of the last tag modification")},
	}
}

func mdAssociationSchemaProps() schemaObj {
	return schemaObj{
		{"name", schemaObj{{"type", "string"}, {"description", "Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html"}, {"maxLength", mdMaxName}}},
		{"prefix", schemaObj{{"type", "string"}, {"description", "Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :)."}, {"maxLength", mdMaxName}}},
		{"properties_target", schemaObj{{"type", "string"}, {"description", "Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity."}, {"maxLength", mdMaxName}}},
		{"created_at", mdStamp("Date and time of resource type association")},
		{"updated_at", mdStamp("Date and time of the last resource type association modification")},
	}
}
