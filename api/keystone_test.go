package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/api/keystone"
	"github.com/p2pglance/p2pglance/api/keystone/keystonetest"
	"github.com/p2pglance/p2pglance/api/webob"
)

// The validator itself (cache, expiry, implied roles, service token,
// Keystone trouble) is tested in package keystone; these tests cover the
// HTTP side: which header carries the token, the Auth a token becomes,
// 401 with WWW-Authenticate and 503.

// ksStubBackend is a Backend for tests that only reach routes which never
// call it (schemas).
type ksStubBackend struct{ Backend }

// newKeystoneServer returns an API server in keystone mode against f,
// with adjust applied to its Keystone settings. The validator reads the
// wall clock, so f must too.
func newKeystoneServer(t *testing.T, f *keystonetest.Server, adjust func(*keystone.Config)) *Server {
	t.Helper()
	kc := keystone.Config{URL: f.URL, User: keystonetest.ServiceUser, Password: keystonetest.ServicePassword,
		Project: keystonetest.ServiceProject, Timeout: 2 * time.Second}
	if adjust != nil {
		adjust(&kc)
	}
	s, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: kc})
	if err != nil {
		t.Fatal(err)
	}
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

func TestKeystoneConfigRequired(t *testing.T) {
	_, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: keystone.Config{URL: "http://k:5000"}})
	if err == nil || !strings.Contains(err.Error(), "password, project, user") {
		t.Fatalf("missing credentials: %v", err)
	}
	if _, err := New(Config{Backend: ksStubBackend{}, Auth: "ldap"}); err == nil {
		t.Fatal("unknown auth mode accepted")
	}
}

func TestKeystoneUnauthorized(t *testing.T) {
	f := keystonetest.NewServer(t, nil)
	s := newKeystoneServer(t, f, nil)
	f.AddToken("good", keystonetest.Token{User: "u1", Project: "p1", Roles: []string{"member"}, Expires: time.Now().Add(time.Hour)})

	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"bad token", "bad"}} {
		rec := ksGet(s, "/v2/schemas/image", tc.token)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d", tc.name, rec.Code)
		}
		if got, want := rec.Header().Get("WWW-Authenticate"), `Keystone uri="`+f.URL+`"`; got != want {
			t.Fatalf("%s: WWW-Authenticate %q, want %q", tc.name, got, want)
		}
		var body struct{ Message, Code, Title string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.name, rec.Body, err)
		}
		if body.Code != "401 Unauthorized" || !strings.HasPrefix(body.Message, webob.DefaultExplanation(401)) {
			t.Fatalf("%s: body %+v", tc.name, body)
		}
		if rec.Header().Get("X-Openstack-Request-Id") == "" {
			t.Fatalf("%s: no request id", tc.name)
		}
	}
	if rec := ksGet(s, "/v2/schemas/image", "good"); rec.Code != http.StatusOK {
		t.Fatalf("good token: %d %s", rec.Code, rec.Body)
	}
	// X-Storage-Token is read when X-Auth-Token is absent.
	req := httptest.NewRequest(http.MethodGet, "/v2/schemas/image", nil)
	req.Header.Set("X-Storage-Token", "good")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("X-Storage-Token: %d %s", rec.Code, rec.Body)
	}
	// Versions need no token.
	for _, p := range []string{"/", "/versions"} {
		if rec := ksGet(s, p, ""); rec.Code != http.StatusOK && rec.Code != http.StatusMultipleChoices {
			t.Fatalf("GET %s without token: %d", p, rec.Code)
		}
	}
	// noauth headers mean nothing in keystone mode.
	req = httptest.NewRequest(http.MethodGet, "/v2/schemas/image", nil)
	req.Header.Set("X-Project-Id", "p1")
	req.Header.Set("X-Roles", "admin")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("noauth headers in keystone mode: %d", rec.Code)
	}
}

func TestKeystoneIdentity(t *testing.T) {
	// The identity a token names becomes the request's Auth.
	f := keystonetest.NewServer(t, nil)
	s := newKeystoneServer(t, f, nil)
	exp := time.Now().Add(time.Hour)
	f.AddToken("admin", keystonetest.Token{User: "ua", Project: "pa", Roles: []string{"Admin"}, Expires: exp})
	f.AddToken("domain-admin", keystonetest.Token{User: "ud", Roles: []string{"admin"}, Expires: exp})
	for _, tc := range []struct {
		token, user, project string
		roles                []string
		admin                bool
	}{
		{"admin", "ua", "pa", []string{"admin", "member", "reader"}, true},
		{"domain-admin", "ud", "", []string{"admin", "member", "reader"}, false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v2/images", nil)
		req.Header.Set("X-Auth-Token", tc.token)
		a, err := s.identity(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.token, err)
		}
		if a.User != tc.user || a.Project != tc.project || a.Admin != tc.admin || !slices.Equal(a.Roles, tc.roles) {
			t.Fatalf("%s: identity %+v, want user %s project %s roles %v admin %v", tc.token, a, tc.user, tc.project, tc.roles, tc.admin)
		}
	}
	// A refusal is mapped to 401 whatever the route.
	req := httptest.NewRequest(http.MethodGet, "/v2/images", nil)
	req.Header.Set("X-Auth-Token", "nope")
	_, err := s.identity(req)
	if e := s.httpError(err); e.Status != http.StatusUnauthorized || !errors.Is(err, keystone.ErrTokenInvalid) {
		t.Fatalf("refused token: %v mapped to %d", err, e.Status)
	}
}

func TestKeystoneUnavailable(t *testing.T) {
	t.Run("server error", func(t *testing.T) {
		f := keystonetest.NewServer(t, nil)
		s := newKeystoneServer(t, f, nil)
		f.SetFail(http.StatusInternalServerError)
		rec := ksGet(s, "/v2/schemas/image", "tok")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("WWW-Authenticate") != "" {
			t.Fatalf("keystone 500: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if !strings.Contains(rec.Body.String(), "Keystone service is temporarily unavailable") {
			t.Fatalf("503 body %q", rec.Body)
		}
	})
	t.Run("down", func(t *testing.T) {
		f := keystonetest.NewServer(t, nil)
		s := newKeystoneServer(t, f, nil)
		f.AddToken("tok", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: time.Now().Add(time.Hour)})
		f.Close()
		if rec := ksGet(s, "/v2/schemas/image", "tok"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("keystone down: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A Keystone that times out is Keystone trouble (503), not the
		// API's own deadline.
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(hang) })
		s, err := New(Config{Backend: ksStubBackend{}, Auth: AuthKeystone, Keystone: keystone.Config{
			URL: srv.URL + "/v3/", User: "glance", Password: "secret", Project: "service", Timeout: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		rec := ksGet(s, "/v2/schemas/image", "tok")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "Keystone service is temporarily unavailable") {
			t.Fatalf("keystone hanging: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("service credentials refused", func(t *testing.T) {
		f := keystonetest.NewServer(t, nil)
		s := newKeystoneServer(t, f, func(c *keystone.Config) { c.Password = "wrong" })
		f.AddToken("tok", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: time.Now().Add(time.Hour)})
		if rec := ksGet(s, "/v2/schemas/image", "tok"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("service login refused: %d (want 503, not 401)", rec.Code)
		}
	})
}
