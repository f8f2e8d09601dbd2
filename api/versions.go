package api

import (
	"net/http"
	"strings"

	"github.com/p2pglance/p2pglance/api/schema"
)

// versionIDs lists the advertised versions, newest first: v2.18 (CURRENT)
// down to v2.0 (SUPPORTED), contiguous. This is what stock Glance emits with
// both the image cache and multiple stores enabled (glance/api/versions.py);
// we serve every feature of that configuration.
var versionIDs = []string{
	"v2.18", "v2.17", "v2.16", "v2.15", "v2.14", "v2.13", "v2.12",
	"v2.11", "v2.10", "v2.9", "v2.8", "v2.7", "v2.6", "v2.5", "v2.4",
	"v2.3", "v2.2", "v2.1", "v2.0",
}

// advertisedVersions is the set of first path segments that select the v2
// API: "v2" plus every entry of versionIDs (exact, case-sensitive match, as
// Glance's version negotiation middleware does).
var advertisedVersions = func() map[string]bool {
	m := map[string]bool{"v2": true}
	for _, id := range versionIDs {
		m[id] = true
	}
	return m
}()

// versionsBody returns the versions document for baseURL (scheme://host,
// optionally with a path prefix): Python json.dumps formatting, key order
// id, status, links, and every href "<base>/v2/" whatever the minor version.
func versionsBody(baseURL string) []byte {
	href := schema.Quote(strings.TrimRight(baseURL, "/") + "/v2/")
	var b strings.Builder
	b.Grow(len(versionIDs) * (80 + len(href)))
	b.WriteString(`{"versions": [`)
	for i, id := range versionIDs {
		if i > 0 {
			b.WriteString(", ")
		}
		status := "SUPPORTED"
		if i == 0 {
			status = "CURRENT"
		}
		b.WriteString(`{"id": "`)
		b.WriteString(id)
		b.WriteString(`", "status": "`)
		b.WriteString(status)
		b.WriteString(`", "links": [{"rel": "self", "href": `)
		b.WriteString(href)
		b.WriteString(`}]}`)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// isAdvertisedVersion reports whether seg (a first path segment such as
// "v2" or "v2.12") names an advertised version.
func isAdvertisedVersion(seg string) bool {
	return advertisedVersions[seg]
}

// baseURL returns scheme://host of the request, without a trailing slash,
// as WebOb's host_url computes it: the scheme is the first value of
// X-Forwarded-Proto when present (as oslo's http_proxy_to_wsgi sets it),
// else https for TLS connections and http otherwise; the host is the Host
// header, with the port dropped when it is the scheme's default.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p, _, _ = strings.Cut(p, ",")
		if p = strings.ToLower(strings.TrimSpace(p)); versionsIsScheme(p) {
			scheme = p
		}
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	if host == "" {
		host = "localhost"
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		port := host[i+1:]
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = host[:i]
		}
	}
	return scheme + "://" + host
}

// versionsIsScheme reports whether s is a syntactically valid URL scheme
// (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), lower-case.
func versionsIsScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
