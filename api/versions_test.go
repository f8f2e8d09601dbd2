package api

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestVersionsBody(t *testing.T) {
	body := versionsBody("http://glance.example:9292/")
	var doc struct {
		Versions []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Links  []struct {
				Rel  string `json:"rel"`
				Href string `json:"href"`
			} `json:"links"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, body)
	}
	if len(doc.Versions) != 19 {
		t.Fatalf("got %d versions, want 19", len(doc.Versions))
	}
	current := 0
	for i, v := range doc.Versions {
		if want := fmt.Sprintf("v2.%d", 18-i); v.ID != want {
			t.Errorf("versions[%d].id = %q, want %q", i, v.ID, want)
		}
		switch v.Status {
		case "CURRENT":
			current++
			if i != 0 {
				t.Errorf("CURRENT at index %d, want 0", i)
			}
		case "SUPPORTED":
		default:
			t.Errorf("versions[%d].status = %q", i, v.Status)
		}
		if len(v.Links) != 1 || v.Links[0].Rel != "self" || v.Links[0].Href != "http://glance.example:9292/v2/" {
			t.Errorf("versions[%d].links = %+v", i, v.Links)
		}
	}
	if current != 1 {
		t.Errorf("%d CURRENT entries, want 1", current)
	}
	// Python json.dumps layout and key order.
	wantPrefix := `{"versions": [{"id": "v2.18", "status": "CURRENT", "links": [{"rel": "self", "href": "http://glance.example:9292/v2/"}]}, {"id": "v2.17", "status": "SUPPORTED", `
	if !strings.HasPrefix(string(body), wantPrefix) {
		t.Errorf("body starts %q", body[:min(len(body), len(wantPrefix))])
	}
	if !strings.HasSuffix(string(body), `{"id": "v2.0", "status": "SUPPORTED", "links": [{"rel": "self", "href": "http://glance.example:9292/v2/"}]}]}`) {
		t.Errorf("body ends %q", body[max(0, len(body)-120):])
	}
	if got := string(versionsBody("https://lb.example/image")); !strings.Contains(got, `"href": "https://lb.example/image/v2/"`) {
		t.Errorf("path prefix not kept: %s", got)
	}
}

func TestIsAdvertisedVersion(t *testing.T) {
	for _, s := range []string{"v2", "v2.0", "v2.1", "v2.9", "v2.10", "v2.17", "v2.18"} {
		if !isAdvertisedVersion(s) {
			t.Errorf("isAdvertisedVersion(%q) = false", s)
		}
	}
	for _, s := range []string{"", "v1", "v1.0", "v2.19", "v2.00", "v2.01", "V2", "v3", "v2.", "versions", "images"} {
		if isAdvertisedVersion(s) {
			t.Errorf("isAdvertisedVersion(%q) = true", s)
		}
	}
}

func TestVersionBaseURL(t *testing.T) {
	cases := []struct {
		host, proto string
		tls         bool
		want        string
	}{
		{"glance:9292", "", false, "http://glance:9292"},
		{"glance:80", "", false, "http://glance"},
		{"glance:443", "", false, "http://glance:443"},
		{"glance:443", "", true, "https://glance"},
		{"glance:443", "https", false, "https://glance"},
		{"glance:9292", "HTTPS, http", false, "https://glance:9292"},
		{"glance:9292", "bad scheme!", false, "http://glance:9292"},
		{"[::1]:80", "", false, "http://[::1]"},
		{"[::1]", "", false, "http://[::1]"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/versions", nil)
		r.Host = c.host
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := baseURL(r); got != c.want {
			t.Errorf("baseURL(host=%q, proto=%q, tls=%v) = %q, want %q", c.host, c.proto, c.tls, got, c.want)
		}
	}
}
