package metadefs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
)

// Resource types and their associations with namespaces
// (glance/api/v2/metadef_resource_types.py).

// findAssociation returns the index of an association, or -1.
func findAssociation(ns *namespace, name string) int {
	return slices.IndexFunc(ns.Associations, func(a association) bool { return a.Name == name })
}

// ensureResourceTypes creates the resource type documents that do not
// exist yet (Glance creates a resource type on its first association);
// protected marks the seeded ones.
func ensureResourceTypes(ctx context.Context, b Store, names []string, protected bool, now time.Time) error {
	for _, name := range names {
		if _, err := b.Doc(ctx, kindResourceType, name); err == nil {
			continue
		}
		body, err := json.Marshal(resourceType{Name: name, Protected: protected})
		if err != nil {
			return fmt.Errorf("encode resource type %s: %w", name, err)
		}
		_, err = b.PutDoc(ctx, &catalog.Doc{Kind: kindResourceType, ID: name, Body: body, CreatedAt: now, UpdatedAt: now}, true, 0)
		if err != nil && !errors.Is(err, catalog.ErrExists) {
			return fmt.Errorf("create resource type %s: %w", name, err)
		}
	}
	return nil
}

// listResourceTypes serves GET /v2/metadefs/resource_types: every
// resource type, oldest first.
func (s *Service) listResourceTypes(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ctx := r.Context()
	if err := enforceList(ctx, "list_metadef_resource_types"); err != nil {
		return err
	}
	s.ensureSeeded(ctx)
	docs, err := s.store.Docs(ctx, kindResourceType)
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
		var rt resourceType
		if err := json.Unmarshal(d.Body, &rt); err != nil {
			return fmt.Errorf("decode resource type %s: %w", d.ID, err)
		}
		out.ResourceTypes = append(out.ResourceTypes, rtView{Name: rt.Name, CreatedAt: jsonTime(d.CreatedAt), UpdatedAt: jsonTime(d.UpdatedAt)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// listAssociations serves GET .../{namespace}/resource_types.
func (s *Service) listAssociations(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	out := struct {
		Associations []associationView `json:"resource_type_associations"`
	}{Associations: []associationView{}}
	for _, a := range ns.Associations {
		out.Associations = append(out.Associations, assocView(a, true))
	}
	return writeJSON(w, http.StatusOK, out)
}

// createAssociation serves POST .../{namespace}/resource_types: 201
// with the association; the resource type is created if it is new.
func (s *Service) createAssociation(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	a, err := parseAssociation(raw, false, now)
	if err != nil {
		return err
	}
	const act = "add_metadef_resource_type_association"
	ctx := r.Context()
	name := mux.Vars(r)["namespace"]
	// Check the caller may write before creating the resource type.
	ns, _, err := s.load(ctx, name, true)
	if err != nil {
		return err
	}
	if err := enforceWrite(ctx, act, ns); err != nil {
		return err
	}
	if err := ensureResourceTypes(ctx, s.store, []string{a.Name}, false, now); err != nil {
		return err
	}
	_, err = s.update(ctx, name, act, func(ns *namespace) error {
		if findAssociation(ns, a.Name) >= 0 {
			return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, ns.Namespace)}
		}
		ns.Associations = append(ns.Associations, *a)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, assocView(*a, true))
}

// deleteAssociation serves DELETE .../{namespace}/resource_types/{name}:
// 204; 403 in a protected namespace.
func (s *Service) deleteAssociation(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	rt := mux.Vars(r)["name"]
	_, err := s.update(r.Context(), mux.Vars(r)["namespace"], "remove_metadef_resource_type_association", func(ns *namespace) error {
		i := findAssociation(ns, rt)
		if i < 0 {
			return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Failed to find resource type %s to delete", rt)}
		}
		if ns.Protected {
			return &api.Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Metadata definition resource-type-association %s is protected and cannot be deleted.", rt)}
		}
		ns.Associations = slices.Delete(ns.Associations, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return noContent(w)
}
