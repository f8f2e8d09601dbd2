package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// Validation of metadefs request bodies against Glance's schemas
// (glance/api/v2/metadef_*.py get_schema): unknown keys, types, enums,
// lengths and required keys, with jsonschema-like messages.

// mdSchemaError is Glance's 400 for a body its schema refuses.
func mdSchemaError(schema, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf("Provided object does not match schema '%s': ", schema) + fmt.Sprintf(format, args...)}
}

// mdPropertyTypes is the enum of a property's (and items') type.
var mdPropertyTypes = []string{"array", "boolean", "integer", "number", "object", "string"}

// mdPropertyKeys are the keys a property definition may have: those of
// Glance's property schema plus "confidential" (a PropertyType field).
// "required" is accepted and dropped, as Glance's PropertyType does.
var mdPropertyKeys = []string{
	"name", "title", "description", "operators", "type", "required", "minimum", "maximum",
	"maxLength", "minLength", "pattern", "enum", "readonly", "default", "items", "maxItems",
	"minItems", "uniqueItems", "additionalItems", "confidential",
}

// mdFields checks a JSON object's members against its allowed keys and
// returns them by key. allowed nil allows any key.
func mdFields(schema string, raw json.RawMessage, allowed []string) (map[string]json.RawMessage, error) {
	kvs, ok := mdObjectKVs(raw)
	if !ok {
		return nil, mdSchemaError(schema, "%s is not of type 'object'", mdShort(raw))
	}
	out := make(map[string]json.RawMessage, len(kvs))
	for _, kv := range kvs {
		if allowed != nil && !slices.Contains(allowed, kv.key) {
			return nil, mdSchemaError(schema, "Additional properties are not allowed ('%s' was unexpected)", kv.key)
		}
		out[kv.key] = kv.val
	}
	return out, nil
}

// mdShort returns a JSON value's text for a message, cut to 80 bytes.
func mdShort(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// mdString decodes a string member of at most maxLen characters (0: no
// limit). A JSON null counts as absent.
func mdString(schema string, m map[string]json.RawMessage, key string, maxLen int) (*string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'string'", mdShort(raw))
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		return nil, mdSchemaError(schema, "'%s' is too long", s)
	}
	return &s, nil
}

// mdName decodes a required, non-empty name of at most mdMaxName
// characters.
func mdName(schema string, m map[string]json.RawMessage, key string) (string, error) {
	s, err := mdString(schema, m, key, mdMaxName)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", mdSchemaError(schema, "'%s' is a required property", key)
	}
	if *s == "" {
		return "", mdSchemaError(schema, "'' is too short")
	}
	return *s, nil
}

// mdBool decodes a boolean member; null counts as absent.
func mdBool(schema string, m map[string]json.RawMessage, key string) (*bool, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'boolean'", mdShort(raw))
	}
	return &b, nil
}

// mdNumber checks a number member and returns it as given.
func mdNumber(schema string, m map[string]json.RawMessage, key string) (json.RawMessage, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var n json.Number
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &n) != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'number'", mdShort(raw))
	}
	return json.RawMessage(n.String()), nil
}

// mdCount decodes a non-negative integer member.
func mdCount(schema string, m map[string]json.RawMessage, key string) (*int64, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var n json.Number
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &n) != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'integer'", mdShort(raw))
	}
	i, err := n.Int64()
	if err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'integer'", mdShort(raw))
	}
	if i < 0 {
		return nil, mdSchemaError(schema, "%d is less than the minimum of 0", i)
	}
	return &i, nil
}

// mdArray checks an array member and returns it as given.
func mdArray(schema string, m map[string]json.RawMessage, key string) (json.RawMessage, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
	}
	return b.Bytes(), nil
}

// mdStrings decodes an array of strings; unique requires distinct items.
func mdStrings(schema string, m map[string]json.RawMessage, key string, unique bool) (*[]string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
	}
	out := make([]string, 0, len(a))
	for _, item := range a {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || isNull(item) {
			return nil, mdSchemaError(schema, "%s is not of type 'string'", mdShort(item))
		}
		if unique && slices.Contains(out, s) {
			return nil, mdSchemaError(schema, "%s has non-unique elements", mdShort(raw))
		}
		out = append(out, s)
	}
	return &out, nil
}

// mdTypeEnum decodes a required member whose value is one of the property
// types.
func mdTypeEnum(schema string, m map[string]json.RawMessage, key string) (string, error) {
	s, err := mdString(schema, m, key, 0)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", mdSchemaError(schema, "'%s' is a required property", key)
	}
	if !slices.Contains(mdPropertyTypes, *s) {
		return "", mdSchemaError(schema, "'%s' is not one of %s", *s, pyList(mdPropertyTypes))
	}
	return *s, nil
}

// mdParseProperty validates a property definition. requireName is set for
// a property on its own (POST/PUT .../properties), where the name is in
// the body rather than the key of a map.
func mdParseProperty(schema string, raw json.RawMessage, requireName bool) (*mdProperty, error) {
	m, err := mdFields(schema, raw, mdPropertyKeys)
	if err != nil {
		return nil, err
	}
	p := &mdProperty{}
	// The schema's required list: type, title (and name on its own).
	for _, k := range []string{"type", "title"} {
		if raw, ok := m[k]; !ok || isNull(raw) {
			return nil, mdSchemaError(schema, "'%s' is a required property", k)
		}
	}
	if requireName {
		if p.Name, err = mdName(schema, m, "name"); err != nil {
			return nil, err
		}
	} else if _, err := mdString(schema, m, "name", mdMaxName); err != nil {
		return nil, err
	}
	if p.Type, err = mdTypeEnum(schema, m, "type"); err != nil {
		return nil, err
	}
	title, err := mdString(schema, m, "title", 0)
	if err != nil {
		return nil, err
	}
	p.Title = *title
	if p.Description, err = mdString(schema, m, "description", 0); err != nil {
		return nil, err
	}
	if p.Operators, err = mdStrings(schema, m, "operators", false); err != nil {
		return nil, err
	}
	if _, err := mdStrings(schema, m, "required", true); err != nil {
		return nil, err
	}
	if raw, ok := m["default"]; ok && !isNull(raw) {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, mdSchemaError(schema, "invalid default")
		}
		p.Default = b.Bytes()
	}
	if p.Readonly, err = mdBool(schema, m, "readonly"); err != nil {
		return nil, err
	}
	if p.Minimum, err = mdNumber(schema, m, "minimum"); err != nil {
		return nil, err
	}
	if p.Maximum, err = mdNumber(schema, m, "maximum"); err != nil {
		return nil, err
	}
	if p.Enum, err = mdArray(schema, m, "enum"); err != nil {
		return nil, err
	}
	if p.Pattern, err = mdString(schema, m, "pattern", 0); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		key string
		dst **int64
	}{{"minLength", &p.MinLength}, {"maxLength", &p.MaxLength}, {"minItems", &p.MinItems}, {"maxItems", &p.MaxItems}} {
		if *c.dst, err = mdCount(schema, m, c.key); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		key string
		dst **bool
	}{{"confidential", &p.Confidential}, {"uniqueItems", &p.UniqueItems}, {"additionalItems", &p.AdditionalItems}} {
		if *c.dst, err = mdBool(schema, m, c.key); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["items"]; ok && !isNull(raw) {
		im, err := mdFields(schema, raw, nil)
		if err != nil {
			return nil, err
		}
		items := &mdItems{}
		if s, err := mdString(schema, im, "type", 0); err != nil {
			return nil, err
		} else if s != nil {
			if !slices.Contains(mdPropertyTypes, *s) {
				return nil, mdSchemaError(schema, "'%s' is not one of %s", *s, pyList(mdPropertyTypes))
			}
			items.Type = *s
		}
		if items.Enum, err = mdArray(schema, im, "enum"); err != nil {
			return nil, err
		}
		p.Items = items
	}
	return p, nil
}

// mdParseProps validates a map of property definitions (the "properties"
// of a namespace or an object).
func mdParseProps(schema string, raw json.RawMessage) (mdProps, error) {
	kvs, ok := mdObjectKVs(raw)
	if !ok {
		return nil, mdSchemaError(schema, "%s is not of type 'object'", mdShort(raw))
	}
	out := make(mdProps, 0, len(kvs))
	for _, kv := range kvs {
		if utf8.RuneCountInString(kv.key) > mdMaxName || kv.key == "" {
			return nil, mdSchemaError(schema, "invalid property name '%s'", kv.key)
		}
		p, err := mdParseProperty(schema, kv.val, false)
		if err != nil {
			return nil, err
		}
		p.Name = kv.key
		out = append(out, *p)
	}
	return out, nil
}

// mdParseObject validates an object definition (on its own or inside a
// namespace body); its times are set to now.
func mdParseObject(raw json.RawMessage, now time.Time) (*mdObject, error) {
	const schema = "object"
	m, err := mdFields(schema, raw, []string{"name", "description", "required", "properties", "schema", "self", "created_at", "updated_at"})
	if err != nil {
		return nil, err
	}
	o := &mdObject{CreatedAt: now, UpdatedAt: now}
	if o.Name, err = mdName(schema, m, "name"); err != nil {
		return nil, err
	}
	if o.Description, err = mdString(schema, m, "description", 0); err != nil {
		return nil, err
	}
	if o.Required, err = mdStrings(schema, m, "required", true); err != nil {
		return nil, err
	}
	if raw, ok := m["properties"]; ok && !isNull(raw) {
		props, err := mdParseProps(schema, raw)
		if err != nil {
			return nil, err
		}
		o.Properties = &props
	}
	return o, nil
}

// mdParseTag validates a tag body ({"name": ...}).
func mdParseTag(raw json.RawMessage, allowStamps bool) (string, error) {
	allowed := []string{"name"}
	if allowStamps {
		allowed = append(allowed, "created_at", "updated_at")
	}
	m, err := mdFields("tag", raw, allowed)
	if err != nil {
		return "", err
	}
	return mdName("tag", m, "name")
}

// mdParseAssociation validates a resource type association.
func mdParseAssociation(raw json.RawMessage, allowStamps bool, now time.Time) (*mdAssociation, error) {
	const schema = "resource_type_association"
	allowed := []string{"name", "prefix", "properties_target"}
	if allowStamps {
		allowed = append(allowed, "created_at", "updated_at")
	}
	m, err := mdFields(schema, raw, allowed)
	if err != nil {
		return nil, err
	}
	a := &mdAssociation{CreatedAt: now, UpdatedAt: now}
	if a.Name, err = mdName(schema, m, "name"); err != nil {
		return nil, err
	}
	if a.Prefix, err = mdString(schema, m, "prefix", mdMaxName); err != nil {
		return nil, err
	}
	if a.PropertiesTarget, err = mdString(schema, m, "properties_target", mdMaxName); err != nil {
		return nil, err
	}
	return a, nil
}

// mdNamespaceKeys are the keys of Glance's namespace schema.
var mdNamespaceKeys = []string{
	"namespace", "display_name", "description", "visibility", "protected", "owner", "created_at",
	"updated_at", "schema", "self", "resource_type_associations", "properties", "objects", "tags",
}

// mdParseNamespace validates a namespace body (POST, PUT, metadefs
// files). Duplicate objects, tags or associations in it are a 409, as
// Glance's database refuses them. owner is empty when the body has none.
func mdParseNamespace(body map[string]json.RawMessage, now time.Time) (*mdNamespace, error) {
	const schema = "namespace"
	for k := range body {
		if !slices.Contains(mdNamespaceKeys, k) {
			return nil, mdSchemaError(schema, "Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	ns := &mdNamespace{Visibility: mdPrivate, CreatedAt: now, UpdatedAt: now}
	var err error
	if ns.Namespace, err = mdName(schema, body, "namespace"); err != nil {
		return nil, err
	}
	if ns.DisplayName, err = mdString(schema, body, "display_name", mdMaxName); err != nil {
		return nil, err
	}
	if ns.Description, err = mdString(schema, body, "description", 500); err != nil {
		return nil, err
	}
	vis, err := mdString(schema, body, "visibility", 0)
	if err != nil {
		return nil, err
	}
	if vis != nil {
		if *vis != mdPublic && *vis != mdPrivate {
			return nil, mdSchemaError(schema, "'%s' is not one of ['public', 'private']", *vis)
		}
		ns.Visibility = *vis
	}
	if p, err := mdBool(schema, body, "protected"); err != nil {
		return nil, err
	} else if p != nil {
		ns.Protected = *p
	}
	if ns.Owner, err = mdString(schema, body, "owner", maxStringLen); err != nil {
		return nil, err
	}
	if raw, ok := body["resource_type_associations"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
		}
		for _, item := range items {
			a, err := mdParseAssociation(item, true, now)
			if err != nil {
				return nil, err
			}
			if mdFindAssociation(ns, a.Name) >= 0 {
				return nil, &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, ns.Namespace)}
			}
			ns.Associations = append(ns.Associations, *a)
		}
	}
	if raw, ok := body["properties"]; ok && !isNull(raw) {
		if ns.Properties, err = mdParseProps(schema, raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := body["objects"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
		}
		for _, item := range items {
			o, err := mdParseObject(item, now)
			if err != nil {
				return nil, err
			}
			if mdFindObject(ns, o.Name) >= 0 {
				return nil, mdDupObject(o.Name, ns.Namespace)
			}
			ns.Objects = append(ns.Objects, *o)
		}
	}
	if raw, ok := body["tags"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, mdSchemaError(schema, "%s is not of type 'array'", mdShort(raw))
		}
		for _, item := range items {
			name, err := mdParseTag(item, true)
			if err != nil {
				return nil, err
			}
			if mdTagTaken(ns, name, -1) {
				return nil, mdDupTag(name, ns.Namespace)
			}
			ns.Tags = append(ns.Tags, mdTag{Name: name, CreatedAt: now, UpdatedAt: now})
		}
	}
	return ns, nil
}
