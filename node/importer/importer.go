package importer

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// Config configures an Importer. The node passes its own settings; a
// zero duration or size takes the node's default.
type Config struct {
	// Replicas is how many durable copies an image should have; a
	// placement committed with fewer is marked ShortPlacement.
	Replicas int
	// WriteTimeout bounds a write's wait for the leader; the bookkeeping
	// at the end of an import (which runs even while the node stops)
	// takes at most min(WriteTimeout, 5s). Default 10s.
	WriteTimeout time.Duration
	// UploadGrace is how long a node may be gone before the leader fails
	// the imports and stages it was running. Default 30s.
	UploadGrace time.Duration
	// LocationPullTimeout bounds one pull of an image from its location,
	// the wait for another node's pull included. Default 1 hour.
	LocationPullTimeout time.Duration
	// MaxImageSize caps a pulled image whose size the catalog does not
	// record. Default 1 TiB.
	MaxImageSize int64
	// EagerLocations makes a location import read the origin at once
	// instead of on the image's first download.
	EagerLocations bool
	// GlanceDownloadEndpoints maps a region to the Glance endpoint that
	// glance-download imports from; the method is offered when it is not
	// empty.
	GlanceDownloadEndpoints map[string]string
	// GlanceDownloadProperties are the prefixes of the remote image's
	// custom properties a glance-download copies; nil: Glance's default
	// (DefaultGlanceDownloadProperties).
	GlanceDownloadProperties []string
	// Filter decides which URLs the importer reads and where it may
	// connect (web-download, glance-download, locations); the node
	// builds it from its import filtering settings and its cluster's
	// addresses, and trusts the GlanceDownloadEndpoints' origins. nil:
	// Glance's default rules, nothing trusted.
	Filter *urlfilter.Policy
	// IdleTimeout fails a read from a remote (an origin or a remote
	// Glance) that waits that long for a byte, and a request whose answer
	// does not start within it. Default 60s (the API's transfer idle
	// timeout); negative: none.
	IdleTimeout time.Duration
	// Started is when the node started: a pull lock this node took
	// before then was cut by a restart.
	Started time.Time
	// Logger receives the importer's logs; nil discards.
	Logger *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.UploadGrace <= 0 {
		c.UploadGrace = 30 * time.Second
	}
	if c.LocationPullTimeout <= 0 {
		c.LocationPullTimeout = time.Hour
	}
	if c.MaxImageSize <= 0 {
		c.MaxImageSize = 1 << 40
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Filter == nil {
		c.Filter, _ = urlfilter.New(urlfilter.Rules{}) // the default rules are valid
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// DefaultIdleTimeout is Config.IdleTimeout's default.
const DefaultIdleTimeout = 60 * time.Second

// Deps are what an Importer works through.
type Deps struct {
	Catalog Catalog
	Data    Data
	Cluster Cluster
}

// Importer runs a node's imports, location imports, location pulls and
// stages, and recovers those a stopped node left behind. Its background
// work lives as long as Run.
type Importer struct {
	cfg     Config
	log     *slog.Logger
	cat     Catalog
	data    Data
	cluster Cluster
	filter  *urlfilter.Policy
	client  *http.Client // web-download, glance-download and location fetches (client.go)

	mu      sync.Mutex
	ctx     context.Context // nil until Run
	stopped bool
	wg      sync.WaitGroup
	active  map[string]bool // task ids, stage, upload and pull sessions in progress here
	settled atomic.Bool     // the first recovery pass after start is done

	pulls pullGroup // location pulls in progress here

	// originBytes counts the bytes read from remote origins: web-download
	// and glance-download sources, image locations.
	originBytes atomic.Int64
}

// OriginBytes returns the bytes this node has read from remote origins
// (web-download, glance-download, locations) since it started.
func (im *Importer) OriginBytes() int64 { return im.originBytes.Load() }

// errStopped means the node is not running imports (yet, or any more).
var errStopped = fmt.Errorf("node is not running imports: %w", catalog.ErrUnavailable)

// New builds an Importer; it accepts work once Run has started.
func New(cfg Config, deps Deps) *Importer {
	cfg.applyDefaults()
	return &Importer{
		cfg: cfg, log: cfg.Logger, cat: deps.Catalog, data: deps.Data, cluster: deps.Cluster,
		active: map[string]bool{}, filter: cfg.Filter, client: newClient(cfg.Filter),
	}
}

// Run accepts imports until ctx ends, then refuses new ones and waits
// for the running ones (which see ctx end). Meanwhile it recovers the
// imports, stages, uploads and pulls whose node stopped running them.
func (im *Importer) Run(ctx context.Context) {
	im.mu.Lock()
	im.ctx = ctx
	im.mu.Unlock()
	defer im.close()
	im.recoverLoop(ctx)
}

// close refuses new work and waits for the running work.
func (im *Importer) close() {
	im.mu.Lock()
	im.stopped = true
	im.mu.Unlock()
	im.wg.Wait()
	im.client.CloseIdleConnections()
}

// running reports whether work is accepted.
func (im *Importer) running() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.ctx != nil && !im.stopped && im.ctx.Err() == nil
}

// Go runs fn in the background as work key, under Run's context; Run
// waits for it before it returns. It fails with catalog.ErrUnavailable
// when Run is not running.
func (im *Importer) Go(key string, fn func(ctx context.Context)) error {
	im.mu.Lock()
	if im.ctx == nil || im.stopped {
		im.mu.Unlock()
		return errStopped
	}
	ctx := im.ctx
	im.wg.Add(1)
	im.active[key] = true
	im.mu.Unlock()
	go func() {
		defer im.wg.Done()
		defer im.done(key)
		fn(ctx)
	}()
	return nil
}

// Track marks foreground work key (an upload or stage session) as in
// progress on this node until the returned func is called, so recovery
// leaves its image alone.
func (im *Importer) Track(key string) (untrack func()) {
	im.begin(key)
	return func() { im.done(key) }
}

func (im *Importer) begin(key string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.active[key] = true
}

func (im *Importer) done(key string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	delete(im.active, key)
}

func (im *Importer) isActive(key string) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.active[key]
}

// Settled reports whether the node has caught up with the catalog since
// it started and has run its first recovery pass over interrupted
// imports and stages (and, before it, over interrupted uploads): work
// started from then on is never mistaken for work left over from before
// a restart.
func (im *Importer) Settled() bool { return im.settled.Load() }

// Methods returns the import methods offered: Glance's defaults, plus
// glance-download when some region has an endpoint.
func (im *Importer) Methods() []string {
	m := []string{catalog.MethodGlanceDirect, catalog.MethodWebDownload, catalog.MethodCopyImage}
	if len(im.cfg.GlanceDownloadEndpoints) > 0 {
		m = append(m, catalog.MethodGlanceDownload)
	}
	return m
}

// finishContext bounds the bookkeeping at the end of an import: it runs
// even when the node is stopping (the import's own context has ended).
func (im *Importer) finishContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), min(im.cfg.WriteTimeout, 5*time.Second))
}
