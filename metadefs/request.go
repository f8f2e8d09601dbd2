package metadefs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/p2pglance/p2pglance/api"
)

// Reading requests: JSON bodies and query parameters as Glance's
// metadefs controllers and deserializers take them.

// readBody reads a request body that must be a JSON object, refusing
// the read-only keys given (403, in order). It returns the body and its
// members by key.
func readBody(r *http.Request, readOnly ...string) (json.RawMessage, map[string]json.RawMessage, error) {
	var raw json.RawMessage
	if err := api.ReadJSON(r, &raw); err != nil {
		return nil, nil, err
	}
	kvs, ok := objectKVs(raw)
	if !ok {
		return nil, nil, &api.Error{Status: http.StatusBadRequest, Explanation: "Unexpected body type. Expected dict."}
	}
	m := make(map[string]json.RawMessage, len(kvs))
	for _, kv := range kvs {
		m[kv.key] = kv.val
	}
	if err := rejectReadOnly(m, readOnly...); err != nil {
		return nil, nil, err
	}
	return raw, m, nil
}

// rejectReadOnly refuses the attributes Glance's deserializers reject as
// read-only in a request body, in Glance's order.
func rejectReadOnly(body map[string]json.RawMessage, keys ...string) error {
	for _, k := range keys {
		if _, ok := body[k]; ok {
			return readOnlyError(k)
		}
	}
	return nil
}

// readOnlyError is Glance's 403 for a read-only attribute in a body.
func readOnlyError(key string) *api.Error {
	return &api.Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Attribute '%s' is read-only.", key)}
}

// badRequest is a 400 with a formatted explanation.
func badRequest(format string, args ...any) *api.Error {
	return &api.Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf(format, args...)}
}

// queryParams returns the query parameters as Python's dict(request.params)
// sees them: in first-seen order, a repeated key with its last value.
func queryParams(r *http.Request) []api.QueryParam { return api.QueryAsDict(r.URL.RawQuery) }

// paramValue returns a parameter's value.
func paramValue(ps []api.QueryParam, key string) (string, bool) {
	for _, p := range ps {
		if p.Name == key {
			return p.Value, true
		}
	}
	return "", false
}

// parseLimit parses the limit parameter: def when absent, at most 1000.
// positive refuses 0, as the objects list does.
func parseLimit(ps []api.QueryParam, def int, positive bool) (int, error) {
	v, ok := paramValue(ps, "limit")
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
	return min(n, api.MaxLimit), nil
}

// parseSortDir parses sort_dir (default desc).
func parseSortDir(ps []api.QueryParam) (desc bool, err error) {
	v, ok := paramValue(ps, "sort_dir")
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

// visibilityFilter validates the visibility parameter against values.
func visibilityFilter(ps []api.QueryParam, values ...string) (string, error) {
	v, _ := paramValue(ps, "visibility")
	if v != "" && !slices.Contains(values, v) {
		return "", badRequest("Invalid visibility value: %s", v)
	}
	return v, nil
}
