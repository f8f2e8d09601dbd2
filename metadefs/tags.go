package metadefs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
)

// Tags of a namespace (glance/api/v2/metadef_tags.py).

// tagNotFound is the 404 for an unknown tag.
func tagNotFound(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition tag with name=%s was not found in namespace=%s.", name, ns)}
}

// dupTag is Glance's 409 for a tag name already in use.
func dupTag(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata tag with name=%s already exists in namespace=%s. (Please note that metadata tag names are case insensitive).", name, ns)}
}

// findTag returns the index of a tag (exact name), or -1.
func findTag(ns *namespace, name string) int {
	return slices.IndexFunc(ns.Tags, func(t tag) bool { return t.Name == name })
}

// tagTaken reports whether a tag name is used, ignoring case as Glance's
// database does ("metadata tag names are case insensitive"), except at
// index skip.
func tagTaken(ns *namespace, name string, skip int) bool {
	for i, t := range ns.Tags {
		if i != skip && strings.EqualFold(t.Name, name) {
			return true
		}
	}
	return false
}

// tagJSON is the JSON of a tag on its own, with its times.
func tagJSON(t tag) tagView {
	return tagView{Name: t.Name, CreatedAt: jsonTime(t.CreatedAt), UpdatedAt: jsonTime(t.UpdatedAt)}
}

// tagSortKeys are the tag attributes a list may sort by.
var tagSortKeys = map[string]func(a, b tag) int{
	"name":       func(a, b tag) int { return strings.Compare(a.Name, b.Name) },
	"created_at": func(a, b tag) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at": func(a, b tag) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

// listTags serves GET .../tags: names only, sorted (default created_at
// desc), with limit and marker (a tag name) but no links, as in Glance;
// a request body is ignored.
func (s *Service) listTags(w http.ResponseWriter, r *http.Request) error {
	ps := queryParams(r)
	desc, err := parseSortDir(ps)
	if err != nil {
		return err
	}
	if _, err := visibilityFilter(ps, public, private, "shared"); err != nil {
		return err
	}
	limit := -1
	if v, _ := paramValue(ps, "limit"); v != "" {
		if limit, err = parseLimit(ps, 0, false); err != nil {
			return err
		}
	}
	sortKey := "created_at"
	if v, ok := paramValue(ps, "sort_key"); ok {
		sortKey = v
	}
	byKey, ok := tagSortKeys[sortKey]
	if !ok {
		return badRequest("Invalid sort key: %s", sortKey)
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	// Ties fall back to created_at, then to the order of creation.
	type item struct {
		t tag
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
	if marker, _ := paramValue(ps, "marker"); marker != "" {
		i := findTag(ns, marker)
		if i < 0 {
			return tagNotFound(marker, ns.Namespace)
		}
		m := item{ns.Tags[i], i}
		items = slices.DeleteFunc(items, func(x item) bool { return order(m, x) >= 0 })
	}
	if limit >= 0 && len(items) > limit {
		items = items[:limit]
	}
	out := struct {
		Tags []tagView `json:"tags"`
	}{Tags: []tagView{}}
	for _, x := range items {
		out.Tags = append(out.Tags, tagView{Name: x.t.Name})
	}
	return writeJSON(w, http.StatusOK, out)
}

// appendHeader is oslo's bool_from_string of X-Openstack-Append.
func appendHeader(r *http.Request) bool {
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("X-Openstack-Append"))) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

// createTags serves POST .../tags with {"tags": [{"name": ...}, ...]}:
// the tags replace the namespace's tags, or are added to them when the
// X-Openstack-Append header is true; 201 with their names. An empty list
// changes nothing, as in Glance.
func (s *Service) createTags(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	m, err := fields("tags", raw, []string{"tags"})
	if err != nil {
		return err
	}
	var names []string
	if v, ok := m["tags"]; ok {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil || isNull(v) {
			return schemaError("tags", "%s is not of type 'array'", short(v))
		}
		for _, item := range items {
			name, err := parseTag(item, false)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
	}
	appendMode := appendHeader(r)
	now := time.Now().UTC()
	_, err = s.update(r.Context(), mux.Vars(r)["namespace"], "add_metadef_tags", func(ns *namespace) error {
		if len(names) == 0 {
			return nil
		}
		if !appendMode {
			ns.Tags = nil
		}
		for _, name := range names {
			if tagTaken(ns, name, -1) {
				return dupTag(name, ns.Namespace)
			}
			ns.Tags = append(ns.Tags, tag{Name: name, CreatedAt: now, UpdatedAt: now})
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := struct {
		Tags []tagView `json:"tags"`
	}{Tags: []tagView{}}
	for _, name := range names {
		out.Tags = append(out.Tags, tagView{Name: name})
	}
	return writeJSON(w, http.StatusCreated, out)
}

// createTag serves POST .../tags/{name}: 201 with the tag.
func (s *Service) createTag(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if len([]rune(name)) > maxName {
		return schemaError("tag", "'%s' is too long", name)
	}
	now := time.Now().UTC()
	t := tag{Name: name, CreatedAt: now, UpdatedAt: now}
	_, err := s.update(r.Context(), mux.Vars(r)["namespace"], "add_metadef_tag", func(ns *namespace) error {
		if tagTaken(ns, name, -1) {
			return dupTag(name, ns.Namespace)
		}
		ns.Tags = append(ns.Tags, t)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, tagJSON(t))
}

// showTag serves GET .../tags/{name}.
func (s *Service) showTag(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	i := findTag(ns, name)
	if i < 0 {
		return tagNotFound(name, ns.Namespace)
	}
	return writeJSON(w, http.StatusOK, tagJSON(ns.Tags[i]))
}

// updateTag serves PUT .../tags/{name} with {"name": new}: a rename.
func (s *Service) updateTag(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	newName, err := parseTag(raw, false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	now := time.Now().UTC()
	var out tag
	_, err = s.update(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_tag", func(ns *namespace) error {
		i := findTag(ns, name)
		if i < 0 {
			return tagNotFound(name, ns.Namespace)
		}
		if tagTaken(ns, newName, i) {
			return dupTag(newName, ns.Namespace)
		}
		ns.Tags[i].Name = newName
		ns.Tags[i].UpdatedAt = now
		out = ns.Tags[i]
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tagJSON(out))
}

// deleteTag finds a tag for deleteNamed and returns its removal.
func deleteTag(ns *namespace, name string) (func(), error) {
	i := findTag(ns, name)
	if i < 0 {
		return nil, tagNotFound(name, ns.Namespace)
	}
	return func() { ns.Tags = slices.Delete(ns.Tags, i, i+1) }, nil
}
