package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Tags of a namespace (glance/api/v2/metadef_tags.py).

func mdTagNotFound(name, ns string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition tag with name=%s was not found in namespace=%s.", name, ns)}
}

func mdTagJSON(t mdTag) mdTagView {
	return mdTagView{Name: t.Name, CreatedAt: mdTime(t.CreatedAt), UpdatedAt: mdTime(t.UpdatedAt)}
}

// mdTagSortKeys are the tag attributes a list may sort by.
var mdTagSortKeys = map[string]func(a, b mdTag) int{
	"name":       func(a, b mdTag) int { return strings.Compare(a.Name, b.Name) },
	"created_at": func(a, b mdTag) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at": func(a, b mdTag) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

// mdListTags serves GET .../tags: names only, sorted (default created_at
// desc), with limit and marker (a tag name) but no links, as in Glance;
// a request body is ignored.
func (s *Server) mdListTags(w http.ResponseWriter, r *http.Request) error {
	ps := mdQuery(r)
	desc, err := mdSortDir(ps)
	if err != nil {
		return err
	}
	if _, err := mdVisibilityFilter(ps, mdPublic, mdPrivate, "shared"); err != nil {
		return err
	}
	limit := -1
	if v, _ := mdParamValue(ps, "limit"); v != "" {
		if limit, err = mdLimit(ps, 0, false); err != nil {
			return err
		}
	}
	sortKey := "created_at"
	if v, ok := mdParamValue(ps, "sort_key"); ok {
		sortKey = v
	}
	byKey, ok := mdTagSortKeys[sortKey]
	if !ok {
		return badRequest("Invalid sort key: %s", sortKey)
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	// Ties fall back to created_at, then to the order of creation.
	type item struct {
		t mdTag
		i int
	}
	items := make([]item, len(ns.Tags))
	for i, t := range ns.Tags {
		items[i] = item{t, i}
	}
	order := func(x, y item) int {
		c := byKey(x.t, y.t)
		if c == 0 {
			c = x.t.CreatedAt.Compare(y.t.CreatedAt)
		}
		if c == 0 {
			c = x.i - y.i
		}
		if desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(items, order)
	if marker, _ := mdParamValue(ps, "marker"); marker != "" {
		i := mdFindTag(ns, marker)
		if i < 0 {
			return mdTagNotFound(marker, ns.Namespace)
		}
		m := item{ns.Tags[i], i}
		items = slices.DeleteFunc(items, func(x item) bool { return order(m, x) >= 0 })
	}
	if limit >= 0 && len(items) > limit {
		items = items[:limit]
	}
	out := struct {
		Tags []mdTagView `json:"tags"`
	}{Tags: []mdTagView{}}
	for _, x := range items {
		out.Tags = append(out.Tags, mdTagView{Name: x.t.Name})
	}
	return mdWrite(w, http.StatusOK, out)
}

// mdAppendHeader is oslo's bool_from_string of X-Openstack-Append.
func mdAppendHeader(r *http.Request) bool {
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("X-Openstack-Append"))) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

// mdCreateTags serves POST .../tags with {"tags": [{"name": ...}, ...]}:
// the tags replace the namespace's tags, or are added to them when the
// X-Openstack-Append header is true; 201 with their names. An empty list
// changes nothing, as in Glance.
func (s *Server) mdCreateTags(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	m, err := mdFields("tags", raw, []string{"tags"})
	if err != nil {
		return err
	}
	var names []string
	if v, ok := m["tags"]; ok {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil || isNull(v) {
			return mdSchemaError("tags", "%s is not of type 'array'", mdShort(v))
		}
		for _, item := range items {
			name, err := mdParseTag(item, false)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
	}
	appendMode := mdAppendHeader(r)
	now := time.Now().UTC()
	_, err = s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "add_metadef_tags", func(ns *mdNamespace) error {
		if len(names) == 0 {
			return nil
		}
		if !appendMode {
			ns.Tags = nil
		}
		for _, name := range names {
			if mdTagTaken(ns, name, -1) {
				return mdDupTag(name, ns.Namespace)
			}
			ns.Tags = append(ns.Tags, mdTag{Name: name, CreatedAt: now, UpdatedAt: now})
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := struct {
		Tags []mdTagView `json:"tags"`
	}{Tags: []mdTagView{}}
	for _, name := range names {
		out.Tags = append(out.Tags, mdTagView{Name: name})
	}
	return mdWrite(w, http.StatusCreated, out)
}

// mdCreateTag serves POST .../tags/{name}: 201 with the tag.
func (s *Server) mdCreateTag(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if len([]rune(name)) > mdMaxName {
		return mdSchemaError("tag", "'%s' is too long", name)
	}
	now := time.Now().UTC()
	tag := mdTag{Name: name, CreatedAt: now, UpdatedAt: now}
	_, err := s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "add_metadef_tag", func(ns *mdNamespace) error {
		if mdTagTaken(ns, name, -1) {
			return mdDupTag(name, ns.Namespace)
		}
		ns.Tags = append(ns.Tags, tag)
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusCreated, mdTagJSON(tag))
}

// mdShowTag serves GET .../tags/{name}.
func (s *Server) mdShowTag(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	i := mdFindTag(ns, name)
	if i < 0 {
		return mdTagNotFound(name, ns.Namespace)
	}
	return mdWrite(w, http.StatusOK, mdTagJSON(ns.Tags[i]))
}

// mdUpdateTag serves PUT .../tags/{name} with {"name": new}: a rename.
func (s *Server) mdUpdateTag(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	newName, err := mdParseTag(raw, false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	now := time.Now().UTC()
	var out mdTag
	_, err = s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_tag", func(ns *mdNamespace) error {
		i := mdFindTag(ns, name)
		if i < 0 {
			return mdTagNotFound(name, ns.Namespace)
		}
		if mdTagTaken(ns, newName, i) {
			return mdDupTag(newName, ns.Namespace)
		}
		ns.Tags[i].Name = newName
		ns.Tags[i].UpdatedAt = now
		out = ns.Tags[i]
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusOK, mdTagJSON(out))
}
