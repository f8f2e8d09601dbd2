package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// discoveryAPI serves what a client asks before it imports: the import
// methods, the stores and the caller's quota usage (/v2/info/*).
type discoveryAPI struct {
	backend Backend
}

var _ Extension = (*discoveryAPI)(nil)

// Routes are the discovery routes.
func (da *discoveryAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/info/import", Methods: map[string]HandlerFunc{"GET": da.infoImport}, Allow: "GET"},
		{Path: "/v2/info/stores", Methods: map[string]HandlerFunc{"GET": da.infoStores}, Allow: "GET"},
		{Path: "/v2/info/stores/detail", Methods: map[string]HandlerFunc{"GET": da.infoStoresDetail}, Allow: "GET"},
		{Path: "/v2/info/usage", Methods: map[string]HandlerFunc{"GET": da.infoUsage}, Allow: "GET"},
	}
}

// infoImport serves GET /v2/info/import: the enabled import methods.
func (da *discoveryAPI) infoImport(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	o := newObject()
	o.str("description", "Import methods available.")
	o.str("type", "array")
	o.raw("value", importMethodsJSON(da.backend.ImportMethods()))
	return writeRawJSON(w, http.StatusOK, `{"import-methods": `+o.close()+`}`)
}

// infoStores serves GET /v2/info/stores: the default store and one store
// per zone. "default" is the string "true", present only when true.
func (da *discoveryAPI) infoStores(w http.ResponseWriter, r *http.Request) error {
	return da.writeStores(w, r, false)
}

// infoStoresDetail serves GET /v2/info/stores/detail (admin or service
// role): the stores with their type, weight and properties.
func (da *discoveryAPI) infoStoresDetail(w http.ResponseWriter, r *http.Request) error {
	if a := authFrom(r.Context()); !a.Admin && !a.HasRole("service") {
		return &Error{Status: http.StatusForbidden, Explanation: "You are not authorized to complete stores_info_detail action."}
	}
	return da.writeStores(w, r, true)
}

func (da *discoveryAPI) writeStores(w http.ResponseWriter, r *http.Request, detail bool) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	stores, err := da.backend.Stores(r.Context())
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

// infoUsage serves GET /v2/info/usage: the caller's project usage with
// its limits, sizes in MiB, -1 for unlimited. With no quota configured
// it is {"usage": {}}, as Glance answers without Keystone limits
// (use_keystone_limits off); with any, the four resources, as Glance
// answers with them.
func (da *discoveryAPI) infoUsage(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	if !da.backend.Quotas().Limited() {
		return writeRawJSON(w, http.StatusOK, `{"usage": {}}`)
	}
	u, err := da.backend.Usage(r.Context(), authFrom(r.Context()).Project)
	if err != nil {
		return err
	}
	item := func(it catalog.UsageItem, size bool) string {
		usage, limit := it.Usage, it.Limit
		if size {
			usage, limit = usage/mib, ceilMiB(limit)
		}
		if it.Limit <= 0 {
			limit = -1
		}
		return fmt.Sprintf(`{"limit": %d, "usage": %d}`, limit, usage)
	}
	o := newObject()
	o.raw("image_size_total", item(u.ImageSizeTotal, true))
	o.raw("image_stage_total", item(u.ImageStageTotal, true))
	o.raw("image_count_total", item(u.ImageCountTotal, false))
	o.raw("image_count_uploading", item(u.ImageCountUploading, false))
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write([]byte(`{"usage": ` + o.close() + `}`))
	return err
}
