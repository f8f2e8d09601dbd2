package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Objects and properties of a namespace
// (glance/api/v2/metadef_objects.py, metadef_properties.py).

func mdObjectNotFound(name, ns string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition object with name=%s was not found in namespace=%s.", name, ns)}
}

func mdPropertyNotFound(name, ns string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition property with name=%s was not found in namespace=%s.", name, ns)}
}

// mdListObjects serves GET .../objects. Like Glance, it validates limit,
// sort_dir and visibility but returns every object, without paging, and
// with Glance's schema link (which lacks its leading slash). A request
// body is ignored, as in Glance.
func (s *Server) mdListObjects(w http.ResponseWriter, r *http.Request) error {
	ps := mdQuery(r)
	if _, err := mdSortDir(ps); err != nil {
		return err
	}
	if _, err := mdVisibilityFilter(ps, mdPublic, mdPrivate, "shared"); err != nil {
		return err
	}
	if _, err := mdLimit(ps, 0, true); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	out := struct {
		Objects []mdObjectView `json:"objects"`
		Schema  string         `json:"schema"`
	}{Objects: []mdObjectView{}, Schema: "v2/schemas/metadefs/objects"}
	for _, o := range ns.Objects {
		out.Objects = append(out.Objects, mdObjView(ns.Namespace, o, true))
	}
	return mdWrite(w, http.StatusOK, out)
}

// mdCreateObject serves POST .../objects: 201 with the object.
func (s *Server) mdCreateObject(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	obj, err := mdParseObject(raw, now)
	if err != nil {
		return err
	}
	ns, err := s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "add_metadef_object", func(ns *mdNamespace) error {
		if mdFindObject(ns, obj.Name) >= 0 {
			return mdDupObject(obj.Name, ns.Namespace)
		}
		ns.Objects = append(ns.Objects, *obj)
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusCreated, mdObjView(ns.Namespace, *obj, true))
}

// mdShowObject serves GET .../objects/{name}.
func (s *Server) mdShowObject(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	i := mdFindObject(ns, name)
	if i < 0 {
		return mdObjectNotFound(name, ns.Namespace)
	}
	return mdWrite(w, http.StatusOK, mdObjView(ns.Namespace, ns.Objects[i], true))
}

// mdUpdateObject serves PUT .../objects/{name}: replaces the object
// (absent attributes become unset) and may rename it.
func (s *Server) mdUpdateObject(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "self", "schema", "created_at", "updated_at")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	in, err := mdParseObject(raw, now)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	var out mdObject
	ns, err := s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_object", func(ns *mdNamespace) error {
		i := mdFindObject(ns, name)
		if i < 0 {
			return mdObjectNotFound(name, ns.Namespace)
		}
		if j := mdFindObject(ns, in.Name); j >= 0 && j != i {
			return mdDupObject(in.Name, ns.Namespace)
		}
		out = *in
		out.CreatedAt = ns.Objects[i].CreatedAt
		ns.Objects[i] = out
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusOK, mdObjView(ns.Namespace, out, true))
}

// mdListProperties serves GET .../properties: {"properties": {name: def}}.
func (s *Server) mdListProperties(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	props := ns.Properties
	if props == nil {
		props = mdProps{}
	}
	return mdWrite(w, http.StatusOK, struct {
		Properties mdProps `json:"properties"`
	}{props})
}

// mdCreateProperty serves POST .../properties: 201 with the property.
func (s *Server) mdCreateProperty(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	prop, err := mdParseProperty("property", raw, true)
	if err != nil {
		return err
	}
	_, err = s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "add_metadef_property", func(ns *mdNamespace) error {
		if ns.Properties.find(prop.Name) >= 0 {
			return mdDupProperty(prop.Name, ns.Namespace)
		}
		ns.Properties = append(ns.Properties, *prop)
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusCreated, prop)
}

// mdShowProperty serves GET .../properties/{name}. With ?resource_type=,
// name carries that association's prefix, which is removed first.
func (s *Server) mdShowProperty(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.mdLoad(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if rt := r.URL.Query().Get("resource_type"); rt != "" {
		i := mdFindAssociation(ns, rt)
		if i < 0 {
			return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s, was not found.", rt, ns.Namespace)}
		}
		prefix := ""
		if p := ns.Associations[i].Prefix; p != nil {
			prefix = *p
		}
		if prefix == "" || !strings.HasPrefix(name, prefix) {
			return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Property %s does not start with the expected resource type association prefix of '%s'.", name, prefix)}
		}
		name = strings.TrimPrefix(name, prefix)
	}
	i := ns.Properties.find(name)
	if i < 0 {
		return mdPropertyNotFound(name, ns.Namespace)
	}
	return mdWrite(w, http.StatusOK, ns.Properties[i])
}

// mdUpdateProperty serves PUT .../properties/{name}: replaces the
// definition and may rename it.
func (s *Server) mdUpdateProperty(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := mdReadBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	prop, err := mdParseProperty("property", raw, true)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	_, err = s.mdUpdate(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_property", func(ns *mdNamespace) error {
		i := ns.Properties.find(name)
		if i < 0 {
			return mdPropertyNotFound(name, ns.Namespace)
		}
		if j := ns.Properties.find(prop.Name); j >= 0 && j != i {
			return mdDupProperty(prop.Name, ns.Namespace)
		}
		ns.Properties[i] = *prop
		return nil
	})
	if err != nil {
		return err
	}
	return mdWrite(w, http.StatusOK, prop)
}
