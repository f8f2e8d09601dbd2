package api

import (
	_ "embed"
	"net/http"
)

// dashboard is the operator's dashboard: one page, no external resources
// (it works offline), which reads the public JSON API with the browser's
// credentials (an admin token in Keystone mode) and refreshes itself.
//
//go:embed ui/index.html
var dashboard []byte

// serveDashboard answers GET /p2p/ui. The page holds no data: it needs no
// auth, the API calls it makes do.
func serveDashboard(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	// Only this page's own script and style, and calls to this origin.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(dashboard)
	}
}
