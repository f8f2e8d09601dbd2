package keystonetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// The service user the fake Keystone accepts (both domains "default").
const (
	ServiceUser     = "glance"
	ServicePassword = "secret"
	ServiceProject  = "service"
)

// ServiceTokenLife is how long a service token the fake issues lives.
const ServiceTokenLife = time.Hour

// Clock is a settable clock, to share between a fake Keystone and the
// validator under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads now until advanced.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Token is a user token the fake Keystone knows.
type Token struct {
	// User and Project are ids; Project "" is an unscoped token.
	User, Project string
	// Roles are role names, sent as they are.
	Roles []string
	// Expires is the token's expires_at; past it, the token is refused.
	Expires time.Time
}

// Server is a fake Keystone. Service tokens are issued to ServiceUser
// with ServicePassword in ServiceProject and live ServiceTokenLife.
type Server struct {
	// URL is the fake's endpoint, e.g. http://127.0.0.1:port.
	URL string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	svc      map[string]time.Time // service tokens and their expiry
	users    map[string]Token
	logins   int // POSTs that issued a token
	checks   int // GETs
	fail     int // status every call answers with (0: normal)
	nextSvcN int
}

// NewServer starts a fake Keystone whose clock is now (nil: time.Now),
// closed when t ends.
func NewServer(t testing.TB, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	f := &Server{now: now, svc: map[string]time.Time{}, users: map[string]Token{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Close stops the server: later calls fail as with a Keystone that is
// down.
func (f *Server) Close() { f.srv.Close() }

// AddToken makes tok a valid user token for ut.
func (f *Server) AddToken(tok string, ut Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[tok] = ut
}

// Revoke forgets the user token tok.
func (f *Server) Revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.users, tok)
}

// RevokeServiceTokens forgets every service token issued so far.
func (f *Server) RevokeServiceTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.svc)
}

// SetFail makes every call answer status (0: answer normally again).
func (f *Server) SetFail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = status
}

// Counts returns the service logins (token-issuing POSTs) and token
// checks (GETs) served so far.
func (f *Server) Counts() (logins, checks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.checks
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.fail != 0 {
		http.Error(w, "failing", f.fail)
		return
	}
	if r.URL.Path != "/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		f.login(w, r, now)
	case http.MethodGet:
		f.checks++
		if exp, ok := f.svc[r.Header.Get("X-Auth-Token")]; !ok || !now.Before(exp) {
			http.Error(w, "service token not valid", http.StatusUnauthorized)
			return
		}
		ut, ok := f.users[r.Header.Get("X-Subject-Token")]
		if !ok || !now.Before(ut.Expires) {
			http.Error(w, "Could not recognize Fernet token", http.StatusNotFound)
			return
		}
		writeToken(w, ut)
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

// login serves POST /v3/auth/tokens for the service user.
func (f *Server) login(w http.ResponseWriter, r *http.Request, now time.Time) {
	var body struct {
		Auth struct {
			Identity struct {
				Password struct {
					User struct {
						Name, Password string
						Domain         struct{ ID string }
					}
				}
			}
			Scope struct {
				Project struct {
					Name   string
					Domain struct{ ID string }
				}
			}
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u, p := body.Auth.Identity.Password.User, body.Auth.Scope.Project
	if u.Name != ServiceUser || u.Password != ServicePassword || u.Domain.ID != "default" || p.Name != ServiceProject || p.Domain.ID != "default" {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	f.nextSvcN++
	f.logins++
	tok := fmt.Sprintf("svc-%d", f.nextSvcN)
	f.svc[tok] = now.Add(ServiceTokenLife)
	w.Header().Set("X-Subject-Token", tok)
	w.WriteHeader(http.StatusCreated)
	writeToken(w, Token{User: "glance-id", Project: "service-id", Roles: []string{"admin"}, Expires: f.svc[tok]})
}

// writeToken writes a Keystone v3 token body for ut.
func writeToken(w http.ResponseWriter, ut Token) {
	tok := map[string]any{
		"expires_at": ut.Expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": ut.User, "domain": map[string]string{"id": "default"}},
	}
	if ut.Project != "" {
		tok["project"] = map[string]any{"id": ut.Project, "name": ut.Project + "-name"}
	}
	var roles []map[string]string
	for _, r := range ut.Roles {
		roles = append(roles, map[string]string{"id": r + "-id", "name": r})
	}
	tok["roles"] = roles
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok})
}
