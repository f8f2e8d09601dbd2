package keystone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/api/keystone/keystonetest"
)

// testEpoch is where the tests' clocks start.
var testEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// newTestValidator returns a Validator for the fake Keystone f, reading
// clock, with adjust applied to its configuration.
func newTestValidator(t *testing.T, f *keystonetest.Server, clock *keystonetest.Clock, adjust func(*Config)) *Validator {
	t.Helper()
	cfg := Config{URL: f.URL, User: keystonetest.ServiceUser, Password: keystonetest.ServicePassword,
		Project: keystonetest.ServiceProject, Timeout: 2 * time.Second}
	if adjust != nil {
		adjust(&cfg)
	}
	v, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.now = clock.Now
	return v
}

func validate(v *Validator, tok string) (*Identity, error) {
	return v.Validate(context.Background(), tok)
}

func TestConfigRequired(t *testing.T) {
	_, err := New(Config{URL: "http://k:5000"}, nil)
	if err == nil || !strings.Contains(err.Error(), "password, project, user") {
		t.Fatalf("missing credentials: %v", err)
	}
	if _, err := New(Config{URL: "k:5000", User: "u", Password: "p", Project: "s"}, nil); err == nil {
		t.Fatal("a URL without http(s) was accepted")
	}
	v, err := New(Config{URL: "http://k:5000/v3/", User: "u", Password: "p", Project: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.URL() != "http://k:5000/v3/" || v.base != "http://k:5000" {
		t.Fatalf("URL %q, base %q", v.URL(), v.base)
	}
}

func TestIdentityAndImpliedRoles(t *testing.T) {
	clock := keystonetest.NewClock(testEpoch)
	f := keystonetest.NewServer(t, clock.Now)
	v := newTestValidator(t, f, clock, nil)
	exp := clock.Now().Add(time.Hour)
	f.AddToken("admin", keystonetest.Token{User: "ua", Project: "pa", Roles: []string{"Admin"}, Expires: exp})
	f.AddToken("member", keystonetest.Token{User: "um", Project: "pm", Roles: []string{"member"}, Expires: exp})
	f.AddToken("keystone-implied", keystonetest.Token{User: "uk", Project: "pk", Roles: []string{"member", "admin", "reader"}, Expires: exp})
	f.AddToken("reader", keystonetest.Token{User: "ur", Project: "pr", Roles: []string{"reader", "service"}, Expires: exp})
	f.AddToken("domain-admin", keystonetest.Token{User: "ud", Roles: []string{"admin"}, Expires: exp})

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
		id, err := validate(v, tc.token)
		if err != nil {
			t.Fatalf("%s: %v", tc.token, err)
		}
		if id.User != tc.user || id.Project != tc.project || id.Admin != tc.admin || !slices.Equal(id.Roles, tc.roles) {
			t.Fatalf("%s: identity %+v, want user %s project %s roles %v admin %v", tc.token, id, tc.user, tc.project, tc.roles, tc.admin)
		}
	}
	// A returned identity is the caller's: changing it leaves the cache alone.
	id, _ := validate(v, "admin")
	id.Roles[0], id.Admin = "reader", false
	if again, _ := validate(v, "admin"); again.Roles[0] != "admin" || !again.Admin {
		t.Fatalf("cached identity changed through a returned copy: %+v", again)
	}
}

func TestCacheAndExpiry(t *testing.T) {
	clock := keystonetest.NewClock(testEpoch)
	f := keystonetest.NewServer(t, clock.Now)
	v := newTestValidator(t, f, clock, func(c *Config) { c.CacheTTL = 10 * time.Minute })
	f.AddToken("short", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(2 * time.Minute)})
	f.AddToken("long", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(time.Hour)})

	for range 3 {
		if _, err := validate(v, "short"); err != nil {
			t.Fatal(err)
		}
	}
	if _, checks := f.Counts(); checks != 1 {
		t.Fatalf("3 requests with one token made %d Keystone checks, want 1", checks)
	}
	// The cached entry ends at the token's expiry, before the TTL.
	clock.Advance(3 * time.Minute)
	if _, err := validate(v, "short"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	if _, checks := f.Counts(); checks != 2 {
		t.Fatalf("expired token was not checked again (%d checks)", checks)
	}

	// Revocation: cached until the TTL ends, then refused.
	if _, err := validate(v, "long"); err != nil {
		t.Fatal(err)
	}
	f.Revoke("long")
	clock.Advance(9 * time.Minute)
	if _, err := validate(v, "long"); err != nil {
		t.Fatalf("revoked token within the cache TTL: %v (documented to stay valid)", err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := validate(v, "long"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("revoked token after the cache TTL: %v", err)
	}

	// Refusals are cached too (briefly).
	_, before := f.Counts()
	for range 3 {
		if _, err := validate(v, "nope"); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if _, after := f.Counts(); after != before+1 {
		t.Fatalf("3 requests with one bad token made %d Keystone checks, want 1", after-before)
	}
}

func TestExpiredAnswer(t *testing.T) {
	// A Keystone that hands back a token already past expires_at (e.g.
	// clocks apart): refused, not cached as valid.
	clock := keystonetest.NewClock(testEpoch)
	f := keystonetest.NewServer(t, clock.Now)
	v := newTestValidator(t, f, clock, nil)
	f.AddToken("t", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(time.Minute)})
	v.now = func() time.Time { return clock.Now().Add(2 * time.Minute) }
	if _, err := validate(v, "t"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token past expires_at: %v", err)
	}
	if _, checks := f.Counts(); checks != 1 {
		t.Fatalf("%d checks", checks)
	}
	if _, err := validate(v, "t"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token past expires_at, asked again: %v", err)
	}
	if _, checks := f.Counts(); checks != 1 {
		t.Fatalf("the refusal of a token past expires_at was not cached (%d checks)", checks)
	}
}

func TestCacheBounded(t *testing.T) {
	clock := keystonetest.NewClock(testEpoch)
	f := keystonetest.NewServer(t, clock.Now)
	v := newTestValidator(t, f, clock, func(c *Config) { c.CacheSize = 2 })
	for i := range 5 {
		tok := fmt.Sprintf("t%d", i)
		f.AddToken(tok, keystonetest.Token{User: "u", Project: "p", Roles: []string{"reader"}, Expires: clock.Now().Add(time.Hour)})
		if _, err := validate(v, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, cap 2", n)
	}
	// The most recent ones stayed; the oldest went.
	_, before := f.Counts()
	if _, err := validate(v, "t4"); err != nil {
		t.Fatal(err)
	}
	if _, err := validate(v, "t0"); err != nil {
		t.Fatal(err)
	}
	if _, after := f.Counts(); after != before+1 {
		t.Fatalf("LRU: %d checks for t4 (cached) and t0 (evicted), want 1", after-before)
	}
}

func TestServiceTokenRefresh(t *testing.T) {
	clock := keystonetest.NewClock(testEpoch)
	f := keystonetest.NewServer(t, clock.Now)
	v := newTestValidator(t, f, clock, func(c *Config) { c.CacheTTL = time.Second })
	for _, tok := range []string{"a", "b", "c", "d"} {
		f.AddToken(tok, keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(10 * time.Hour)})
	}
	if _, err := validate(v, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := validate(v, "b"); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.Counts(); logins != 1 {
		t.Fatalf("%d service logins for two validations, want 1", logins)
	}
	// Keystone forgets the service token (401): log in again, retry once.
	f.RevokeServiceTokens()
	if _, err := validate(v, "c"); err != nil {
		t.Fatalf("after the service token was refused: %v", err)
	}
	if logins, _ := f.Counts(); logins != 2 {
		t.Fatalf("%d service logins after a 401, want 2", logins)
	}
	// The service token expires (Keystone's answer says when): renewed
	// before it is used again.
	clock.Advance(59*time.Minute + 45*time.Second)
	if _, err := validate(v, "d"); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.Counts(); logins != 3 {
		t.Fatalf("%d service logins after the service token neared expiry, want 3", logins)
	}
}

func TestUnavailable(t *testing.T) {
	clock := keystonetest.NewClock(testEpoch)
	unavailable := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("%s: %v does not wrap ErrUnavailable only", what, err)
		}
	}

	t.Run("server error", func(t *testing.T) {
		f := keystonetest.NewServer(t, clock.Now)
		v := newTestValidator(t, f, clock, nil)
		f.SetFail(http.StatusInternalServerError)
		_, err := validate(v, "tok")
		unavailable(t, "keystone 500", err)
	})
	t.Run("down", func(t *testing.T) {
		f := keystonetest.NewServer(t, clock.Now)
		v := newTestValidator(t, f, clock, nil)
		f.AddToken("tok", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(time.Hour)})
		f.Close()
		_, err := validate(v, "tok")
		unavailable(t, "keystone down", err)
	})
	t.Run("timeout", func(t *testing.T) {
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(hang) })
		v, err := New(Config{URL: srv.URL + "/v3/", User: "glance", Password: "secret", Project: "service", Timeout: 100 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = validate(v, "tok")
		unavailable(t, "keystone hanging", err)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("keystone call not bounded by the timeout: %v", d)
		}
	})
	t.Run("service credentials refused", func(t *testing.T) {
		f := keystonetest.NewServer(t, clock.Now)
		v := newTestValidator(t, f, clock, func(c *Config) { c.Password = "wrong" })
		f.AddToken("tok", keystonetest.Token{User: "u", Project: "p", Roles: []string{"member"}, Expires: clock.Now().Add(time.Hour)})
		_, err := validate(v, "tok")
		unavailable(t, "service login refused (not a refused token)", err)
	})
}

func TestValidateContextEnds(t *testing.T) {
	// A caller whose context ends stops waiting for Keystone.
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	v, err := New(Config{URL: srv.URL, User: "glance", Password: "secret", Project: "service", Timeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Validate(ctx, "tok"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
}
