package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/p2pglance/p2pglance/api/keystone"
	"github.com/p2pglance/p2pglance/api/schema"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/internal/reqid"
)

// Config configures a Server.
type Config struct {
	// Backend is the node the API drives. Required.
	Backend Backend
	// Cache serves the cache API (/v2/cache); nil answers it as a Glance
	// without a cache does (404).
	Cache Cache
	// Prefetcher serves the pre-seeding jobs API (/p2p/v1/prefetch); nil
	// serves no such route.
	Prefetcher Prefetcher
	// Logger receives request errors; nil discards.
	Logger *slog.Logger
	// Auth is the auth mode; "" means AuthNoauth.
	Auth string
	// LinearizableReads makes every GET and HEAD pass the read barrier,
	// as if it carried ConsistencyHeader: for clients spread over nodes
	// by a load balancer that must read their own writes, at one Raft
	// round trip per read.
	LinearizableReads bool
	// RevisionWait bounds how long a request that carries a catalog
	// revision (RevisionHeader, RevisionCookie) waits for the local
	// replica to apply it before passing a read barrier instead; 0
	// means DefaultRevisionWait.
	RevisionWait time.Duration
	// MaxImageSize caps an image's data (Glance's image_size_cap); 0
	// means 1 TiB.
	MaxImageSize int64
	// Keystone configures token validation when Auth is AuthKeystone.
	Keystone keystone.Config
	// MaxConcurrentRequests bounds the requests served at once, data
	// transfers included; one more is answered 503 with Retry-After. 0
	// means DefaultMaxConcurrentRequests, negative means no bound.
	MaxConcurrentRequests int
	// TransferIdleTimeout is how long a request body read or a response
	// write may make no progress before the request fails (408, or a cut
	// connection once the answer has started). 0 means
	// DefaultTransferIdleTimeout, negative means none.
	TransferIdleTimeout time.Duration
	// AllowURL decides whether the cluster may read a URL a user gives
	// (web-download's uri, an import task's import_from, an http(s)
	// location), after the API has checked that it is http or https
	// with a host: Glance's import filtering and the node's own address
	// checks. nil allows every such URL.
	AllowURL func(url string) bool
	// Fleet serves /p2p/v1/images/{id}/holders and /p2p/v1/repairs; nil
	// serves no such route.
	Fleet Fleet
	// Observer is told of every request (metrics); nil: none.
	Observer RequestObserver
	// Health answers /healthcheck and /p2p/v1/ready; nil: always
	// healthy and ready.
	Health Health
	// HealthcheckDisableFile, when the file exists, makes /healthcheck
	// answer 503 "DISABLED BY FILE" (oslo.middleware's
	// disable_by_file_path); "": none.
	HealthcheckDisableFile string
	// Metrics, when not nil, serves GET /metrics (Prometheus) without
	// auth.
	Metrics http.Handler
	// ImageSent, when not nil, is told of every image data download once
	// its body has been written (Glance's image.send notification): the
	// image, who downloaded it, the bytes sent and the bytes asked for.
	// It must not block.
	ImageSent func(ctx context.Context, img *catalog.Image, project, user string, sent, want int64)
	// Extensions are served beside the built-in routes (the metadata
	// definitions API of package metadefs is one); each one's Routes is
	// called once, by New.
	Extensions []Extension
}

// Server is the HTTP handler of the Glance v2 and p2p operator APIs. It
// is the core every handler shares: the route table and the wrapper
// every request passes (request id, limits, identity, read barrier,
// error answers), policy, and the image the caller may see. The handlers
// of each resource are methods of a small type of their own (imageAPI,
// memberAPI, importAPI, ...; see the package doc), which reaches the core
// through a named field.
type Server struct {
	cfg      Config
	log      *slog.Logger
	router   *mux.Router
	keystone *keystone.Validator // nil unless Auth is AuthKeystone
	slots    limiter             // request slots (MaxConcurrentRequests)
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("api config: Backend is required")
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthNoauth
	}
	if cfg.MaxImageSize <= 0 {
		cfg.MaxImageSize = 1 << 40
	}
	if cfg.RevisionWait <= 0 {
		cfg.RevisionWait = DefaultRevisionWait
	}
	if cfg.TransferIdleTimeout == 0 {
		cfg.TransferIdleTimeout = DefaultTransferIdleTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(reqid.Handler(log.Handler()))
	s := &Server{cfg: cfg, log: log.With("component", "api"), slots: newLimiter(cfg.MaxConcurrentRequests)}
	switch cfg.Auth {
	case AuthNoauth:
	case AuthKeystone:
		ka, err := keystone.New(cfg.Keystone, s.log.With("auth", "keystone"))
		if err != nil {
			return nil, fmt.Errorf("api config: %w", err)
		}
		s.keystone = ka
	default:
		return nil, fmt.Errorf("api config: unknown auth mode %q", cfg.Auth)
	}
	s.router = s.routes()
	return s, nil
}

// table is every route, in the order gorilla/mux tries them: the handler
// groups' (with the core's own, the schemas and the cluster view, where
// they always were), the prefetch API's when there is a Prefetcher, then
// the extensions'.
func (s *Server) table() []Route {
	b := s.cfg.Backend
	quota := &quotas{backend: b, maxImageSize: s.cfg.MaxImageSize}
	locations := &locationAPI{srv: s, backend: b, quota: quota}
	images := &imageAPI{srv: s, backend: b, cache: s.cfg.Cache, quota: quota, locations: locations, log: s.log}
	table := slices.Concat(
		images.Routes(),
		(&memberAPI{srv: s, backend: b}).Routes(),
		[]Route{
			{Path: "/v2/schemas/{name}", Methods: map[string]HandlerFunc{"GET": s.showSchema}, Allow: "GET"},
			{Path: "/p2p/v1/cluster", Methods: map[string]HandlerFunc{"GET": s.showCluster}, Allow: "GET"},
		},
		(&importAPI{srv: s, backend: b, quota: quota, maxImageSize: s.cfg.MaxImageSize}).Routes(),
		(&taskAPI{srv: s, backend: b, quota: quota, log: s.log}).Routes(),
		(&discoveryAPI{backend: b}).Routes(),
		(&cacheAPI{srv: s, backend: b, cache: s.cfg.Cache}).Routes(),
		locations.Routes(),
		(&storeAPI{srv: s, backend: b}).Routes(),
	)
	if s.cfg.Prefetcher != nil {
		table = append(table, (&prefetchAPI{srv: s, prefetcher: s.cfg.Prefetcher}).Routes()...)
	}
	if s.cfg.Fleet != nil {
		table = append(table, (&fleetAPI{srv: s, fleet: s.cfg.Fleet}).Routes()...)
	}
	for _, ext := range s.cfg.Extensions {
		table = append(table, ext.Routes()...)
	}
	return table
}

// routes registers every route of the table. Each path answers 405 with
// an Allow header for methods it does not serve, as Glance does.
func (s *Server) routes() *mux.Router {
	m := mux.NewRouter()
	m.StrictSlash(false)
	for _, rt := range s.table() {
		for method, h := range rt.Methods {
			m.Handle(rt.Path, s.wrap(rt.Path, h)).Methods(method)
		}
		m.Handle(rt.Path, s.wrap(rt.Path, methodNotAllowed(rt.Allow)))
	}
	m.NotFoundHandler = s.wrap(RouteUnmatched, func(w http.ResponseWriter, r *http.Request) error {
		switch r.Method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH":
			return NewError(http.StatusNotFound, "")
		}
		return NewError(http.StatusNotImplemented, "")
	})
	return m
}

// ServeHTTP serves the health and metrics endpoints (no auth, as Glance's
// healthcheck filter comes first in its pipeline), negotiates the version
// prefix (before auth, like Glance's versionnegotiation filter) and
// dispatches the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/healthcheck":
		s.healthcheck(w, r)
		return
	case path == "/p2p/v1/ready":
		s.ready(w, r)
		return
	case path == "/p2p/ui" || path == "/p2p/ui/":
		serveDashboard(w, r)
		return
	case path == "/metrics" && s.cfg.Metrics != nil:
		s.cfg.Metrics.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(path, "/p2p/") {
		s.router.ServeHTTP(w, r)
		return
	}
	seg, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch {
	case seg == "versions" && rest == "" && r.Method == http.MethodGet:
		writeVersions(w, r, http.StatusOK)
	case isAdvertisedVersion(seg):
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/v2/" + rest
		r2.URL.RawPath = ""
		s.router.ServeHTTP(w, r2)
	default:
		writeVersions(w, r, http.StatusMultipleChoices)
	}
}

func writeVersions(w http.ResponseWriter, r *http.Request, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(versionsBody(baseURL(r)))
}

// wrap turns a HandlerFunc into an http.Handler: it sets the request id
// (in the answer and the request's context), logs the request and tells
// the observer (observe.go), sets the identity, holds the request until the local replica has the
// catalog revision it carries and stamps a write's answer with the
// revision (revision.go), and maps a returned error to Glance's answer.
func (s *Server) wrap(route string, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID, ok := reqid.Normalize(r.Header.Get(reqid.Header))
		if !ok {
			writeError(w, r, NewError(http.StatusRequestHeaderFieldsTooLarge, ""))
			return
		}
		w.Header().Set(reqid.Header, reqID)
		r = r.WithContext(reqid.With(r.Context(), reqID))
		w, done := s.observe(w, r, route)
		defer func() { done(r.Context()) }()
		rw := newRevisionWriter(w, r, s.cfg.Backend)
		w = rw
		err := s.admit(r)
		if err == nil {
			defer s.slots.release()
			var done func()
			w, r, done = s.idleTransfer(w, r)
			defer done()
			var a *Auth
			if a, err = s.identity(r); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), authKey{}, a))
				if err = checkURLEncoding(r); err == nil {
					if err = s.readBarrier(r, rw); err == nil {
						err = h(w, r)
					}
				}
			}
		}
		if err != nil {
			e := s.httpError(err)
			if e.Status >= 500 && e.Status != http.StatusNotImplemented {
				s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
			}
			writeError(w, r, e)
		}
	})
}

func methodNotAllowed(allow string) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return methodNotAllowedError(allow) }
}

// methodNotAllowedError is Glance's 405, naming the methods allowed.
func methodNotAllowedError(allow string) *Error {
	e := NewError(http.StatusMethodNotAllowed, "")
	e.Header = http.Header{"Allow": []string{allow}}
	return e
}

// showSchema serves GET /v2/schemas/{name}.
func (s *Server) showSchema(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	body, ok := schema.JSON(mux.Vars(r)["name"])
	if !ok {
		return NewError(http.StatusNotFound, "")
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(body)
	return err
}

// showCluster serves GET /p2p/v1/cluster. The nodes' internal addresses
// (peer and Raft) are for admins only: others get the list without them.
// ?usage=false leaves out the store usage, which costs a request to every
// live node (what a fleet-wide membership poll does not need).
func (s *Server) showCluster(w http.ResponseWriter, r *http.Request) error {
	usage := true
	if v, ok := r.URL.Query()["usage"]; ok {
		b, err := strconv.ParseBool(v[len(v)-1])
		if err != nil || len(v) > 1 {
			return badRequest("usage must be true or false, given once")
		}
		usage = b
	}
	info, err := s.cfg.Backend.Cluster(r.Context(), usage)
	if err != nil {
		return err
	}
	if !authFrom(r.Context()).Admin {
		shown := *info
		shown.Nodes = make([]ClusterNode, len(info.Nodes))
		for i, n := range info.Nodes {
			n.PeerAddr, n.RaftAddr = "", ""
			shown.Nodes[i] = n
		}
		info = &shown
	}
	return writeJSON(w, http.StatusOK, info)
}
