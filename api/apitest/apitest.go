package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/api/webob"
)

// Do serves one request to h, asking for JSON; path may carry a query
// and is used as sent (not re-encoded). hdr holds header pairs: the
// caller's identity first, then the request's own.
func Do(h http.Handler, path, method, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL = &url.URL{Path: path}
	if p, q, ok := strings.Cut(path, "?"); ok {
		req.URL = &url.URL{Path: p, RawQuery: q}
	}
	req.RequestURI = path
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// CheckAnswer enforces the properties every fuzzed request shares: no
// 5xx, and a 4xx is Glance's JSON error document (WebOb's json_body) for
// its status.
func CheckAnswer(t testing.TB, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var e map[string]any
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: %d with Content-Type %q", what, rec.Code, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e) != 3 {
		t.Fatalf("%s: %d body is not a Glance error: %s", what, rec.Code, rec.Body)
	}
	title, _ := e["title"].(string)
	_, isMsg := e["message"].(string)
	if !isMsg || !webob.Known(rec.Code) || title != webob.Title(rec.Code) || e["code"] != fmt.Sprintf("%d %s", rec.Code, title) {
		t.Fatalf("%s: %d body is not Glance's error for its status: %s", what, rec.Code, rec.Body)
	}
}
