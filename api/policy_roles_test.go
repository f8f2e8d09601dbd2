package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestRoleOnlyRules checks Glance's add_image and get_images defaults:
// creating an image needs the member role in the caller's project,
// listing needs reader; admins need neither. A refusal is 403 and
// creates nothing.
func TestRoleOnlyRules(t *testing.T) {
	s, b := newMemServer(t, "active")
	create := `{"name": "x", "disk_format": "raw", "container_format": "bare"}`
	count := func() int { return len(b.images) }
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
		refusedAction            string
	}{
		{"reader may not create", "POST", "/v2/images", create, []string{"X-Project-Id", "p1", "X-Roles", "reader"}, http.StatusForbidden, "add_image"},
		{"member may create", "POST", "/v2/images", create, []string{"X-Project-Id", "p1", "X-Roles", "member"}, http.StatusCreated, ""},
		{"admin may create", "POST", "/v2/images", create, []string{"X-Roles", "admin"}, http.StatusCreated, ""},
		{"no role may not list", "GET", "/v2/images", "", []string{"X-Project-Id", "p1", "X-Roles", "none"}, http.StatusForbidden, "get_images"},
		{"reader may list", "GET", "/v2/images", "", []string{"X-Project-Id", "p1", "X-Roles", "reader"}, http.StatusOK, ""},
		{"member alone may not list", "GET", "/v2/images", "", []string{"X-Project-Id", "p1", "X-Roles", "member"}, http.StatusForbidden, "get_images"},
		{"bad query is 400 before policy", "GET", "/v2/images?limit=x", "", []string{"X-Project-Id", "p1", "X-Roles", "none"}, http.StatusBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := count()
			hdr := append([]string{"Accept", "application/json"}, c.hdr...)
			if c.body != "" {
				hdr = append(hdr, "Content-Type", "application/json")
			}
			rec := memDo(t, s, c.method, c.path, c.body, hdr...)
			if rec.Code != c.want {
				t.Fatalf("%s %s as %v: %d %s, want %d", c.method, c.path, c.hdr, rec.Code, rec.Body, c.want)
			}
			if c.refusedAction != "" {
				if !strings.Contains(rec.Body.String(), "not authorized to complete "+c.refusedAction+" action") {
					t.Errorf("refusal body %s does not name %s", rec.Body, c.refusedAction)
				}
				if count() != before {
					t.Errorf("a refused request changed the catalog: %d images, had %d", count(), before)
				}
			}
		})
	}
}
