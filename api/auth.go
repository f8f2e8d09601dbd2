package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/api/keystone"
)

// Auth modes.
const (
	// AuthNoauth trusts the X-Project-Id / X-Tenant-Id / X-Roles headers
	// (development, trusted proxies). A request with none of them is an
	// admin without a project, as Glance's noauth pipeline treats every
	// request.
	AuthNoauth = "noauth"
	// AuthKeystone validates X-Auth-Token with Keystone's Identity v3 API
	// (Config.Keystone); the identity comes from the token only.
	AuthKeystone = "keystone"
)

// Auth is the identity a request acts as.
type Auth struct {
	Project string
	User    string
	Roles   []string
	Admin   bool
}

type authKey struct{}

// authFrom returns the request's identity (set by the auth middleware).
func authFrom(ctx context.Context) *Auth {
	if a, ok := ctx.Value(authKey{}).(*Auth); ok {
		return a
	}
	return &Auth{Admin: true}
}

// HasRole reports whether the identity holds role (lower-case).
func (a *Auth) HasRole(role string) bool { return slices.Contains(a.Roles, role) }

// identity resolves the identity a request acts as, in the server's auth
// mode. An error is the answer to send instead (httpError maps Keystone's
// refusal to 401 and its trouble to 503).
func (s *Server) identity(r *http.Request) (*Auth, error) {
	if s.keystone != nil {
		return keystoneIdentity(s.keystone, r)
	}
	return noauthIdentity(r), nil
}

// keystoneIdentity validates r's X-Auth-Token (or X-Storage-Token) with
// v. No token is an error wrapping keystone.ErrTokenInvalid, like a
// refused one.
func keystoneIdentity(v *keystone.Validator, r *http.Request) (*Auth, error) {
	tok := firstHeader(r, "X-Auth-Token", "X-Storage-Token")
	if tok == "" {
		return nil, fmt.Errorf("no X-Auth-Token: %w", keystone.ErrTokenInvalid)
	}
	id, err := v.Validate(r.Context(), tok)
	if err != nil {
		return nil, err // already says what failed
	}
	return &Auth{Project: id.Project, User: id.User, Roles: id.Roles, Admin: id.Admin}, nil
}

// keystoneUnauthorized is Glance's bare 401 for err, with
// keystonemiddleware's WWW-Authenticate header naming v's Keystone (none
// when v is nil).
func keystoneUnauthorized(v *keystone.Validator, err error) *Error {
	e := &Error{Status: http.StatusUnauthorized, Err: err}
	if v != nil {
		e.Header = http.Header{"Www-Authenticate": []string{`Keystone uri="` + v.URL() + `"`}}
	}
	return e
}

// noauthIdentity builds the identity of a request in noauth mode. With a
// project header but no X-Roles, the caller gets the member and reader
// roles, so a plain `curl -H 'X-Project-Id: p'` can create and download.
func noauthIdentity(r *http.Request) *Auth {
	project := firstHeader(r, "X-Project-Id", "X-Tenant-Id", "X-Tenant")
	roles := splitRoles(firstHeader(r, "X-Roles", "X-Role"))
	if project == "" && len(roles) == 0 {
		return &Auth{Admin: true, Roles: []string{"admin", "member", "reader"}}
	}
	if len(roles) == 0 {
		roles = []string{"member", "reader"}
	}
	return &Auth{
		Project: project,
		User:    firstHeader(r, "X-User-Id", "X-User"),
		Roles:   roles,
		Admin:   slices.Contains(roles, "admin"),
	}
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(r.Header.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// splitRoles parses a comma-separated role list, lower-cased as Glance
// does.
func splitRoles(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.ToLower(strings.TrimSpace(r)); r != "" {
			out = append(out, r)
		}
	}
	return out
}
