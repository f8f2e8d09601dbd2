package metadefs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/p2pglance/p2pglance/api"
)

// property is a property definition (Glance's PropertyType). Fields are
// in Glance's declaration order, which is the order its JSON lists them.
// Name is the key of a property map and only shown on its own.
type property struct {
	Name            string          `json:"name,omitempty"`
	Type            string          `json:"type"`
	Title           string          `json:"title"`
	Description     *string         `json:"description,omitempty"`
	Operators       *[]string       `json:"operators,omitempty"`
	Default         json.RawMessage `json:"default,omitempty"`
	Readonly        *bool           `json:"readonly,omitempty"`
	Minimum         json.RawMessage `json:"minimum,omitempty"`
	Maximum         json.RawMessage `json:"maximum,omitempty"`
	Enum            json.RawMessage `json:"enum,omitempty"`
	Pattern         *string         `json:"pattern,omitempty"`
	MinLength       *int64          `json:"minLength,omitempty"`
	MaxLength       *int64          `json:"maxLength,omitempty"`
	Confidential    *bool           `json:"confidential,omitempty"`
	Items           *itemsDef       `json:"items,omitempty"`
	UniqueItems     *bool           `json:"uniqueItems,omitempty"`
	MinItems        *int64          `json:"minItems,omitempty"`
	MaxItems        *int64          `json:"maxItems,omitempty"`
	AdditionalItems *bool           `json:"additionalItems,omitempty"`
}

// itemsDef is the items definition of an array property.
type itemsDef struct {
	Type string          `json:"type,omitempty"`
	Enum json.RawMessage `json:"enum,omitempty"`
}

// properties is an ordered map of property definitions, by name. It is
// encoded as a JSON object keyed by name, in insertion order.
type properties []property

// MarshalJSON encodes the properties as an object keyed by name.
func (p properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, prop := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(prop.Name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		prop.Name = ""
		v, err := marshal(prop)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object keyed by name, keeping the key order.
func (p *properties) UnmarshalJSON(data []byte) error {
	kvs, ok := objectKVs(data)
	if !ok {
		return fmt.Errorf("decode metadef properties: not a JSON object")
	}
	out := make(properties, 0, len(kvs))
	for _, kv := range kvs {
		var prop property
		if err := json.Unmarshal(kv.val, &prop); err != nil {
			return fmt.Errorf("decode metadef property %s: %w", kv.key, err)
		}
		prop.Name = kv.key
		out = append(out, prop)
	}
	*p = out
	return nil
}

// find returns the index of the property named name, or -1.
func (p properties) find(name string) int {
	for i := range p {
		if p[i].Name == name {
			return i
		}
	}
	return -1
}

// withPrefix returns a copy of p with prefix before every name.
func (p properties) withPrefix(prefix string) properties {
	out := make(properties, len(p))
	for i, prop := range p {
		prop.Name = prefix + prop.Name
		out[i] = prop
	}
	return out
}

// kvPair is one member of a JSON object.
type kvPair struct {
	key string
	val json.RawMessage
}

// objectKVs splits a JSON object into its members in document order; a
// repeated key keeps its first position and its last value, as Python's
// json module does. ok is false when data is not a JSON object.
func objectKVs(data []byte) (kvs []kvPair, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	index := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if i, dup := index[key]; dup {
			kvs[i].val = v
			continue
		}
		index[key] = len(kvs)
		kvs = append(kvs, kvPair{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return kvs, true
}

// marshal encodes v as compact JSON without HTML escaping (Glance keeps
// <, > and & as they are).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// pySpaced rewrites compact JSON with Python json.dumps's separators
// (", " and ": ").
func pySpaced(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/8)
	inString, escaped := false, false
	for _, c := range compact {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

// writeJSON writes v as Glance's metadefs serializers do: json.dumps with
// ensure_ascii=False.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("encode metadefs response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(pySpaced(b))
	return err
}

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// jsonTime formats a timestamp for the JSON views; the zero time is absent.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return api.GlanceTime(t)
}

// namespaceView is the JSON of a namespace, in Glance's key order.
type namespaceView struct {
	Namespace    string            `json:"namespace"`
	DisplayName  *string           `json:"display_name,omitempty"`
	Description  *string           `json:"description,omitempty"`
	Visibility   string            `json:"visibility"`
	Protected    bool              `json:"protected"`
	Owner        *string           `json:"owner,omitempty"`
	CreatedAt    string            `json:"created_at,omitempty"`
	UpdatedAt    string            `json:"updated_at,omitempty"`
	Associations []associationView `json:"resource_type_associations,omitempty"`
	Properties   properties        `json:"properties,omitempty"`
	Objects      []objectView      `json:"objects,omitempty"`
	Tags         []tagView         `json:"tags,omitempty"`
	Self         string            `json:"self"`
	Schema       string            `json:"schema"`
}

// associationView is the JSON of a resource type association.
type associationView struct {
	Name             string  `json:"name"`
	Prefix           *string `json:"prefix,omitempty"`
	PropertiesTarget *string `json:"properties_target,omitempty"`
	CreatedAt        string  `json:"created_at,omitempty"`
	UpdatedAt        string  `json:"updated_at,omitempty"`
}

// objectView is the JSON of an object.
type objectView struct {
	Name        string      `json:"name"`
	Required    *[]string   `json:"required,omitempty"`
	Description *string     `json:"description,omitempty"`
	Properties  *properties `json:"properties,omitempty"`
	CreatedAt   string      `json:"created_at,omitempty"`
	UpdatedAt   string      `json:"updated_at,omitempty"`
	Self        string      `json:"self,omitempty"`
	Schema      string      `json:"schema,omitempty"`
}

// tagView is the JSON of a tag.
type tagView struct {
	Name      string `json:"name"`
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// baseView is a namespace's own attributes with its links (the answer
// of an update).
func baseView(ns *namespace) namespaceView {
	return namespaceView{
		Namespace:   ns.Namespace,
		DisplayName: ns.DisplayName,
		Description: ns.Description,
		Visibility:  ns.Visibility,
		Protected:   ns.Protected,
		Owner:       ns.Owner,
		CreatedAt:   jsonTime(ns.CreatedAt),
		UpdatedAt:   jsonTime(ns.UpdatedAt),
		Self:        namespaceURL(ns.Namespace),
		Schema:      "/v2/schemas/metadefs/namespace",
	}
}

// listView is a namespace as the list shows it: with its resource type
// associations but not its content.
func listView(ns *namespace) namespaceView {
	v := baseView(ns)
	for _, a := range ns.Associations {
		v.Associations = append(v.Associations, assocView(a, true))
	}
	return v
}

// detailView is a namespace with all its content (GET), or, without
// stamps, as the create answer echoes the request's content.
func detailView(ns *namespace, stamps bool) namespaceView {
	v := baseView(ns)
	for _, a := range ns.Associations {
		v.Associations = append(v.Associations, assocView(a, stamps))
	}
	v.Properties = ns.Properties
	for _, o := range ns.Objects {
		v.Objects = append(v.Objects, objView(ns.Namespace, o, stamps))
	}
	for _, t := range ns.Tags {
		v.Tags = append(v.Tags, tagView{Name: t.Name})
	}
	return v
}

// assocView renders an association; with stamps also its times.
func assocView(a association, stamps bool) associationView {
	v := associationView{Name: a.Name, Prefix: a.Prefix, PropertiesTarget: a.PropertiesTarget}
	if stamps {
		v.CreatedAt, v.UpdatedAt = jsonTime(a.CreatedAt), jsonTime(a.UpdatedAt)
	}
	return v
}

// objView renders an object; with stamps also its times and links.
func objView(ns string, o object, stamps bool) objectView {
	v := objectView{Name: o.Name, Required: o.Required, Description: o.Description, Properties: o.Properties}
	if stamps {
		v.CreatedAt, v.UpdatedAt = jsonTime(o.CreatedAt), jsonTime(o.UpdatedAt)
		v.Self = namespaceURL(ns) + "/objects/" + o.Name
		v.Schema = "/v2/schemas/metadefs/object"
	}
	return v
}
