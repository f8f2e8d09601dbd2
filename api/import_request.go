package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// importRequest is a parsed POST /v2/images/{id}/import body.
type importRequest struct {
	raw         json.RawMessage // the body as sent (the task's import_req)
	method      string
	uri         string // web-download
	region      string // glance-download
	remoteID    string // glance-download
	iface       string // glance-download (glance_service_interface)
	stores      []string
	allStores   bool
	mustSucceed bool
	header      string // X-Image-Meta-catalog.Store
}

// parseImportRequest validates an import body as Glance does
// (_validate_import_body and get_stores_from_request): every failure is
// 400. Keys it does not know are ignored (gophercloud sends "uri": "" with
// glance-direct).
func (ip *importAPI) parseImportRequest(r *http.Request) (*importRequest, error) {
	var doc json.RawMessage
	if err := readJSON(r, &doc); err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(doc, &body); err != nil || body == nil {
		return nil, &Error{Status: http.StatusBadRequest, Explanation: "Unexpected body type. Expected dict."}
	}
	raw, _ := json.Marshal(body)
	req := &importRequest{raw: raw, mustSucceed: true, header: strings.TrimSpace(r.Header.Get("X-Image-Meta-Store"))}
	mraw, ok := body["method"]
	if !ok {
		return nil, badRequest("Import request requires a 'method' field.")
	}
	var method map[string]json.RawMessage
	if err := json.Unmarshal(mraw, &method); err != nil || method == nil {
		return nil, badRequest("Import request requires a 'method' field.")
	}
	nraw, ok := method["name"]
	if !ok {
		return nil, badRequest("Import request requires a 'name' field.")
	}
	if err := json.Unmarshal(nraw, &req.method); err != nil || !slices.Contains(ip.backend.ImportMethods(), req.method) {
		return nil, badRequest("Unknown import method name '%s'.", strings.Trim(string(nraw), `"`))
	}
	// In Glance's order; null is not a boolean either.
	for _, opt := range []struct {
		key string
		dst *bool
	}{{"all_stores_must_succeed", &req.mustSucceed}, {"all_stores", &req.allStores}} {
		if v, ok := body[opt.key]; ok {
			if isNull(v) || json.Unmarshal(v, opt.dst) != nil {
				return nil, badRequest("'%s' must be boolean value only", opt.key)
			}
		}
	}
	if v, ok := body["stores"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &req.stores); err != nil {
			return nil, badRequest("'stores' must be a list of store identifiers.")
		}
	}
	// Glance refuses the key "stores" even when empty or null.
	_, hasStores := body["stores"]
	switch {
	case req.allStores && (hasStores || req.header != ""):
		return nil, badRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter")
	case hasStores && req.header != "":
		return nil, badRequest("Stores parameter and x-image-meta-store header can't be both specified")
	}
	methodString := func(key string) (string, bool) {
		v, ok := method[key]
		if !ok || isNull(v) {
			return "", false
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	switch req.method {
	case catalog.MethodWebDownload:
		req.uri, _ = methodString("uri")
		if !ip.srv.allowedURL(req.uri) {
			return nil, badRequest("URI for web-download does not pass filtering: %s", req.uri)
		}
	case catalog.MethodGlanceDownload:
		var ok bool
		if req.region, ok = methodString("glance_region"); !ok || req.region == "" {
			return nil, badRequest("'glance_region' needs to be set for glance-download import method")
		}
		if req.remoteID, ok = methodString("glance_image_id"); !ok || req.remoteID == "" {
			return nil, badRequest("'glance_image_id' needs to be set for glance-download import method")
		}
		if !uuidPattern.MatchString(req.remoteID) {
			return nil, badRequest("Remote image id does not look like a UUID: %s", req.remoteID)
		}
		if req.iface, ok = methodString("glance_service_interface"); !ok || req.iface == "" {
			req.iface = "public"
		}
	}
	return req, nil
}

// validImportURI is the URI filter of web-download and of the tasks API's
// import_from: http or https with a host.
func validImportURI(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return true
	}
	return false
}

// allowedURL reports whether the cluster may read u for a user: an http
// or https URL with a host that Config.AllowURL lets through.
func (s *Server) allowedURL(u string) bool {
	return validImportURI(u) && (s.cfg.AllowURL == nil || s.cfg.AllowURL(u))
}

// importMethodsJSON is the value list of /v2/info/import.
func importMethodsJSON(methods []string) string {
	q := make([]string, len(methods))
	for i, m := range methods {
		q[i] = jsonString(m)
	}
	return fmt.Sprintf("[%s]", strings.Join(q, ", "))
}
