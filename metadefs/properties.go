package metadefs

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/api"
)

// Properties of a namespace (glance/api/v2/metadef_properties.py).

// propertyNotFound is the 404 for an unknown property.
func propertyNotFound(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition property with name=%s was not found in namespace=%s.", name, ns)}
}

// dupProperty is Glance's 409 for a property name already in use.
func dupProperty(name, ns string) *api.Error {
	return &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata definition property with name=%s already exists in namespace=%s.", name, ns)}
}

// listProperties serves GET .../properties: {"properties": {name: def}}.
func (s *Service) listProperties(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	props := ns.Properties
	if props == nil {
		props = properties{}
	}
	return writeJSON(w, http.StatusOK, struct {
		Properties properties `json:"properties"`
	}{props})
}

// createProperty serves POST .../properties: 201 with the property.
func (s *Service) createProperty(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	prop, err := parseProperty("property", raw, true)
	if err != nil {
		return err
	}
	_, err = s.update(r.Context(), mux.Vars(r)["namespace"], "add_metadef_property", func(ns *namespace) error {
		if ns.Properties.find(prop.Name) >= 0 {
			return dupProperty(prop.Name, ns.Namespace)
		}
		ns.Properties = append(ns.Properties, *prop)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, prop)
}

// showProperty serves GET .../properties/{name}. With ?resource_type=,
// name carries that association's prefix, which is removed first.
func (s *Service) showProperty(w http.ResponseWriter, r *http.Request) error {
	if err := api.RejectBody(r); err != nil {
		return err
	}
	ns, _, err := s.load(r.Context(), mux.Vars(r)["namespace"], false)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if rt := r.URL.Query().Get("resource_type"); rt != "" {
		i := findAssociation(ns, rt)
		if i < 0 {
			return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s, was not found.", rt, ns.Namespace)}
		}
		prefix := ""
		if p := ns.Associations[i].Prefix; p != nil {
			prefix = *p
		}
		if prefix == "" || !strings.HasPrefix(name, prefix) {
			return &api.Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Property %s does not start with the expected resource type association prefix of '%s'.", name, prefix)}
		}
		name = strings.TrimPrefix(name, prefix)
	}
	i := ns.Properties.find(name)
	if i < 0 {
		return propertyNotFound(name, ns.Namespace)
	}
	return writeJSON(w, http.StatusOK, ns.Properties[i])
}

// updateProperty serves PUT .../properties/{name}: replaces the
// definition and may rename it.
func (s *Service) updateProperty(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := readBody(r, "created_at", "updated_at")
	if err != nil {
		return err
	}
	prop, err := parseProperty("property", raw, true)
	if err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	_, err = s.update(r.Context(), mux.Vars(r)["namespace"], "modify_metadef_property", func(ns *namespace) error {
		i := ns.Properties.find(name)
		if i < 0 {
			return propertyNotFound(name, ns.Namespace)
		}
		if j := ns.Properties.find(prop.Name); j >= 0 && j != i {
			return dupProperty(prop.Name, ns.Namespace)
		}
		ns.Properties[i] = *prop
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, prop)
}

// deleteProperty finds a property for deleteNamed and returns its
// removal.
func deleteProperty(ns *namespace, name string) (func(), error) {
	i := ns.Properties.find(name)
	if i < 0 {
		return nil, propertyNotFound(name, ns.Namespace)
	}
	return func() { ns.Properties = slices.Delete(ns.Properties, i, i+1) }, nil
}
