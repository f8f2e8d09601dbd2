package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// infoImport serves GET /v2/info/import: the enabled import methods.
func (s *Server) infoImport(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	o := newObject()
	o.str("description", "Import methods available.")
	o.str("type", "array")
	o.raw("value", importMethodsJSON(s.cfg.Backend.ImportMethods()))
	return writeRawJSON(w, http.StatusOK, `{"import-methods": `+o.close()+`}`)
}

// infoStores serves GET /v2/info/stores: the default store and one store
// per zone. "default" is the string "true", present only when true.
func (s *Server) infoStores(w http.ResponseWriter, r *http.Request) error {
	return s.writeStores(w, r, false)
}

// infoStoresDetail serves GET /v2/info/stores/detail (admin or service
// role): the stores with their type, weight and properties.
func (s *Server) infoStoresDetail(w http.ResponseWriter, r *http.Request) error {
	if a := authFrom(r.Context()); !a.Admin && !a.HasRole("service") {
		return &Error{Status: http.StatusForbidden, Explanation: "You are not authorized to complete stores_info_detail action."}
	}
	return s.writeStores(w, r, true)
}

func (s *Server) writeStores(w http.ResponseWriter, r *http.Request, detail bool) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	stores, err := s.cfg.Backend.Stores(r.Context())
	if err != nil {
		return err
	}
	items := make([]string, 0, len(stores))
	for _, st := range stores {
		o := newObject()
		o.str("id", st.ID)
		if st.Description != "" {
			o.str("description", st.Description)
		}
		if st.Default {
			o.str("default", "true")
		}
		if detail {
			o.str("type", st.Type)
			o.raw("weight", "0")
			props, err := json.Marshal(st.Properties)
			if err != nil {
				return fmt.Errorf("encode store properties: %w", err)
			}
			if st.Properties == nil {
				props = []byte("{}")
			}
			o.raw("properties", pyJSON(props))
		}
		items = append(items, o.close())
	}
	return writeRawJSON(w, http.StatusOK, `{"stores": [`+strings.Join(items, ", ")+`]}`)
}
