package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Keystone errors.
var (
	// ErrTokenInvalid means Keystone does not accept the token: unknown,
	// malformed, expired or revoked (answered 401).
	ErrTokenInvalid = errors.New("keystone token not valid")
	// ErrKeystoneUnavailable means tokens cannot be validated now: Keystone
	// is unreachable, answers with an error, or refuses the service
	// user's credentials or rights (answered 503, never 401).
	ErrKeystoneUnavailable = errors.New("keystone unavailable")
)

// Keystone defaults.
const (
	defaultKeystoneCacheTTL  = 5 * time.Minute
	defaultKeystoneCacheSize = 10000
	defaultKeystoneTimeout   = 10 * time.Second

	// keystoneRefuseTTL is how long a refused token stays refused in the
	// cache (a refused token never becomes valid; this only bounds memory
	// and spares Keystone floods of one bad token).
	keystoneRefuseTTL = time.Minute
	// serviceTokenMargin: the service token is renewed this long before it
	// expires.
	serviceTokenMargin = 30 * time.Second
)

// KeystoneConfig configures token validation against Keystone's Identity
// v3 API (Config.Auth == AuthKeystone), as keystonemiddleware's
// [keystone_authtoken] section does for Glance.
type KeystoneConfig struct {
	// URL is Keystone's endpoint, e.g. http://keystone:5000 (a trailing
	// /v3 is accepted). 401 answers name it in WWW-Authenticate.
	URL string
	// User, Password and Project are the service user the API logs in as
	// (project-scoped, password method) to validate users' tokens; it
	// needs the admin or service role.
	User, Password, Project string
	// UserDomain and ProjectDomain are the domain ids of User and Project
	// ("" means "default").
	UserDomain, ProjectDomain string
	// CacheTTL bounds how long a validated token is trusted without asking
	// Keystone again, and never past the token's expires_at (0 means 5
	// minutes): a revoked token keeps working for at most this long.
	CacheTTL time.Duration
	// CacheSize caps the cached tokens (0 means 10000; least recently used
	// go first).
	CacheSize int
	// Timeout bounds each call to Keystone (0 means 10 seconds).
	Timeout time.Duration
	// Transport carries the calls to Keystone (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// keystoneAuth validates X-Auth-Token with Keystone and caches results.
type keystoneAuth struct {
	cfg    KeystoneConfig
	base   string // URL without a trailing slash or /v3
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	cache  *tokenCache
	flight singleflight.Group // one Keystone call per token at a time

	mu         sync.Mutex // guards the service token; held while fetching one
	svcToken   string
	svcExpires time.Time
}

func newKeystoneAuth(cfg KeystoneConfig, log *slog.Logger) (*keystoneAuth, error) {
	var missing []string
	for name, v := range map[string]string{"URL": cfg.URL, "user": cfg.User, "password": cfg.Password, "project": cfg.Project} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("keystone auth needs the service %s", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("keystone URL %q is not http(s)", cfg.URL)
	}
	if cfg.UserDomain == "" {
		cfg.UserDomain = "default"
	}
	if cfg.ProjectDomain == "" {
		cfg.ProjectDomain = "default"
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = defaultKeystoneCacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = defaultKeystoneCacheSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultKeystoneTimeout
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	cache, err := newTokenCache(cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("keystone auth: %w", err)
	}
	return &keystoneAuth{
		cfg:    cfg,
		base:   strings.TrimSuffix(strings.TrimRight(cfg.URL, "/"), "/v3"),
		client: &http.Client{Transport: tr},
		log:    log,
		now:    time.Now,
		cache:  cache,
	}, nil
}

// identity resolves r's X-Auth-Token (or X-Storage-Token) into the
// caller's identity. No token or a refused one is a 401 with
// WWW-Authenticate; Keystone trouble is a 503.
func (k *keystoneAuth) identity(r *http.Request) (*Auth, error) {
	tok := firstHeader(r, "X-Auth-Token", "X-Storage-Token")
	if tok == "" {
		return nil, k.unauthorized(fmt.Errorf("no X-Auth-Token: %w", ErrTokenInvalid))
	}
	a, err := k.validate(r.Context(), tok)
	switch {
	case err == nil:
		return a, nil
	case errors.Is(err, ErrTokenInvalid):
		return nil, k.unauthorized(err)
	case errors.Is(err, ErrKeystoneUnavailable):
		return nil, &Error{Status: http.StatusServiceUnavailable, Explanation: "The Keystone service is temporarily unavailable.", Err: err}
	}
	return nil, err
}

// unauthorized is Glance's bare 401 with keystonemiddleware's
// WWW-Authenticate header.
func (k *keystoneAuth) unauthorized(err error) *Error {
	return &Error{
		Status: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": []string{`Keystone uri="` + k.cfg.URL + `"`}},
		Err:    err,
	}
}

// validate returns the identity of tok, from the cache or from Keystone.
// Concurrent validations of one token share a single Keystone call; a
// caller whose context ends stops waiting for it.
func (k *keystoneAuth) validate(ctx context.Context, tok string) (*Auth, error) {
	key := keyOf(tok)
	if e, ok := k.cache.get(key, k.now()); ok {
		if e.auth == nil {
			return nil, fmt.Errorf("cached refusal: %w", ErrTokenInvalid)
		}
		return e.auth.clone(), nil
	}
	ch := k.flight.DoChan(string(key[:]), func() (any, error) {
		return k.validateRemote(context.WithoutCancel(ctx), key, tok)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Auth).clone(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// validateRemote asks Keystone about tok and caches the answer (an
// identity until min(expires_at, now+CacheTTL); a refusal briefly).
func (k *keystoneAuth) validateRemote(ctx context.Context, key tokenKey, tok string) (*Auth, error) {
	a, expires, err := k.checkToken(ctx, tok)
	now := k.now()
	if errors.Is(err, ErrTokenInvalid) {
		k.cache.put(key, nil, now.Add(min(k.cfg.CacheTTL, keystoneRefuseTTL)))
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	k.cache.put(key, a, minTime(expires, now.Add(k.cfg.CacheTTL)))
	return a, nil
}

// checkToken validates tok with GET /v3/auth/tokens, authenticated by the
// service token (renewed once if Keystone answers 401 to it).
func (k *keystoneAuth) checkToken(ctx context.Context, tok string) (*Auth, time.Time, error) {
	stale := ""
	for attempt := 0; ; attempt++ {
		svc, err := k.serviceToken(ctx, stale)
		if err != nil {
			return nil, time.Time{}, err
		}
		status, _, body, err := k.call(ctx, http.MethodGet, "/v3/auth/tokens?nocatalog", nil,
			http.Header{"X-Auth-Token": {svc}, "X-Subject-Token": {tok}})
		if err != nil {
			return nil, time.Time{}, err
		}
		switch {
		case status == http.StatusOK:
			return k.parseToken(body)
		case status == http.StatusNotFound || status == http.StatusBadRequest:
			return nil, time.Time{}, fmt.Errorf("keystone answered %d: %w", status, ErrTokenInvalid)
		case status == http.StatusUnauthorized && attempt == 0:
			k.log.Debug("keystone refused the service token; logging in again")
			stale = svc
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, time.Time{}, fmt.Errorf("validate token: keystone answered %d to service user %q (it needs the admin or service role): %w",
				status, k.cfg.User, ErrKeystoneUnavailable)
		}
		return nil, time.Time{}, fmt.Errorf("validate token: keystone answered %d: %w", status, ErrKeystoneUnavailable)
	}
}

// keystoneToken is the part of a Keystone v3 token body we read.
type keystoneToken struct {
	Token struct {
		ExpiresAt time.Time `json:"expires_at"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
		Project *struct {
			ID string `json:"id"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

// parseToken turns a validated token body into an identity and its expiry.
func (k *keystoneAuth) parseToken(body []byte) (*Auth, time.Time, error) {
	var kt keystoneToken
	if err := json.Unmarshal(body, &kt); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode keystone token: %w: %w", ErrKeystoneUnavailable, err)
	}
	t := kt.Token
	if t.ExpiresAt.IsZero() {
		return nil, time.Time{}, fmt.Errorf("keystone token has no expires_at: %w", ErrKeystoneUnavailable)
	}
	if !k.now().Before(t.ExpiresAt) {
		return nil, time.Time{}, fmt.Errorf("token expired at %s: %w", t.ExpiresAt.Format(time.RFC3339), ErrTokenInvalid)
	}
	names := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		names = append(names, r.Name)
	}
	a := &Auth{User: t.User.ID, Roles: expandRoles(names)}
	if t.Project != nil {
		a.Project = t.Project.ID
	}
	// Glance's image rules are project-scoped: a domain- or system-scoped
	// admin token is not an image admin.
	a.Admin = a.Project != "" && a.HasRole("admin")
	return a, t.ExpiresAt, nil
}

// impliedRoles are Keystone's default implied roles (keystone-manage
// bootstrap creates them): admin ⇒ member ⇒ reader.
var impliedRoles = map[string]string{"admin": "member", "member": "reader"}

// expandRoles lower-cases roles (as Glance does) and adds the implied
// ones, in case a deployment lacks the inference rules.
func expandRoles(roles []string) []string {
	out := make([]string, 0, len(roles)+2)
	for _, r := range roles {
		for r = strings.ToLower(strings.TrimSpace(r)); r != "" && !slices.Contains(out, r); r = impliedRoles[r] {
			out = append(out, r)
		}
	}
	return out
}

// serviceToken returns the service user's token, logging in when there
// is none, it is about to expire, or it is stale (Keystone refused it).
func (k *keystoneAuth) serviceToken(ctx context.Context, stale string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.svcToken != "" && k.svcToken != stale && k.now().Before(k.svcExpires.Add(-serviceTokenMargin)) {
		return k.svcToken, nil
	}
	k.svcToken = ""
	body, err := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": k.cfg.User, "password": k.cfg.Password, "domain": map[string]string{"id": k.cfg.UserDomain},
			}},
		},
		"scope": map[string]any{"project": map[string]any{
			"name": k.cfg.Project, "domain": map[string]string{"id": k.cfg.ProjectDomain},
		}},
	}})
	if err != nil {
		return "", fmt.Errorf("encode service login: %w", err)
	}
	status, hdr, resp, err := k.call(ctx, http.MethodPost, "/v3/auth/tokens?nocatalog", body,
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("log in as service user %q in project %q: keystone answered %d: %w",
			k.cfg.User, k.cfg.Project, status, ErrKeystoneUnavailable)
	}
	var kt keystoneToken
	if err := json.Unmarshal(resp, &kt); err != nil {
		return "", fmt.Errorf("decode service token: %w: %w", ErrKeystoneUnavailable, err)
	}
	tok := hdr.Get("X-Subject-Token")
	if tok == "" || kt.Token.ExpiresAt.IsZero() {
		return "", fmt.Errorf("service login: no X-Subject-Token or expires_at: %w", ErrKeystoneUnavailable)
	}
	k.svcToken, k.svcExpires = tok, kt.Token.ExpiresAt
	k.log.Debug("keystone service token obtained", "user", k.cfg.User, "expires_at", kt.Token.ExpiresAt)
	return tok, nil
}

// call sends one request to Keystone under the configured timeout and
// returns the status, headers and body (at most 1 MiB). Transport
// failures wrap ErrKeystoneUnavailable.
func (k *keystoneAuth) call(ctx context.Context, method, path string, body []byte, hdr http.Header) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("keystone request: %w", err)
	}
	for name := range hdr {
		req.Header.Set(name, hdr.Get(name))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s%s: %w: %w", method, k.base, strings.SplitN(path, "?", 2)[0], ErrKeystoneUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read keystone answer: %w: %w", ErrKeystoneUnavailable, err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// clone returns a copy the request may keep (cached identities are
// shared).
func (a *Auth) clone() *Auth {
	c := *a
	c.Roles = slices.Clone(a.Roles)
	return &c
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
