package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// metadefRoutes returns the routes of the metadefs API and its schemas
// (glance/api/v2/router.py), each with Glance's Allow list.
func (s *Server) metadefRoutes() []route {
	const ns = "/v2/metadefs/namespaces/{namespace}"
	type m = map[string]handlerFunc
	return []route{
		{path: "/v2/metadefs/resource_types", methods: m{"GET": s.mdListResourceTypes}, allow: "GET"},
		{path: "/v2/metadefs/namespaces", methods: m{"GET": s.mdListNamespaces, "POST": s.mdCreateNamespace}, allow: "GET, POST"},
		{path: ns, methods: m{"GET": s.mdShowNamespace, "PUT": s.mdUpdateNamespace, "DELETE": s.mdDeleteNamespace}, allow: "GET, PUT, DELETE"},
		{path: ns + "/resource_types", methods: m{"GET": s.mdListAssociations, "POST": s.mdCreateAssociation}, allow: "GET, POST"},
		{path: ns + "/resource_types/{name}", methods: m{"DELETE": s.mdDeleteAssociation}, allow: "DELETE"},
		{path: ns + "/properties", methods: m{"GET": s.mdListProperties, "POST": s.mdCreateProperty, "DELETE": s.mdDeleteContent("properties")}, allow: "GET, POST, DELETE"},
		{path: ns + "/properties/{name}", methods: m{"GET": s.mdShowProperty, "PUT": s.mdUpdateProperty, "DELETE": s.mdDeleteNamed("remove_metadef_property", "property", mdDeleteProperty)}, allow: "GET, PUT, DELETE"},
		{path: ns + "/objects", methods: m{"GET": s.mdListObjects, "POST": s.mdCreateObject, "DELETE": s.mdDeleteContent("objects")}, allow: "GET, POST, DELETE"},
		{path: ns + "/objects/{name}", methods: m{"GET": s.mdShowObject, "PUT": s.mdUpdateObject, "DELETE": s.mdDeleteNamed("delete_metadef_object", "object", mdDeleteObject)}, allow: "GET, PUT, DELETE"},
		{path: ns + "/tags", methods: m{"GET": s.mdListTags, "POST": s.mdCreateTags, "DELETE": s.mdDeleteContent("tags")}, allow: "GET, POST, DELETE"},
		{path: ns + "/tags/{name}", methods: m{"GET": s.mdShowTag, "POST": s.mdCreateTag, "PUT": s.mdUpdateTag, "DELETE": s.mdDeleteNamed("delete_metadef_tag", "tag", mdDeleteTag)}, allow: "GET, POST, PUT, DELETE"},
		{path: "/v2/schemas/metadefs/{name}", methods: m{"GET": s.mdShowSchema}, allow: "GET"},
	}
}

// mdReadBody reads a request body that must be a JSON object, refusing
// the read-only keys given (403, in order). It returns the body and its
// members by key.
func mdReadBody(r *http.Request, readOnly ...string) (json.RawMessage, map[string]json.RawMessage, error) {
	var raw json.RawMessage
	if err := readJSON(r, &raw); err != nil {
		return nil, nil, err
	}
	kvs, ok := mdObjectKVs(raw)
	if !ok {
		return nil, nil, &Error{Status: http.StatusBadRequest, Explanation: "Unexpected body type. Expected dict."}
	}
	m := make(map[string]json.RawMessage, len(kvs))
	for _, kv := range kvs {
		m[kv.key] = kv.val
	}
	if err := mdReadOnly(m, readOnly...); err != nil {
		return nil, nil, err
	}
	return raw, m, nil
}

// mdLimit parses the limit parameter: def when absent, at most 1000.
// positive refuses 0, as the objects list does.
func mdLimit(ps []mdParam, def int, positive bool) (int, error) {
	v, ok := mdParamValue(ps, "limit")
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, badRequest("limit param must be an integer")
	}
	if n < 0 || (positive && n == 0) {
		return 0, badRequest("limit param must be positive")
	}
	return min(n, maxLimit), nil
}

// mdSortDir parses sort_dir (default desc).
func mdSortDir(ps []mdParam) (desc bool, err error) {
	v, ok := mdParamValue(ps, "sort_dir")
	if !ok {
		return true, nil
	}
	switch v {
	case "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, badRequest("Invalid sort direction: %s", v)
}

// mdVisibilityFilter validates the visibility parameter against values.
func mdVisibilityFilter(ps []mdParam, values ...string) (string, error) {
	v, _ := mdParamValue(ps, "visibility")
	if v != "" && !slices.Contains(values, v) {
		return "", badRequest("Invalid visibility value: %s", v)
	}
	return v, nil
}

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

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// mdNamespaceSortKeys are the namespace attributes a list may sort by.
var mdNamespaceSortKeys = map[string]func(a, b *mdNamespace) int{
	"namespace":    func(a, b *mdNamespace) int { return strings.Compare(a.Namespace, b.Namespace) },
	"display_name": func(a, b *mdNamespace) int { return cmpStrPtr(a.DisplayName, b.DisplayName) },
	"description":  func(a, b *mdNamespace) int { return cmpStrPtr(a.Description, b.Description) },
	"visibility":   func(a, b *mdNamespace) int { return strings.Compare(a.Visibility, b.Visibility) },
	"protected":    func(a, b *mdNamespace) int { return cmpBool(a.Protected, b.Protected) },
	"owner":        func(a, b *mdNamespace) int { return cmpStrPtr(a.Owner, b.Owner) },
	"created_at":   func(a, b *mdNamespace) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at":   func(a, b *mdNamespace) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
}

// mdListNamespaces serves GET /v2/metadefs/namespaces (a request body is
// ignored, as in Glance).
func (s *Server) mdListNamespaces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a := authFrom(ctx)
	ps := mdQuery(r)
	limit, err := mdLimit(ps, defaultLimit, false)
	if err != nil {
		return err
	}
	desc, err := mdSortDir(ps)
	if err != nil {
		return err
	}
	sortKey := "created_at"
	if v, ok := mdParamValue(ps, "sort_key"); ok {
		sortKey = v
	}
	byKey, ok := mdNamespaceSortKeys[sortKey]
	if !ok {
		return badRequest("Invalid sort key: %s", sortKey)
	}
	vis, err := mdVisibilityFilter(ps, mdPublic, mdPrivate)
	if err != nil {
		return err
	}
	var rtFilter []string
	if v, ok := mdParamValue(ps, "resource_types"); ok {
		rtFilter = strings.Split(v, ",")
	}
	if err := mdEnforceList(ctx, "get_metadef_namespaces"); err != nil {
		return err
	}
	if err := mdEnforceList(ctx, "list_metadef_resource_types"); err != nil {
		return err
	}
	s.mdEnsureSeeded(ctx)
	docs, err := s.cfg.Backend.Docs(ctx, mdKindNamespace)
	if err != nil {
		return err
	}
	order := func(x, y *mdNamespace) int {
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
	var marker *mdNamespace
	markerName, hasMarker := mdParamValue(ps, "marker")
	var list []*mdNamespace
	for _, d := range docs {
		ns, err := mdDecode(d)
		if err != nil {
			return err
		}
		if !mdCanRead(a, ns) {
			continue
		}
		if hasMarker && ns.Namespace == markerName {
			marker = ns
		}
		if vis != "" && ns.Visibility != vis {
			continue
		}
		if rtFilter != nil && !slices.ContainsFunc(rtFilter, func(rt string) bool { return mdFindAssociation(ns, rt) >= 0 }) {
			continue
		}
		list = append(list, ns)
	}
	if hasMarker && marker == nil {
		return mdNotFound(markerName)
	}
	slices.SortFunc(list, order)
	if marker != nil {
		list = slices.DeleteFunc(list, func(ns *mdNamespace) bool { return order(marker, ns) >= 0 })
	}
	if len(list) > limit {
		list = list[:limit]
	}
	out := struct {
		Namespaces []mdNamespaceView `json:"namespaces"`
		Next       string            `json:"next,omitempty"`
		Schema     string            `json:"schema"`
		First      string            `json:"first"`
	}{Namespaces: []mdNamespaceView{}, Schema: "/v2/schemas/metadefs/namespaces", First: mdLink("/v2/metadefs/namespaces", ps, "")}
	for _, ns := range list {
		out.Namespaces = append(out.Namespaces, mdListView(ns))
	}
	if limit > 0 && len(list) == limit {
		out.Next = mdLink("/v2/metadefs/namespaces", ps, list[len(list)-1].Namespace)
	}
	return mdWrite(w, http.StatusOK, out)
}

// mdCreateNamespace serves POST /v2/metadefs/namespaces: 201 with the
// namespace and the content the request gave, and a Location header.
func (s *Server) mdCreateNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, body, err := mdReadBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	ns, err := mdParseNamespace(body, now)
	if err != nil {
		return err
	}
	if err := mdEnforceWrite(ctx, "add_metadef_namespace", nil); err != nil {
		return err
	}
	if a := authFrom(ctx); ns.Owner == nil && a.Project != "" {
		owner := a.Project
		ns.Owner = &owner
	}
	if err := s.mdCreate(r, ns); err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+mdNamespaceURL(url.PathEscape(ns.Namespace)))
	return mdWrite(w, http.StatusCreated, mdDetailView(ns, false))
}

// mdCreate stores a new namespace and the resource types it refers to.
func (s *Server) mdCreate(r *http.Request, ns *mdNamespace) error {
	ctx := r.Context()
	d, err := mdDoc(ns)
	if err != nil {
		return err
	}
	exists := func(err error) error {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition namespace=%s already exists.", ns.Namespace), Err: err}
	}
	// Refused before the resource types it names are created: a 409
	// changes nothing.
	if _, err := s.cfg.Backend.Doc(ctx, d.Kind, d.ID); err == nil {
		return exists(catalog.ErrExists)
	}
	var rts []string
	for _, a := range ns.Associations {
		rts = append(rts, a.Name)
	}
	if err := s.mdEnsureResourceTypes(ctx, rts, false, ns.CreatedAt); err != nil {
		return err
	}
	_, err = s.cfg.Backend.PutDoc(ctx, d, true, 0)
	if errors.Is(err, catalog.ErrExists) {
		return exists(err)
	}
	return err
}

// mdShowNamespace serves GET /v2/metadefs/namespaces/{namespace}, with
// ?resource_type= applying that association's prefix to property names.
func (s *Server) mdShowNamespace(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	s.mdEnsureSeeded(ctx)
	ns, _, err := s.mdLoad(ctx, mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	v := mdDetailView(ns, true)
	if rt := r.URL.Query().Get("resource_type"); rt != "" {
		if i := mdFindAssociation(ns, rt); i >= 0 && ns.Associations[i].Prefix != nil && *ns.Associations[i].Prefix != "" {
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
	return mdWrite(w, http.StatusOK, v)
}

// mdUpdateNamespace serves PUT /v2/metadefs/namespaces/{namespace}: it
// replaces the namespace's own attributes (absent ones take their
// defaults, as in Glance) and may rename it; its content is kept.
func (s *Server) mdUpdateNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	_, body, err := mdReadBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	in, err := mdParseNamespace(body, now)
	if err != nil {
		return err
	}
	owner := in.Owner
	if a := authFrom(ctx); owner == nil && a.Project != "" {
		p := a.Project
		owner = &p
	}
	apply := func(ns *mdNamespace) {
		ns.Namespace = in.Namespace
		ns.DisplayName, ns.Description = in.DisplayName, in.Description
		ns.Visibility, ns.Protected, ns.Owner = in.Visibility, in.Protected, owner
		ns.UpdatedAt = now
	}
	if in.Namespace == name {
		out, err := s.mdUpdate(ctx, name, "modify_metadef_namespace", func(ns *mdNamespace) error { apply(ns); return nil })
		if err != nil {
			return err
		}
		return mdWrite(w, http.StatusOK, mdBaseView(out))
	}
	// A rename moves the namespace to a new document: create it under
	// the new name (409 if taken), then drop the old one.
	ns, _, err := s.mdLoad(ctx, name, true)
	if err != nil {
		return err
	}
	if err := mdEnforceWrite(ctx, "modify_metadef_namespace", ns); err != nil {
		return err
	}
	apply(ns)
	d, err := mdDoc(ns)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Backend.PutDoc(ctx, d, true, 0); errors.Is(err, catalog.ErrExists) {
		return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Invalid update. It would result in a duplicate metadata definition namespace with the same name of %s", in.Namespace), Err: err}
	} else if err != nil {
		return err
	}
	if err := s.cfg.Backend.DeleteDoc(ctx, mdKindNamespace, name); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return mdWrite(w, http.StatusOK, mdBaseView(ns))
}

// mdDeleteNamespace serves DELETE /v2/metadefs/namespaces/{namespace}:
// 204; 403 while the namespace is protected.
func (s *Server) mdDeleteNamespace(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	ns, _, err := s.mdLoad(ctx, name, true)
	if err != nil {
		return err
	}
	if err := mdEnforceWrite(ctx, "delete_metadef_namespace", ns); err != nil {
		return err
	}
	if err := mdRejectProtected(ns, "namespace", name); err != nil {
		return err
	}
	if err := s.cfg.Backend.DeleteDoc(ctx, mdKindNamespace, name); errors.Is(err, catalog.ErrNotFound) {
		return mdNotFound(name)
	} else if err != nil {
		return err
	}
	return mdNoContent(w)
}

// mdDeleteContent serves DELETE .../{objects,properties,tags}: every
// definition of that kind goes; 403 while the namespace is protected
// (Glance checks the delete_metadef_namespace rule for all three).
func (s *Server) mdDeleteContent(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := rejectBody(r); err != nil {
			return err
		}
		name := mux.Vars(r)["namespace"]
		_, err := s.mdUpdate(r.Context(), name, "delete_metadef_namespace", func(ns *mdNamespace) error {
			if err := mdRejectProtected(ns, "namespace", name); err != nil {
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
		return mdNoContent(w)
	}
}

// mdDeleteNamed serves DELETE of one named property, object or tag of a
// namespace: remove finds it (or returns the 404) and returns the
// namespace without it; 403 in a protected namespace; 204.
func (s *Server) mdDeleteNamed(action, kind string, remove func(ns *mdNamespace, name string) (func(), error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := rejectBody(r); err != nil {
			return err
		}
		name := mux.Vars(r)["name"]
		_, err := s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], action, func(ns *mdNamespace) error {
			apply, err := remove(ns, name)
			if err != nil {
				return err
			}
			if err := mdRejectProtected(ns, kind, name); err != nil {
				return err
			}
			apply()
			return nil
		})
		if err != nil {
			return err
		}
		return mdNoContent(w)
	}
}

// mdDeleteProperty, mdDeleteObject and mdDeleteTag find a member for
// mdDeleteNamed and return its removal.
func mdDeleteProperty(ns *mdNamespace, name string) (func(), error) {
	i := ns.Properties.find(name)
	if i < 0 {
		return nil, mdPropertyNotFound(name, ns.Namespace)
	}
	return func() { ns.Properties = slices.Delete(ns.Properties, i, i+1) }, nil
}

func mdDeleteObject(ns *mdNamespace, name string) (func(), error) {
	i := mdFindObject(ns, name)
	if i < 0 {
		return nil, mdObjectNotFound(name, ns.Namespace)
	}
	return func() { ns.Objects = slices.Delete(ns.Objects, i, i+1) }, nil
}

func mdDeleteTag(ns *mdNamespace, name string) (func(), error) {
	i := mdFindTag(ns, name)
	if i < 0 {
		return nil, mdTagNotFound(name, ns.Namespace)
	}
	return func() { ns.Tags = slices.Delete(ns.Tags, i, i+1) }, nil
}
