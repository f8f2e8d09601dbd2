package metadefs

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
)

// Namespaces (glance/api/v2/metadef_namespaces.py), and the DELETE of a
// namespace's content shared by its properties, objects and tags.

// namespaceURL is the self link of a namespace (Glance does not quote
// the name).
func namespaceURL(name string) string { return "/v2/metadefs/namespaces/" + name }

// namespaceNotFound is the 404 for an unknown or invisible namespace.
func namespaceNotFound(name string) *api.Error {
	return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Metadata definition namespace=%s was not found.", name)}
}

// rejectProtected is the 403 for deleting from a protected namespace.
func rejectProtected(ns *namespace, what, name string) error {
	if !ns.Protected {
		return nil
	}
	return &api.Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Metadata definition %s %s is protected and cannot be deleted.", what, name)}
}

// cmpStrPtr orders optional strings, absent first.
func cmpStrPtr(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return strings.Compare(*a, *b)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// namespaceSortKeys are the namespace attributes a list may sort by.
var namespaceSortKeys = map[string]func(a, b *namespace) int{
	"namespace":    func(a, b *namespace) int { return strings.Compare(a.Namespace, b.Namespace) },
	"display_name": func(a, b *namespace) int { return cmpStrPtr(a.DisplayName, b.DisplayName) },
	"description":  func(a, b *namespace) int { return cmpStrPtr(a.Description, b.Description) },
	"visibility":   func(a, b *namespace) int { return strings.Compare(a.Visibility, b.Visibility) },
	"protected":    func(a, b *namespace) int { return cmpBool(a.Protected, b.Protected) },
	"owner":        func(a, b *namespace) int { return cmpStrPtr(a.Owner, b.Owner) },
	"created_at":   func(a, b *namespace) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at":   func(a, b *namespace) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

// listNamespaces serves GET /v2/metadefs/namespaces (a request body is
// ignored, as in Glance).
func (s *Service) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a := api.AuthFrom(ctx)
	ps := queryParams(r)
	limit, err := parseLimit(ps, api.DefaultLimit, false)
	if err != nil {
		return err
	}
	desc, err := parseSortDir(ps)
	if err != nil {
		return err
	}
	sortKey := "created_at"
	if v, ok := paramValue(ps, "sort_key"); ok {
		sortKey = v
	}
	byKey, ok := namespaceSortKeys[sortKey]
	if !ok {
		return badRequest("Invalid sort key: %s", sortKey)
	}
	vis, err := visibilityFilter(ps, public, private)
	if err != nil {
		return err
	}
	var rtFilter []string
	if v, ok := paramValue(ps, "resource_types"); ok {
		rtFilter = strings.Split(v, ",")
	}
	if err := enforceList(ctx, "get_metadef_namespaces"); err != nil {
		return err
	}
	if err := enforceList(ctx, "list_metadef_resource_types"); err != nil {
		return err
	}
	s.ensureSeeded(ctx)
	docs, err := s.store.Docs(ctx, kindNamespace)
	if err != nil {
		return err
	}
	order := func(x, y *namespace) int {
		c := byKey(x, y)
		if c == 0 {
			c = x.CreatedAt.Compare(y.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(x.Namespace, y.Namespace)
		}
		if desc {
			c = -c
		}
		return c
	}
	var marker *namespace
	markerName, hasMarker := paramValue(ps, "marker")
	var list []*namespace
	for _, d := range docs {
		ns, err := decodeNamespace(d)
		if err != nil {
			return err
		}
		if !canRead(a, ns) {
			continue
		}
		if hasMarker && ns.Namespace == markerName {
			marker = ns
		}
		if vis != "" && ns.Visibility != vis {
			continue
		}
		if rtFilter != nil && !slices.ContainsFunc(rtFilter, func(rt string) bool { return findAssociation(ns, rt) >= 0 }) {
			continue
		}
		list = append(list, ns)
	}
	if hasMarker && marker == nil {
		return namespaceNotFound(markerName)
	}
	slices.SortFunc(list, order)
	if marker != nil {
		list = slices.DeleteFunc(list, func(ns *namespace) bool { return order(marker, ns) >= 0 })
	}
	if len(list) > limit {
		list = list[:limit]
	}
	out := struct {
		Namespaces []namespaceView `json:"namespaces"`
		Next       string          `json:"next,omitempty"`
		Schema     string          `json:"schema"`
		First      string          `json:"first"`
	}{Namespaces: []namespaceView{}, Schema: "/v2/schemas/metadefs/namespaces", First: api.PageLink("/v2/metadefs/namespaces", r.URL.RawQuery, "", false)}
	for _, ns := range list {
		out.Namespaces = append(out.Namespaces, listView(ns))
	}
	if limit > 0 && len(list) == limit {
		out.Next = api.PageLink("/v2/metadefs/namespaces", r.URL.RawQuery, list[len(list)-1].Namespace, false)
	}
	return writeJSON(w, http.StatusOK, out)
}

// createNamespace serves POST /v2/metadefs/namespaces: 201 with the
// namespace and the content the request gave, and a Location header.
func (s *Service) createNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, body, err := readBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	ns, err := parseNamespace(body, now)
	if err != nil {
		return err
	}
	if err := enforceWrite(ctx, "add_metadef_namespace", nil); err != nil {
		return err
	}
	if a := api.AuthFrom(ctx); ns.Owner == nil && a.Project != "" {
		owner := a.Project
		ns.Owner = &owner
	}
	if err := s.create(r, ns); err != nil {
		return err
	}
	w.Header().Set("Location", api.BaseURL(r)+namespaceURL(url.PathEscape(ns.Namespace)))
	return writeJSON(w, http.StatusCreated, detailView(ns, false))
}

// create stores a new namespace and the resource types it refers to.
func (s *Service) create(r *http.Request, ns *namespace) error {
	ctx := r.Context()
	d, err := encodeNamespace(ns)
	if err != nil {
		return err
	}
	exists := func(err error) error {
		return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition namespace=%s already exists.", ns.Namespace), Err: err}
	}
	// Refused before the resource types it names are created: a 409
	// changes nothing.
	if _, err := s.store.Doc(ctx, d.Kind, d.ID); err == nil {
		return exists(catalog.ErrExists)
	}
	var rts []string
	for _, a := range ns.Associations {
		rts = append(rts, a.Name)
	}
	if err := ensureResourceTypes(ctx, s.store, rts, false, ns.CreatedAt); err != nil {
		return err
	}
	_, err = s.store.PutDoc(ctx, d, true, 0)
	if errors.Is(err, catalog.ErrExists) {
		return exists(err)
	}
	return err
}

// showNamespace serves GET /v2/metadefs/namespaces/{namespace}, with
// ?resource_type= applying that association's prefix to property names.
func (s *Service) showNamespace(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	s.ensureSeeded(ctx)
	ns, _, err := s.load(ctx, mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	v := detailView(ns, true)
	if rt := r.URL.Query().Get("resource_type"); rt != "" {
		if i := findAssociation(ns, rt); i >= 0 && ns.Associations[i].Prefix != nil && *ns.Associations[i].Prefix != "" {
			prefix := *ns.Associations[i].Prefix
			v.Properties = v.Properties.withPrefix(prefix)
			for j := range v.Objects {
				o := &v.Objects[j]
				if o.Properties != nil {
					p := o.Properties.withPrefix(prefix)
					o.Properties = &p
				}
				if o.Required != nil {
					req := make([]string, len(*o.Required))
					for k, name := range *o.Required {
						req[k] = prefix + name
					}
					o.Required = &req
				}
			}
		}
	}
	return writeJSON(w, http.StatusOK, v)
}

// updateNamespace serves PUT /v2/metadefs/namespaces/{namespace}: it
// replaces the namespace's own attributes (absent ones take their
// defaults, as in Glance) and may rename it; its content is kept.
func (s *Service) updateNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	_, body, err := readBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	in, err := parseNamespace(body, now)
	if err != nil {
		return err
	}
	owner := in.Owner
	if a := api.AuthFrom(ctx); owner == nil && a.Project != "" {
		p := a.Project
		owner = &p
	}
	apply := func(ns *namespace) {
		ns.Namespace = in.Namespace
		ns.DisplayName, ns.Description = in.DisplayName, in.Description
		ns.Visibility, ns.Protected, ns.Owner = in.Visibility, in.Protected, owner
		ns.UpdatedAt = now
	}
	if in.Namespace == name {
		out, err := s.update(ctx, name, "modify_metadef_namespace", func(ns *namespace) error { apply(ns); return nil })
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, baseView(out))
	}
	// A rename moves the namespace to a new document: create it under
	// the new name (409 if taken), then drop the old one.
	ns, _, err := s.load(ctx, name, true)
	if err != nil {
		return err
	}
	if err := enforceWrite(ctx, "modify_metadef_namespace", ns); err != nil {
		return err
	}
	apply(ns)
	d, err := encodeNamespace(ns)
	if err != nil {
		return err
	}
	if _, err := s.store.PutDoc(ctx, d, true, 0); errors.Is(err, catalog.ErrExists) {
		return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Invalid update. It would result in a duplicate metadata definition namespace with the same name of %s", in.Namespace), Err: err}
	} else if err != nil {
		return err
	}
	if err := s.store.DeleteDoc(ctx, kindNamespace, name); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return writeJSON(w, http.StatusOK, baseView(ns))
}

// deleteNamespace serves DELETE /v2/metadefs/namespaces/{namespace}:
// 204; 403 while the namespace is protected.
func (s *Service) deleteNamespace(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	ns, _, err := s.load(ctx, name, true)
	if err != nil {
		return err
	}
	if err := enforceWrite(ctx, "delete_metadef_namespace", ns); err != nil {
		return err
	}
	if err := rejectProtected(ns, "namespace", name); err != nil {
		return err
	}
	if err := s.store.DeleteDoc(ctx, kindNamespace, name); errors.Is(err, catalog.ErrNotFound) {
		return namespaceNotFound(name)
	} else if err != nil {
		return err
	}
	return noContent(w)
}

// deleteContent serves DELETE .../{objects,properties,tags}: every
// definition of that kind goes; 403 while the namespace is protected
// (Glance checks the delete_metadef_namespace rule for all three).
func (s *Service) deleteContent(kind string) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := api.RejectBody(r); err != nil {
			return err
		}
		name := mux.Vars(r)["namespace"]
		_, err := s.update(r.Context(), name, "delete_metadef_namespace", func(ns *namespace) error {
			if err := rejectProtected(ns, "namespace", name); err != nil {
				return err
			}
			switch kind {
			case "objects":
				ns.Objects = nil
			case "properties":
				ns.Properties = nil
			case "tags":
				ns.Tags = nil
			}
			return nil
		})
		if err != nil {
			return err
		}
		return noContent(w)
	}
}

// deleteNamed serves DELETE of one named property, object or tag of a
// namespace: remove finds it (or returns the 404) and returns the
// namespace without it; 403 in a protected namespace; 204.
func (s *Service) deleteNamed(action, kind string, remove func(ns *namespace, name string) (func(), error)) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := api.RejectBody(r); err != nil {
			return err
		}
		name := mux.Vars(r)["name"]
		_, err := s.update(r.Context(), mux.Vars(r)["namespace"], action, func(ns *namespace) error {
			apply, err := remove(ns, name)
			if err != nil {
				return err
			}
			if err := rejectProtected(ns, kind, name); err != nil {
				return err
			}
			apply()
			return nil
		})
		if err != nil {
			return err
		}
		return noContent(w)
	}
}
