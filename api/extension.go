package api

import (
	"context"
	"net/http"
	"time"
)

// An extension is a set of routes the Server serves beside its own (see
// Config.Extensions), in another package. Its handlers run behind the
// same wrapper as the built-in ones (request id, admission, idle
// transfer timeout, identity, read barrier, error answers), and use the
// helpers below for what Glance's handlers share: reading a JSON body,
// refusing an unexpected one, the caller's identity, links and times.

// Extension supplies routes to a Server.
type Extension interface {
	// Routes returns the routes to serve. New calls it once.
	Routes() []Route
}

// HandlerFunc is a handler that reports failure by returning an error:
// an *Error is answered as it is, any other error is mapped to Glance's
// status and body (errmap.go).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one path (a gorilla/mux pattern) with its handlers per
// method. Any other method is answered 405 with Allow as the Allow
// header, as Glance does.
type Route struct {
	Path    string
	Methods map[string]HandlerFunc
	Allow   string
}

// List limits from Glance's defaults, shared by every list.
const (
	// DefaultLimit is the page size of a list without limit
	// (limit_param_default).
	DefaultLimit = defaultLimit
	// MaxLimit caps a list's limit (api_limit_max).
	MaxLimit = maxLimit
)

// ReadJSON decodes a request body that must be a JSON object or array
// of at most 1 MiB of UTF-8 into v, refusing anything else with
// Glance's 400 or 413.
func ReadJSON(r *http.Request, v any) error { return readJSON(r, v) }

// RejectBody answers Glance's 400 when a request that takes no body has
// one.
func RejectBody(r *http.Request) error { return rejectBody(r) }

// AuthFrom returns the identity a request acts as (an admin without a
// project when ctx carries none).
func AuthFrom(ctx context.Context) *Auth { return authFrom(ctx) }

// BaseURL returns the scheme://host of the request as Glance sees it,
// for absolute links such as a Location header.
func BaseURL(r *http.Request) string { return baseURL(r) }

// GlanceTime formats t as Glance's JSON shows times (UTC, seconds).
func GlanceTime(t time.Time) string { return glanceTime(t) }
