package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// mdProperty is a property definition (Glance's PropertyType). Fields are
// in Glance's declaration order, which is the order its JSON lists them.
// Name is the key of a property map and only shown on its own.
type mdProperty struct {
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
	Items           *mdItems        `json:"items,omitempty"`
	UniqueItems     *bool           `json:"uniqueItems,omitempty"`
	MinItems        *int64          `json:"minItems,omitempty"`
	MaxItems        *int64          `json:"maxItems,omitempty"`
	AdditionalItems *bool           `json:"additionalItems,omitempty"`
}

// mdItems is the items definition of an array property.
type mdItems struct {
	Type string          `json:"type,omitempty"`
	Enum json.RawMessage `json:"enum,omitempty"`
}

// mdProps is an ordered map of property definitions, by name. It is
// encoded as a JSON object keyed by name, in insertion order.
type mdProps []mdProperty

// MarshalJSON encodes the properties as an object keyed by name.
func (p mdProps) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, prop := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := mdMarshal(prop.Name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		prop.Name = ""
		v, err := mdMarshal(prop)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object keyed by name, keeping the key order.
func (p *mdProps) UnmarshalJSON(data []byte) error {
	kvs, ok := mdObjectKVs(data)
	if !ok {
		return fmt.Errorf("decode metadef properties: not a JSON object")
	}
	out := make(mdProps, 0, len(kvs))
	for _, kv := range kvs {
		var prop mdProperty
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
func (p mdProps) find(name string) int {
	for i := range p {
		if p[i].Name == name {
			return i
		}
	}
	return -1
}

// withPrefix returns a copy of p with prefix before every name.
func (p mdProps) withPrefix(prefix string) mdProps {
	out := make(mdProps, len(p))
	for i, prop := range p {
		prop.Name = prefix + prop.Name
		out[i] = prop
	}
	return out
}

// mdKV is one member of a JSON object.
type mdKV struct {
	key string
	val json.RawMessage
}

// mdObjectKVs splits a JSON object into its members in document order; a
// repeated key keeps its first position and its last value, as Python's
// json module does. ok is false when data is not a JSON object.
func mdObjectKVs(data []byte) (kvs []mdKV, ok bool) {
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
		kvs = append(kvs, mdKV{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return kvs, true
}

// mdMarshal encodes v as compact JSON without HTML escaping (Glance keeps
// <, > and & as they are).
func mdMarshal(v any) ([]byte, error) {
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

// mdWrite writes v as Glance's metadefs serializers do: json.dumps with
// ensure_ascii=False.
func mdWrite(w http.ResponseWriter, status int, v any) error {
	b, err := mdMarshal(v)
	if err != nil {
		return fmt.Errorf("encode metadefs response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(pySpaced(b))
	return err
}

// mdTime formats a timestamp for the JSON views; the zero time is absent.
func mdTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return glanceTime(t)
}

// mdNamespaceView is the JSON of a namespace, in Glance's key order.
type mdNamespaceView struct {
	Namespace    string              `json:"namespace"`
	DisplayName  *string             `json:"display_name,omitempty"`
	Description  *string             `json:"description,omitempty"`
	Visibility   string              `json:"visibility"`
	Protected    bool                `json:"protected"`
	Owner        *string             `json:"owner,omitempty"`
	CreatedAt    string              `json:"created_at,omitempty"`
	UpdatedAt    string              `json:"updated_at,omitempty"`
	Associations []mdAssociationView `json:"resource_type_associations,omitempty"`
	Properties   mdProps             `json:"properties,omitempty"`
	Objects      []mdObjectView      `json:"objects,omitempty"`
	Tags         []mdTagView         `json:"tags,omitempty"`
	Self         string              `json:"self"`
	Schema       string              `json:"schema"`
}

// mdAssociationView is the JSON of a resource type association.
type mdAssociationView struct {
	Name             string  `json:"name"`
	Prefix           *string `json:"prefix,omitempty"`
	PropertiesTarget *string `json:"properties_target,omitempty"`
	CreatedAt        string  `json:"created_at,omitempty"`
	UpdatedAt        string  `json:"updated_at,omitempty"`
}

// mdObjectView is the JSON of an object.
type mdObjectView struct {
	Name        string    `json:"name"`
	Required    *[]string `json:"required,omitempty"`
	Description *string   `json:"description,omitempty"`
	Properties  *mdProps  `json:"properties,omitempty"`
	CreatedAt   string    `json:"created_at,omitempty"`
	UpdatedAt   string    `json:"updated_at,omitempty"`
	Self        string    `json:"self,omitempty"`
	Schema      string    `json:"schema,omitempty"`
}

// mdTagView is the JSON of a tag.
type mdTagView struct {
	Name      string `json:"name"`
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// mdBaseView is a namespace's own attributes with its links (the answer
// of an update).
func mdBaseView(ns *mdNamespace) mdNamespaceView {
	return mdNamespaceView{
		Namespace:   ns.Namespace,
		DisplayName: ns.DisplayName,
		Description: ns.Description,
		Visibility:  ns.Visibility,
		Protected:   ns.Protected,
		Owner:       ns.Owner,
		CreatedAt:   mdTime(ns.CreatedAt),
		UpdatedAt:   mdTime(ns.UpdatedAt),
		Self:        mdNamespaceURL(ns.Namespace),
		Schema:      "/v2/schemas/metadefs/namespace",
	}
}

// mdListView is a namespace as the list shows it: with its resource type
// associations but not its content.
func mdListView(ns *mdNamespace) mdNamespaceView {
	v := mdBaseView(ns)
	for _, a := range ns.Associations {
		v.Associations = append(v.Associations, mdAssocView(a, true))
	}
	return v
}

// mdDetailView is a namespace with all its content (GET), or, without
// stamps, as the create answer echoes the request's content.
func mdDetailView(ns *mdNamespace, stamps bool) mdNamespaceView {
	v := mdBaseView(ns)
	for _, a := range ns.Associations {
		v.Associations = append(v.Associations, mdAssocView(a, stamps))
	}
	v.Properties = ns.Properties
	for _, o := range ns.Objects {
		v.Objects = append(v.Objects, mdObjView(ns.Namespace, o, stamps))
	}
	for _, t := range ns.Tags {
		v.Tags = append(v.Tags, mdTagView{Name: t.Name})
	}
	return v
}

func mdAssocView(a mdAssociation, stamps bool) mdAssociationView {
	v := mdAssociationView{Name: a.Name, Prefix: a.Prefix, PropertiesTarget: a.PropertiesTarget}
	if stamps {
		v.CreatedAt, v.UpdatedAt = mdTime(a.CreatedAt), mdTime(a.UpdatedAt)
	}
	return v
}

// mdObjView renders an object; with stamps also its times and links.
func mdObjView(ns string, o mdObject, stamps bool) mdObjectView {
	v := mdObjectView{Name: o.Name, Required: o.Required, Description: o.Description, Properties: o.Properties}
	if stamps {
		v.CreatedAt, v.UpdatedAt = mdTime(o.CreatedAt), mdTime(o.UpdatedAt)
		v.Self = mdNamespaceURL(ns) + "/objects/" + o.Name
		v.Schema = "/v2/schemas/metadefs/object"
	}
	return v
}

// mdParam is one query parameter.
type mdParam struct{ key, val string }

// mdQuery returns the query parameters as Python's dict(request.params)
// sees them: in first-seen order, a repeated key with its last value.
func mdQuery(r *http.Request) []mdParam {
	var out []mdParam
	index := map[string]int{}
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		if i, ok := index[k]; ok {
			out[i].val = v
			continue
		}
		index[k] = len(out)
		out = append(out, mdParam{k, v})
	}
	return out
}

// mdParamValue returns a parameter's value.
func mdParamValue(ps []mdParam, key string) (string, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return "", false
}

// mdLink builds a root-relative list link: the parameters without marker,
// then marker (when not empty) last, as Glance's urlencode does.
func mdLink(path string, ps []mdParam, marker string) string {
	var parts []string
	for _, p := range ps {
		if p.key != "marker" {
			parts = append(parts, url.QueryEscape(p.key)+"="+url.QueryEscape(p.val))
		}
	}
	if marker != "" {
		parts = append(parts, "marker="+url.QueryEscape(marker))
	}
	if len(parts) == 0 {
		return path
	}
	return path + "?" + strings.Join(parts, "&")
}
