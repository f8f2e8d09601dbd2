package metadefs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/p2pglance/p2pglance/api"
)

// Validation of metadefs request bodies against Glance's schemas
// (glance/api/v2/metadef_*.py get_schema): unknown keys, types, enums,
// lengths and required keys, with jsonschema-like messages.

// schemaError is Glance's 400 for a body its schema refuses.
func schemaError(schema, format string, args ...any) *api.Error {
	return &api.Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf("Provided object does not match schema '%s': ", schema) + fmt.Sprintf(format, args...)}
}

// isNull reports whether a JSON value is null.
func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// pyList renders strings as Python prints a list of them.
func pyList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// propertyTypes is the enum of a property's (and items') type.
var propertyTypes = []string{"array", "boolean", "integer", "number", "object", "string"}

// propertyKeys are the keys a property definition may have: those of
// Glance's property schema plus "confidential" (a PropertyType field).
// "required" is accepted and dropped, as Glance's PropertyType does.
var propertyKeys = []string{
	"name", "title", "description", "operators", "type", "required", "minimum", "maximum",
	"maxLength", "minLength", "pattern", "enum", "readonly", "default", "items", "maxItems",
	"minItems", "uniqueItems", "additionalItems", "confidential",
}

// fields checks a JSON object's members against its allowed keys and
// returns them by key. allowed nil allows any key.
func fields(schema string, raw json.RawMessage, allowed []string) (map[string]json.RawMessage, error) {
	kvs, ok := objectKVs(raw)
	if !ok {
		return nil, schemaError(schema, "%s is not of type 'object'", short(raw))
	}
	out := make(map[string]json.RawMessage, len(kvs))
	for _, kv := range kvs {
		if allowed != nil && !slices.Contains(allowed, kv.key) {
			return nil, schemaError(schema, "Additional properties are not allowed ('%s' was unexpected)", kv.key)
		}
		out[kv.key] = kv.val
	}
	return out, nil
}

// short returns a JSON value's text for a message, cut to 80 bytes.
func short(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// stringField decodes a string member of at most maxLen characters (0: no
// limit). A JSON null counts as absent.
func stringField(schema string, m map[string]json.RawMessage, key string, maxLen int) (*string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, schemaError(schema, "%s is not of type 'string'", short(raw))
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		return nil, schemaError(schema, "'%s' is too long", s)
	}
	return &s, nil
}

// nameField decodes a required, non-empty name of at most maxName
// characters.
func nameField(schema string, m map[string]json.RawMessage, key string) (string, error) {
	s, err := stringField(schema, m, key, maxName)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", schemaError(schema, "'%s' is a required property", key)
	}
	if *s == "" {
		return "", schemaError(schema, "'' is too short")
	}
	return *s, nil
}

// boolField decodes a boolean member; null counts as absent.
func boolField(schema string, m map[string]json.RawMessage, key string) (*bool, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, schemaError(schema, "%s is not of type 'boolean'", short(raw))
	}
	return &b, nil
}

// numberField checks a number member and returns it as given.
func numberField(schema string, m map[string]json.RawMessage, key string) (json.RawMessage, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var n json.Number
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &n) != nil {
		return nil, schemaError(schema, "%s is not of type 'number'", short(raw))
	}
	return json.RawMessage(n.String()), nil
}

// countField decodes a non-negative integer member.
func countField(schema string, m map[string]json.RawMessage, key string) (*int64, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var n json.Number
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &n) != nil {
		return nil, schemaError(schema, "%s is not of type 'integer'", short(raw))
	}
	i, err := n.Int64()
	if err != nil {
		return nil, schemaError(schema, "%s is not of type 'integer'", short(raw))
	}
	if i < 0 {
		return nil, schemaError(schema, "%d is less than the minimum of 0", i)
	}
	return &i, nil
}

// arrayField checks an array member and returns it as given.
func arrayField(schema string, m map[string]json.RawMessage, key string) (json.RawMessage, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
	}
	return b.Bytes(), nil
}

// stringsField decodes an array of strings; unique requires distinct items.
func stringsField(schema string, m map[string]json.RawMessage, key string, unique bool) (*[]string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
	}
	out := make([]string, 0, len(a))
	for _, item := range a {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || isNull(item) {
			return nil, schemaError(schema, "%s is not of type 'string'", short(item))
		}
		if unique && slices.Contains(out, s) {
			return nil, schemaError(schema, "%s has non-unique elements", short(raw))
		}
		out = append(out, s)
	}
	return &out, nil
}

// typeField decodes a required member whose value is one of the property
// types.
func typeField(schema string, m map[string]json.RawMessage, key string) (string, error) {
	s, err := stringField(schema, m, key, 0)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", schemaError(schema, "'%s' is a required property", key)
	}
	if !slices.Contains(propertyTypes, *s) {
		return "", schemaError(schema, "'%s' is not one of %s", *s, pyList(propertyTypes))
	}
	return *s, nil
}

// parseProperty validates a property definition. requireName is set for
// a property on its own (POST/PUT .../properties), where the name is in
// the body rather than the key of a map.
func parseProperty(schema string, raw json.RawMessage, requireName bool) (*property, error) {
	m, err := fields(schema, raw, propertyKeys)
	if err != nil {
		return nil, err
	}
	p := &property{}
	// The schema's required list: type, title (and name on its own).
	for _, k := range []string{"type", "title"} {
		if raw, ok := m[k]; !ok || isNull(raw) {
			return nil, schemaError(schema, "'%s' is a required property", k)
		}
	}
	if requireName {
		if p.Name, err = nameField(schema, m, "name"); err != nil {
			return nil, err
		}
	} else if _, err := stringField(schema, m, "name", maxName); err != nil {
		return nil, err
	}
	if p.Type, err = typeField(schema, m, "type"); err != nil {
		return nil, err
	}
	title, err := stringField(schema, m, "title", 0)
	if err != nil {
		return nil, err
	}
	p.Title = *title
	if p.Description, err = stringField(schema, m, "description", 0); err != nil {
		return nil, err
	}
	if p.Operators, err = stringsField(schema, m, "operators", false); err != nil {
		return nil, err
	}
	if _, err := stringsField(schema, m, "required", true); err != nil {
		return nil, err
	}
	if raw, ok := m["default"]; ok && !isNull(raw) {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, schemaError(schema, "invalid default")
		}
		p.Default = b.Bytes()
	}
	if p.Readonly, err = boolField(schema, m, "readonly"); err != nil {
		return nil, err
	}
	if p.Minimum, err = numberField(schema, m, "minimum"); err != nil {
		return nil, err
	}
	if p.Maximum, err = numberField(schema, m, "maximum"); err != nil {
		return nil, err
	}
	if p.Enum, err = arrayField(schema, m, "enum"); err != nil {
		return nil, err
	}
	if p.Pattern, err = stringField(schema, m, "pattern", 0); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		key string
		dst **int64
	}{{"minLength", &p.MinLength}, {"maxLength", &p.MaxLength}, {"minItems", &p.MinItems}, {"maxItems", &p.MaxItems}} {
		if *c.dst, err = countField(schema, m, c.key); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		key string
		dst **bool
	}{{"confidential", &p.Confidential}, {"uniqueItems", &p.UniqueItems}, {"additionalItems", &p.AdditionalItems}} {
		if *c.dst, err = boolField(schema, m, c.key); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["items"]; ok && !isNull(raw) {
		im, err := fields(schema, raw, nil)
		if err != nil {
			return nil, err
		}
		items := &itemsDef{}
		if s, err := stringField(schema, im, "type", 0); err != nil {
			return nil, err
		} else if s != nil {
			if !slices.Contains(propertyTypes, *s) {
				return nil, schemaError(schema, "'%s' is not one of %s", *s, pyList(propertyTypes))
			}
			items.Type = *s
		}
		if items.Enum, err = arrayField(schema, im, "enum"); err != nil {
			return nil, err
		}
		p.Items = items
	}
	return p, nil
}

// parseProperties validates a map of property definitions (the "properties"
// of a namespace or an object).
func parseProperties(schema string, raw json.RawMessage) (properties, error) {
	kvs, ok := objectKVs(raw)
	if !ok {
		return nil, schemaError(schema, "%s is not of type 'object'", short(raw))
	}
	out := make(properties, 0, len(kvs))
	for _, kv := range kvs {
		if utf8.RuneCountInString(kv.key) > maxName || kv.key == "" {
			return nil, schemaError(schema, "invalid property name '%s'", kv.key)
		}
		p, err := parseProperty(schema, kv.val, false)
		if err != nil {
			return nil, err
		}
		p.Name = kv.key
		out = append(out, *p)
	}
	return out, nil
}

// parseObject validates an object definition (on its own or inside a
// namespace body); its times are set to now.
func parseObject(raw json.RawMessage, now time.Time) (*object, error) {
	const schema = "object"
	m, err := fields(schema, raw, []string{"name", "description", "required", "properties", "schema", "self", "created_at", "updated_at"})
	if err != nil {
		return nil, err
	}
	o := &object{CreatedAt: now, UpdatedAt: now}
	if o.Name, err = nameField(schema, m, "name"); err != nil {
		return nil, err
	}
	if o.Description, err = stringField(schema, m, "description", 0); err != nil {
		return nil, err
	}
	if o.Required, err = stringsField(schema, m, "required", true); err != nil {
		return nil, err
	}
	if raw, ok := m["properties"]; ok && !isNull(raw) {
		props, err := parseProperties(schema, raw)
		if err != nil {
			return nil, err
		}
		o.Properties = &props
	}
	return o, nil
}

// parseTag validates a tag body ({"name": ...}).
func parseTag(raw json.RawMessage, allowStamps bool) (string, error) {
	allowed := []string{"name"}
	if allowStamps {
		allowed = append(allowed, "created_at", "updated_at")
	}
	m, err := fields("tag", raw, allowed)
	if err != nil {
		return "", err
	}
	return nameField("tag", m, "name")
}

// parseAssociation validates a resource type association.
func parseAssociation(raw json.RawMessage, allowStamps bool, now time.Time) (*association, error) {
	const schema = "resource_type_association"
	allowed := []string{"name", "prefix", "properties_target"}
	if allowStamps {
		allowed = append(allowed, "created_at", "updated_at")
	}
	m, err := fields(schema, raw, allowed)
	if err != nil {
		return nil, err
	}
	a := &association{CreatedAt: now, UpdatedAt: now}
	if a.Name, err = nameField(schema, m, "name"); err != nil {
		return nil, err
	}
	if a.Prefix, err = stringField(schema, m, "prefix", maxName); err != nil {
		return nil, err
	}
	if a.PropertiesTarget, err = stringField(schema, m, "properties_target", maxName); err != nil {
		return nil, err
	}
	return a, nil
}

// namespaceKeys are the keys of Glance's namespace schema.
var namespaceKeys = []string{
	"namespace", "display_name", "description", "visibility", "protected", "owner", "created_at",
	"updated_at", "schema", "self", "resource_type_associations", "properties", "objects", "tags",
}

// parseNamespace validates a namespace body (POST, PUT, metadefs
// files). Duplicate objects, tags or associations in it are a 409, as
// Glance's database refuses them. owner is empty when the body has none.
func parseNamespace(body map[string]json.RawMessage, now time.Time) (*namespace, error) {
	const schema = "namespace"
	for k := range body {
		if !slices.Contains(namespaceKeys, k) {
			return nil, schemaError(schema, "Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	ns := &namespace{Visibility: private, CreatedAt: now, UpdatedAt: now}
	var err error
	if ns.Namespace, err = nameField(schema, body, "namespace"); err != nil {
		return nil, err
	}
	if ns.DisplayName, err = stringField(schema, body, "display_name", maxName); err != nil {
		return nil, err
	}
	if ns.Description, err = stringField(schema, body, "description", 500); err != nil {
		return nil, err
	}
	vis, err := stringField(schema, body, "visibility", 0)
	if err != nil {
		return nil, err
	}
	if vis != nil {
		if *vis != public && *vis != private {
			return nil, schemaError(schema, "'%s' is not one of ['public', 'private']", *vis)
		}
		ns.Visibility = *vis
	}
	if p, err := boolField(schema, body, "protected"); err != nil {
		return nil, err
	} else if p != nil {
		ns.Protected = *p
	}
	if ns.Owner, err = stringField(schema, body, "owner", maxOwner); err != nil {
		return nil, err
	}
	if raw, ok := body["resource_type_associations"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
		}
		for _, item := range items {
			a, err := parseAssociation(item, true, now)
			if err != nil {
				return nil, err
			}
			if findAssociation(ns, a.Name) >= 0 {
				return nil, &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, ns.Namespace)}
			}
			ns.Associations = append(ns.Associations, *a)
		}
	}
	if raw, ok := body["properties"]; ok && !isNull(raw) {
		if ns.Properties, err = parseProperties(schema, raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := body["objects"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
		}
		for _, item := range items {
			o, err := parseObject(item, now)
			if err != nil {
				return nil, err
			}
			if findObject(ns, o.Name) >= 0 {
				return nil, dupObject(o.Name, ns.Namespace)
			}
			ns.Objects = append(ns.Objects, *o)
		}
	}
	if raw, ok := body["tags"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, schemaError(schema, "%s is not of type 'array'", short(raw))
		}
		for _, item := range items {
			name, err := parseTag(item, true)
			if err != nil {
				return nil, err
			}
			if tagTaken(ns, name, -1) {
				return nil, dupTag(name, ns.Namespace)
			}
			ns.Tags = append(ns.Tags, tag{Name: name, CreatedAt: now, UpdatedAt: now})
		}
	}
	return ns, nil
}
