package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// Resource types and their associations with namespaces
// (glance/api/v2/metadef_resource_types.py).

// mdListResourceTypes serves GET /v2/metadefs/resource_types: every
// resource type, oldest first.
func (s *Server) mdListResourceTypes(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	if err := mdEnforceList(ctx, "list_metadef_resource_types"); err != nil {
		return err
	}
	s.mdEnsureSeeded(ctx)
	docs, err := s.cfg.Backend.Docs(ctx, mdKindResourceType)
	if err != nil {
		return err
	}
	type rtView struct {
		Name      string `json:"name"`
		CreatedAt string `json:"created_at,omitempty"`
		UpdatedAt string `json:"updated_at,omitempty"`
	}
	docs = slices.Clone(docs)
	slices.SortStableFunc(docs, func(a, b *catalog.Doc) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := struct {
		ResourceTypes []rtView `json:"resource_types"`
	}{ResourceTypes: []rtView{}}
	for _, d := range docs {
		var rt mdResourceType
		if err := json.Unmarshal(d.Body, &rt); err != nil {
			return fmt.Errorf("decode resource type %s: %w", d.ID, err)
		}
		out.ResourceTypes = append(out.ResourceTypes, rtView{Name: rt.Name, CreatedAt: mdTime(d.CreatedAt), UpdatedAt: mdTime(d.UpdatedAt)})
	}
	return mdWrite(w, http.StatusOK, out)
}

// mdListAssociations serves GET .../{namespace}/resource_types.
func (s *Server) mdListAssociations(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	out := struct {
		Associations []mdAssociationView `json:"resource_type_associations"`
	}{Associations: []mdAssociationView{}}
	for _, a := range ns.Associations {
		out.Associations = append(out.Associations, mdAssocView(a, true))
	}
	return mdWrite(w, http.StatusOK, out)
}

// mdCreateAssociation serves POST .../{namespace}/resource_types: 201
// with the association; the resource type is created if it is new.
func (s *Server) mdCreateAssociation(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	a, err := mdParseAssociation(raw, false, now)
	if err != nil {
		return err
	}
	const act = "add_metadef_resource_type_association"
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	// Check the caller may write before creating the resource type.
	ns, _, err := s.mdLoad(ctx, name, true)
	if err != nil {
		return err
	}
	if err := mdEnforceWrite(ctx, act, ns); err != nil {
		return err
	}
	if err := s.mdEnsureResourceTypes(ctx, []string{a.Name}, false, now); err != nil {
		return err
	}
	_, err = s.mdUpdate(ctx, name, act, func(ns *mdNamespace) error {
		if mdFindAssociation(ns, a.Name) >= 0 {
			return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, ns.Namespace)}
		}
		ns.Associations = append(ns.Associations, *a)
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusCreated, mdAssocView(*a, true))
}

// mdDeleteAssociation serves DELETE .../{namespace}/resource_types/{name}:
// 204; 403 in a protected namespace.
func (s *Server) mdDeleteAssociation(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	rt := mux.Vars(r)["name"]
	_, err := s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "remove_metadef_resource_type_association", func(ns *mdNamespace) error {
		i := mdFindAssociation(ns, rt)
		if i < 0 {
			return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Failed to find resource type %s to delete", rt)}
		}
		if ns.Protected {
			return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Metadata definition resource-type-association %s is protected and cannot be deleted.", rt)}
		}
		ns.Associations = slices.Delete(ns.Associations, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return mdNoContent(w)
}
