package keystone

import (
	"errors"
	"fmt"
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
	// ErrUnavailable means tokens cannot be validated now: Keystone is
	// unreachable, answers with an error, or refuses the service user's
	// credentials or rights (answered 503, never 401).
	ErrUnavailable = errors.New("keystone unavailable")
)

// Defaults.
const (
	defaultCacheTTL  = 5 * time.Minute
	defaultCacheSize = 10000
	defaultTimeout   = 10 * time.Second

	// refuseTTL is how long a refused token stays refused in the cache (a
	// refused token never becomes valid; this only bounds memory and
	// spares Keystone floods of one bad token).
	refuseTTL = time.Minute
	// serviceTokenMargin: the service token is renewed this long before it
	// expires.
	serviceTokenMargin = 30 * time.Second
)

// Config configures token validation against Keystone's Identity v3 API,
// as keystonemiddleware's [keystone_authtoken] section does for Glance.
type Config struct {
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

// Identity is the caller a validated token names.
type Identity struct {
	// User is the user's id.
	User string
	// Project is the id of the project the token is scoped to; "" for a
	// domain-, system-scoped or unscoped token.
	Project string
	// Roles are the token's role names, lower-cased, with the implied
	// roles added.
	Roles []string
	// Admin is true for a project-scoped token with the admin role:
	// Glance's image rules are project-scoped, so a domain- or
	// system-scoped admin is not an image admin.
	Admin bool
}

// clone returns a copy the caller may keep (cached identities are shared).
func (id *Identity) clone() *Identity {
	c := *id
	c.Roles = slices.Clone(id.Roles)
	return &c
}

// Validator validates tokens with Keystone and caches the answers. It is
// safe for concurrent use.
type Validator struct {
	cfg    Config
	base   string // URL without a trailing slash or /v3
	client *http.Client
	log    *slog.Logger
	now    func() time.Time // the clock (tests in this package replace it)
	cache  *tokenCache
	flight singleflight.Group // one Keystone call per token at a time

	mu         sync.Mutex // guards the service token; held while fetching one
	svcToken   string
	svcExpires time.Time
}

// New returns a Validator for cfg, with its defaults applied. The URL,
// user, password and project are required. log receives debug messages;
// nil discards them.
func New(cfg Config, log *slog.Logger) (*Validator, error) {
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
		cfg.CacheTTL = defaultCacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = defaultCacheSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache, err := newTokenCache(cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("keystone auth: %w", err)
	}
	return &Validator{
		cfg:    cfg,
		base:   strings.TrimSuffix(strings.TrimRight(cfg.URL, "/"), "/v3"),
		client: &http.Client{Transport: tr},
		log:    log,
		now:    time.Now,
		cache:  cache,
	}, nil
}

// URL returns Keystone's endpoint as configured, which a 401 answer names
// in its WWW-Authenticate header.
func (v *Validator) URL() string { return v.cfg.URL }
