package metadefs

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
)

// Objects of a namespace (glance/api/v2/metadef_objects.py).

// objectNotFound is the 404 for an unknown object.
func objectNotFound(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition object with name=%s was not found in namespace=%s.", name, ns)}
}

// dupObject is Glance's 409 for an object name already in use.
func dupObject(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata definition object with name=%s already exists in namespace=%s.", name, ns)}
}

// findObject returns the index of an object, or -1.
func findObject(ns *namespace, name string) int {
	return slices.IndexFunc(ns.Objects, func(o object) bool { return o.Name == name })
}

// listObjects serves GET .../objects. Like Glance, it validates limit,
// sort_dir and visibility but returns every object, without paging, and
// with Glance's schema link (which lacks its leading slash). A request
// body is ignored, as in Glance.
func (s *Service) listObjects(w http.ResponseWriter, r *http.Request) error {
	ps := queryParams(r)
	if _, err := parseSortDir(ps); err != nil {
		return err
	}
	if _, err := visibilityFilter(ps, public, private, "shared"); err != nil {
		return err
	}
	if _, err := parseLimit(ps, 0, true); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	out := struct {
		Objects []objectView `json:"objects"`
		Schema  string       `json:"schema"`
	}{Objects: []objectView{}, Schema: "v2/schemas/metadefs/objects"}
	for _, o := range ns.Objects {
		out.Objects = append(out.Objects, objView(ns.Namespace, o, true))
	}
	return writeJSON(w, http.StatusOK, out)
}

// createObject serves POST .../objects: 201 with the object.
func (s *Service) createObject(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	obj, err := parseObject(raw, now)
	if err != nil {
		return err
	}
	ns, err := s.update(r.Context(), mux.Vars(r)["namespace"], "add_metadef_object", func(ns *namespace) error {
		if findObject(ns, obj.Name) >= 0 {
			return dupObject(obj.Name, ns.Namespace)
		}
		ns.Objects = append(ns.Objects, *obj)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, objView(ns.Namespace, *obj, true))
}

// showObject serves GET .../objects/{name}.
func (s *Service) showObject(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	i := findObject(ns, name)
	if i < 0 {
		return objectNotFound(name, ns.Namespace)
	}
	return writeJSON(w, http.StatusOK, objView(ns.Namespace, ns.Objects[i], true))
}

// updateObject serves PUT .../objects/{name}: replaces the object
// (absent attributes become unset) and may rename it.
func (s *Service) updateObject(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	in, err := parseObject(raw, now)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	var out object
	ns, err := s.update(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_object", func(ns *namespace) error {
		i := findObject(ns, name)
		if i < 0 {
			return objectNotFound(name, ns.Namespace)
		}
		if j := findObject(ns, in.Name); j >= 0 && j != i {
			return dupObject(in.Name, ns.Namespace)
		}
		out = *in
		out.CreatedAt = ns.Objects[i].CreatedAt
		ns.Objects[i] = out
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, objView(ns.Namespace, out, true))
}

// deleteObject finds an object for deleteNamed and returns its removal.
func deleteObject(ns *namespace, name string) (func(), error) {
	i := findObject(ns, name)
	if i < 0 {
		return nil, objectNotFound(name, ns.Namespace)
	}
	return func() { ns.Objects = slices.Delete(ns.Objects, i, i+1) }, nil
}
