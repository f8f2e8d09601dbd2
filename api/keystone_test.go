package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock shared by a fake Keystone and the
// validator under test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeUserToken is a user token the fake Keystone knows.
type fakeUserToken struct {
	user, project string // project "" is an unscoped token
	roles         []string
	expires       time.Time
}

// fakeKeystone serves the two calls the validator makes: POST and GET
// /v3/auth/tokens. Service tokens are issued to glance/secret in project
// service and live svcLife.
type fakeKeystone struct {
	t     *testing.T
	clock *fakeClock
	srv   *httptest.Server

	mu       sync.Mutex
	svcLife  time.Duration
	svc      map[string]time.Time // service tokens and their expiry
	users    map[string]fakeUserToken
	logins   int // POSTs that issued a token
	checks   int // GETs
	fail     int // status every call answers with (0: normal)
	nextSvcN int
}

func newFakeKeystone(t *testing.T, clock *fakeClock) *fakeKeystone {
	f := &fakeKeystone{t: t, clock: clock, svcLife: time.Hour, svc: map[string]time.Time{}, users: map[string]fakeUserToken{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKeystone) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
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
		if u.Name != "glance" || u.Password != "secret" || u.Domain.ID != "default" || p.Name != "service" || p.Domain.ID != "default" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		f.nextSvcN++
		f.logins++
		tok := fmt.Sprintf("svc-%d", f.nextSvcN)
		f.svc[tok] = now.Add(f.svcLife)
		w.Header().Set("X-Subject-Token", tok)
		w.WriteHeader(http.StatusCreated)
		f.writeToken(w, fakeUserToken{user: "glance-id", project: "service-id", roles: []string{"admin"}, expires: f.svc[tok]})
	case http.MethodGet:
		f.checks++
		if exp, ok := f.svc[r.Header.Get("X-Auth-Token")]; !ok || !now.Before(exp) {
			http.Error(w, "service token not valid", http.StatusUnauthorized)
			return
		}
		ut, ok := f.users[r.Header.Get("X-Subject-Token")]
		if !ok || !now.Before(ut.expires) {
			http.Error(w, "Could not recognize Fernet token", http.StatusNotFound)
			return
		}
		f.writeToken(w, ut)
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

func (f *fakeKeystone) writeToken(w http.ResponseWriter, ut fakeUserToken) {
	tok := map[string]any{
		"expires_at": ut.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": ut.user, "domain": map[string]string{"id": "default"}},
	}
	if ut.project != "" {
		tok["project"] = map[string]any{"id": ut.project, "name": ut.project + "-name"}
	}
	var roles []map[string]string
	for _, r := range ut.roles {
		roles = append(roles, map[string]string{"id": r + "-id", "name": r})
	}
	tok["roles"] = roles
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok})
}

func (f *fakeKeystone) addUser(tok string, ut fakeUserToken) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[tok] = ut
}

func (f *fakeKeystone) revokeUser(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.users, tok)
}

func (f *fakeKeystone) revokeServiceTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.svc)
}

func (f *fakeKeystone) setFail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = status
}

func (f *fakeKeystone) counts() (logins, checks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.checks
}

// ksStubBackend is a Backend for tests that only reach routes which never
// call it (schemas).
type ksStubBackend struct{ Backend }

// newKeystoneServer returns an API server in keystone mode against f,
// with adjust applied to its Keystone settings.
func newKeystoneServer(t *testing.T, f *fakeKeystone, adjust func(*KeystoneConfig)) *Server {
	t.Helper()
	kc := KeystoneConfig{URL: f.srv.URL, User: "glance", Password: "secret", Project: "service", Timeout: 2 * time.Second}
	if adjust != nil {
		adjust(&kc)
	}
	s, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: kc})
	if err != nil {
		t.Fatal(err)
	}
	s.keystone.now = f.clock.Now
	return s
}

// ksGet sends GET path with token (none if empty) and returns the recorder.
func ksGet(s *Server, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func ksIdentity(t *testing.T, s *Server, token string) (*Auth, error) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v2/images", nil)
	req.Header.Set("X-Auth-Token", token)
	return s.identity(req)
}

func TestKeystoneConfigRequired(t *testing.T) {
	_, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: KeystoneConfig{URL: "http://k:5000"}})
	if err == nil || !strings.Contains(err.Error(), "password, project, user") {
		t.Fatalf("missing credentials: %v", err)
	}
	if _, err := New(Config{Backend: ksStubBackend{}, Auth: "ldap"}); err == nil {
		t.Fatal("unknown auth mode accepted")
	}
}

func TestKeystoneUnauthorized(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, nil)
	f.addUser("good", fakeUserToken{user: "u1", project: "p1", roles: []string{"member"}, expires: clock.Now().Add(time.Hour)})

	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"bad token", "bad"}} {
		rec := ksGet(s, "/v2/schemas/image", tc.token)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d", tc.name, rec.Code)
		}
		if got, want := rec.Header().Get("WWW-Authenticate"), `Keystone uri="`+f.srv.URL+`"`; got != want {
			t.Fatalf("%s: WWW-Authenticate %q, want %q", tc.name, got, want)
		}
		var body struct{ Message, Code, Title string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.name, rec.Body, err)
		}
		if body.Code != "401 Unauthorized" || !strings.HasPrefix(body.Message, webobExplain401) {
			t.Fatalf("%s: body %+v", tc.name, body)
		}
		if rec.Header().Get("X-Openstack-Request-Id") == "" {
			t.Fatalf("%s: no request id", tc.name)
		}
	}
	if rec := ksGet(s, "/v2/schemas/image", "good"); rec.Code != http.StatusOK {
		t.Fatalf("good token: %d %s", rec.Code, rec.Body)
	}
	// Versions need no token.
	for _, p := range []string{"/", "/versions"} {
		if rec := ksGet(s, p, ""); rec.Code != http.StatusOK && rec.Code != http.StatusMultipleChoices {
			t.Fatalf("GET %s without token: %d", p, rec.Code)
		}
	}
	// noauth headers mean nothing in keystone mode.
	req := httptest.NewRequest(http.MethodGet, "/v2/schemas/image", nil)
	req.Header.Set("X-Project-Id", "p1")
	req.Header.Set("X-Roles", "admin")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("noauth headers in keystone mode: %d", rec.Code)
	}
}

func TestKeystoneIdentityAndImpliedRoles(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, nil)
	exp := clock.Now().Add(time.Hour)
	f.addUser("admin", fakeUserToken{user: "ua", project: "pa", roles: []string{"Admin"}, expires: exp})
	f.addUser("member", fakeUserToken{user: "um", project: "pm", roles: []string{"member"}, expires: exp})
	f.addUser("keystone-implied", fakeUserToken{user: "uk", project: "pk", roles: []string{"member", "admin", "reader"}, expires: exp})
	f.addUser("reader", fakeUserToken{user: "ur", project: "pr", roles: []string{"reader", "service"}, expires: exp})
	f.addUser("domain-admin", fakeUserToken{user: "ud", roles: []string{"admin"}, expires: exp})

	for _, tc := range []struct {
		token, user, project string
		roles                []string
		admin                bool
	}{
		{"admin", "ua", "pa", []string{"admin", "member", "reader"}, true},
		{"member", "um", "pm", []string{"member", "reader"}, false},
		{"keystone-implied", "uk", "pk", []string{"member", "reader", "admin"}, true},
		{"reader", "ur", "pr", []string{"reader", "service"}, false},
		{"domain-admin", "ud", "", []string{"admin", "member", "reader"}, false},
	} {
		a, err := ksIdentity(t, s, tc.token)
		if err != nil {
			t.Fatalf("%s: %v", tc.token, err)
		}
		if a.User != tc.user || a.Project != tc.project || a.Admin != tc.admin || !slices.Equal(a.Roles, tc.roles) {
			t.Fatalf("%s: identity %+v, want user %s project %s roles %v admin %v", tc.token, a, tc.user, tc.project, tc.roles, tc.admin)
		}
	}
}

func TestKeystoneCacheAndExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, func(c *KeystoneConfig) { c.CacheTTL = 10 * time.Minute })
	f.addUser("short", fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(2 * time.Minute)})
	f.addUser("long", fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(time.Hour)})

	for range 3 {
		if _, err := ksIdentity(t, s, "short"); err != nil {
			t.Fatal(err)
		}
	}
	if _, checks := f.counts(); checks != 1 {
		t.Fatalf("3 requests with one token made %d Keystone checks, want 1", checks)
	}
	// The cached entry ends at the token's expiry, before the TTL.
	clock.Advance(3 * time.Minute)
	if _, err := ksIdentity(t, s, "short"); !ksIsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
	if _, checks := f.counts(); checks != 2 {
		t.Fatalf("expired token was not checked again (%d checks)", checks)
	}

	// Revocation: cached until the TTL ends, then refused.
	if _, err := ksIdentity(t, s, "long"); err != nil {
		t.Fatal(err)
	}
	f.revokeUser("long")
	clock.Advance(9 * time.Minute)
	if _, err := ksIdentity(t, s, "long"); err != nil {
		t.Fatalf("revoked token within the cache TTL: %v (documented to stay valid)", err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := ksIdentity(t, s, "long"); !ksIsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("revoked token after the cache TTL: %v", err)
	}

	// Refusals are cached too (briefly).
	_, before := f.counts()
	for range 3 {
		if _, err := ksIdentity(t, s, "nope"); !ksIsStatus(err, http.StatusUnauthorized) {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if _, after := f.counts(); after != before+1 {
		t.Fatalf("3 requests with one bad token made %d Keystone checks, want 1", after-before)
	}
}

func TestKeystoneExpiredAnswer(t *testing.T) {
	// A Keystone that hands back a token already past expires_at (e.g.
	// clocks apart): refused, not cached as valid.
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, nil)
	f.addUser("t", fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(time.Minute)})
	s.keystone.now = func() time.Time { return clock.Now().Add(2 * time.Minute) }
	if _, err := ksIdentity(t, s, "t"); !ksIsStatus(err, http.StatusUnauthorized) || !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token past expires_at: %v", err)
	}
}

func TestKeystoneCacheBounded(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, func(c *KeystoneConfig) { c.CacheSize = 2 })
	for i := range 5 {
		tok := fmt.Sprintf("t%d", i)
		f.addUser(tok, fakeUserToken{user: "u", project: "p", roles: []string{"reader"}, expires: clock.Now().Add(time.Hour)})
		if _, err := ksIdentity(t, s, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.keystone.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, cap 2", n)
	}
	// The most recent ones stayed; the oldest went.
	_, before := f.counts()
	if _, err := ksIdentity(t, s, "t4"); err != nil {
		t.Fatal(err)
	}
	if _, err := ksIdentity(t, s, "t0"); err != nil {
		t.Fatal(err)
	}
	if _, after := f.counts(); after != before+1 {
		t.Fatalf("LRU: %d checks for t4 (cached) and t0 (evicted), want 1", after-before)
	}
}

func TestKeystoneServiceTokenRefresh(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeKeystone(t, clock)
	s := newKeystoneServer(t, f, func(c *KeystoneConfig) { c.CacheTTL = time.Second })
	for _, tok := range []string{"a", "b", "c", "d"} {
		f.addUser(tok, fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(10 * time.Hour)})
	}
	if _, err := ksIdentity(t, s, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := ksIdentity(t, s, "b"); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 1 {
		t.Fatalf("%d service logins for two validations, want 1", logins)
	}
	// Keystone forgets the service token (401): log in again, retry once.
	f.revokeServiceTokens()
	if _, err := ksIdentity(t, s, "c"); err != nil {
		t.Fatalf("after the service token was refused: %v", err)
	}
	if logins, _ := f.counts(); logins != 2 {
		t.Fatalf("%d service logins after a 401, want 2", logins)
	}
	// The service token expires (Keystone's answer says when): renewed
	// before it is used again.
	clock.Advance(59*time.Minute + 45*time.Second)
	if _, err := ksIdentity(t, s, "d"); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 3 {
		t.Fatalf("%d service logins after the service token neared expiry, want 3", logins)
	}
}

func TestKeystoneUnavailable(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}

	t.Run("server error", func(t *testing.T) {
		f := newFakeKeystone(t, clock)
		s := newKeystoneServer(t, f, nil)
		f.setFail(http.StatusInternalServerError)
		rec := ksGet(s, "/v2/schemas/image", "tok")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("WWW-Authenticate") != "" {
			t.Fatalf("keystone 500: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if !strings.Contains(rec.Body.String(), "Keystone service is temporarily unavailable") {
			t.Fatalf("503 body %q", rec.Body)
		}
	})
	t.Run("down", func(t *testing.T) {
		f := newFakeKeystone(t, clock)
		s := newKeystoneServer(t, f, nil)
		f.addUser("tok", fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(time.Hour)})
		f.srv.Close()
		if rec := ksGet(s, "/v2/schemas/image", "tok"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("keystone down: %d %s", rec.Code, rec.Body)
		}
		_, err := ksIdentity(t, s, "tok")
		if !errors.Is(err, ErrKeystoneUnavailable) {
			t.Fatalf("keystone down: %v does not wrap ErrKeystoneUnavailable", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(hang) })
		s, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: KeystoneConfig{
			URL: srv.URL + "/v3/", User: "glance", Password: "secret", Project: "service", Timeout: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if rec := ksGet(s, "/v2/schemas/image", "tok"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("keystone hanging: %d", rec.Code)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("keystone call not bounded by the timeout: %v", d)
		}
	})
	t.Run("service credentials refused", func(t *testing.T) {
		f := newFakeKeystone(t, clock)
		s := newKeystoneServer(t, f, func(c *KeystoneConfig) { c.Password = "wrong" })
		f.addUser("tok", fakeUserToken{user: "u", project: "p", roles: []string{"member"}, expires: clock.Now().Add(time.Hour)})
		if rec := ksGet(s, "/v2/schemas/image", "tok"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("service login refused: %d (want 503, not 401)", rec.Code)
		}
	})
}

// ksIsStatus reports whether err is an *Error with status.
func ksIsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
