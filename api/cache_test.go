package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// TestCacheWithoutCache: a Backend without a cache answers the cache API
// as a Glance without image_cache_dir: policy first (403), then 404.
func TestCacheWithoutCache(t *testing.T) {
	s, _ := newMemServer(t, catalog.StatusActive)
	user := []string{"X-Project-Id", "p1", "X-Roles", "member,reader"}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/cache"},
		{"DELETE", "/v2/cache"},
		{"POST", "/v2/cache/clean"},
		{"POST", "/v2/cache/prune"},
		{"PUT", "/v2/cache/" + testImageID},
		{"GET", "/v2/cache/nodes/" + testImageID},
	} {
		if rec := memDo(t, s, tc.method, tc.path, "", user...); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as a member: %d, want 403", tc.method, tc.path, rec.Code)
		}
		rec := memDo(t, s, tc.method, tc.path, "", "Accept", "application/json")
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Caching via API is not supported at this site.") {
			t.Errorf("%s %s as admin: %d %s, want 404", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	if rec := memDo(t, s, "POST", "/v2/cache", ""); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, DELETE" {
		t.Errorf("POST /v2/cache: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestPyEpoch(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "0.0"},
		{time.Unix(1700000000, 0), "1700000000.0"},
		{time.Unix(1700000000, 250000000), "1700000000.25"},
	} {
		if got := pyEpoch(tc.t); got != tc.want {
			t.Errorf("pyEpoch(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}
