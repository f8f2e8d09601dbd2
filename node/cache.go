package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// cache is the node's cache, as Glance's cache API shows it (api.Cache):
// a chunk this node holds as one of an image's durable copies (it is in
// the image's placement) is pinned; every other chunk of an image it
// holds is cache, which the cache API may evict (cache_evict.go). A
// cached image is, as in Glance, one this node cached (a prefetch, or a
// download it served) since it started and whose every chunk it holds,
// durable or not; deleting it from the cache forgets it (and drops the
// chunks that are not durable copies). cache owns the prefetch queue and its worker (started
// through spawn, so bounded by the node's Run context), the hits and
// access times (kept in memory only: they start from zero when the node
// restarts) and every eviction.
type cache struct {
	cacheDeps

	mu      sync.Mutex
	stats   map[string]*cacheStat // image id -> use on this node
	queue   []string              // images waiting for prefetch, in order; the head may be in progress
	current string                // image being prefetched ("" none)
	cancel  context.CancelFunc    // stops the prefetch of current
	running bool                  // a worker drains the queue

	evictMu sync.Mutex // one eviction (delete, clear, prune, budget) at a time

	// evictedChunks and evictedBytes count what evictions deleted.
	evictedChunks, evictedBytes atomic.Int64
}

// cacheDeps is what the cache needs from the node, which wires it in
// New.
type cacheDeps struct {
	self        string
	log         *slog.Logger
	fetchWindow int // chunks fetched at once (Config.FetchWindow)
	// prefetchInterval is how long the prefetch pass waits after it is
	// started by a queued image (Config.CachePrefetchInterval; <= 0: not
	// at all).
	prefetchInterval time.Duration
	noCache          bool   // fetched chunks are not kept unless stored here (Config.NoCache)
	budget           int64  // bytes of cached chunks to keep at most (Config.CacheBudget); 0 none
	apiScheme        string // "http" or "https", for CacheNodes' URLs
	// sinceCheck counts the bytes cached since the last budget check (the
	// download path adds to it and kicks the collector past budget/8).
	sinceCheck *atomic.Int64

	// state is the catalog replica, read-only.
	state    func() *raftfsm.State
	chunks   cacheStore
	cluster  cacheCluster
	inflight cacheGuard
	// announce tells the trackers which chunks of img this node holds.
	announce func(ctx context.Context, img *catalog.Image)
	// pull brings an image whose data is still only at its locations into
	// the cluster (api.Backend.PullImage).
	pull func(ctx context.Context, img *catalog.Image) (*catalog.Image, error)
	// fetch returns chunk idx of img, verified, fetched from its holders
	// unless held here (and then kept unless noCache); release gives its
	// buffer back.
	fetch func(ctx context.Context, img *catalog.Image, idx int) (data []byte, release func(), err error)
	// spawn runs fn in the background under the node's Run context.
	spawn func(name string, fn func(ctx context.Context)) error
	// collect deletes the chunks no image references (the garbage
	// collector's pass).
	collect func(ctx context.Context) (int, error)
}

// cacheStore is the local chunk store as the cache uses it.
type cacheStore interface {
	Has(ctx context.Context, d chunkstore.Digest) (bool, error)
	Put(ctx context.Context, d chunkstore.Digest, data []byte) error
	Delete(ctx context.Context, ds ...chunkstore.Digest) error
	List(ctx context.Context, fn func(d chunkstore.Digest, size int64) error) error
	Reclaim(ctx context.Context) error
	Stats() chunkstore.Stats
}

// cacheCluster is the membership and chunk availability the cache reads
// and updates (nodeCluster: gossip and the trackers).
type cacheCluster interface {
	Member(id string) (gossip.Member, bool)
	FullHolders(ctx context.Context, imageID string) []string
	Withdraw(imageID string)
}

// cacheGuard is the chunks uploads in progress protect (inflightSet).
type cacheGuard interface {
	hold(fn func(protected map[chunkstore.Digest]bool))
}

var _ api.Cache = (*cache)(nil)

func newCache(d cacheDeps) *cache { return &cache{cacheDeps: d} }

// cacheStat is one image's use on this node since the node started.
type cacheStat struct {
	hits         int64
	lastAccessed time.Time // last download served here
	cachedAt     time.Time // when this node last completed its copy (prefetch or first download)
}

// statLocked returns the stat of an image, creating it.
func (c *cache) statLocked(id string) *cacheStat {
	if c.stats == nil {
		c.stats = map[string]*cacheStat{}
	}
	st := c.stats[id]
	if st == nil {
		st = &cacheStat{}
		c.stats[id] = st
	}
	return st
}

// lastUse is when an image was last used here (zero if never seen).
func (c *cache) lastUse(id string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats[id]
	if st == nil {
		return time.Time{}
	}
	if st.lastAccessed.After(st.cachedAt) {
		return st.lastAccessed
	}
	return st.cachedAt
}

// dequeueLocked removes id from the queue and stops its prefetch if it
// runs; it reports whether id was queued.
func (c *cache) dequeueLocked(id string) bool {
	i := slices.Index(c.queue, id)
	if i < 0 {
		return false
	}
	c.queue = slices.Delete(c.queue, i, i+1)
	if c.current == id && c.cancel != nil {
		c.cancel()
	}
	return true
}

// RecordDownload implements api.Cache.
func (c *cache) RecordDownload(imageID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.statLocked(imageID)
	now := time.Now()
	st.hits++
	st.lastAccessed = now
	if st.cachedAt.IsZero() {
		st.cachedAt = now
	}
}

// CacheState implements api.Cache.
func (c *cache) CacheState(ctx context.Context) (*api.CacheState, error) {
	held, err := c.localChunks(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.CacheState{Cached: []api.CachedImage{}, Queued: []string{}}
	c.state().Each(func(img *catalog.Image) bool {
		if img.Status != catalog.StatusActive || img.Manifest == nil || len(img.Manifest.Chunks) == 0 {
			return true
		}
		for _, c := range img.Manifest.Chunks {
			d, err := chunkstore.ParseDigest(c.Digest)
			if _, ok := held[d]; err != nil || !ok {
				return true
			}
		}
		ci := api.CachedImage{ImageID: img.ID, Size: img.Manifest.Size}
		c.mu.Lock()
		st := c.stats[img.ID]
		if st != nil {
			ci.Hits, ci.LastModified, ci.LastAccessed = st.hits, st.cachedAt, st.lastAccessed
		}
		c.mu.Unlock()
		if st == nil || st.cachedAt.IsZero() {
			return true // held (a durable copy, say) but never cached here
		}
		if ci.LastAccessed.Before(ci.LastModified) {
			ci.LastAccessed = ci.LastModified
		}
		out.Cached = append(out.Cached, ci)
		return true
	})
	slices.SortFunc(out.Cached, func(a, b api.CachedImage) int { return cmp.Compare(a.ImageID, b.ImageID) })
	c.mu.Lock()
	out.Queued = append(out.Queued, c.queue...)
	c.mu.Unlock()
	return out, nil
}

// QueueCache implements api.Cache: the image joins the queue, and a
// worker (one per node, living as long as the node runs) fetches every
// chunk this node lacks through the peer fetch path, image by image.
func (c *cache) QueueCache(_ context.Context, imageID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(c.queue, imageID) {
		return nil
	}
	c.queue = append(c.queue, imageID)
	if c.running {
		return nil
	}
	if err := c.spawn("cache-prefetch", c.worker); err != nil {
		c.queue = c.queue[:len(c.queue)-1]
		return err
	}
	c.running = true
	return nil
}

// worker runs prefetch passes, as Glance's cache prefetcher does: each
// waits prefetchInterval, then prefetches the queued images one after
// the other; it stops when a pass ends with the queue empty, or the node
// stops.
func (c *cache) worker(ctx context.Context) {
	if c.prefetchInterval > 0 && !sleepCtx(ctx, c.prefetchInterval) {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		return
	}
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || ctx.Err() != nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		id := c.queue[0]
		ictx, cancel := context.WithCancel(ctx)
		c.current, c.cancel = id, cancel
		c.mu.Unlock()

		err := c.fetchImage(ictx, id)
		cancel()

		c.mu.Lock()
		c.current, c.cancel = "", nil
		c.dequeueLocked(id)
		if err == nil {
			c.statLocked(id).cachedAt = time.Now()
		}
		c.mu.Unlock()
		switch {
		case err == nil:
			c.log.Info("image cached", "image", id)
		case ictx.Err() != nil && ctx.Err() == nil:
			c.log.Info("image prefetch cancelled", "image", id)
		default:
			c.log.Warn("image prefetch failed", "image", id, "err", err)
		}
	}
}

// fetchImage brings every chunk of an active image to this node, up to
// fetchWindow chunks at a time, each verified by fetch.
func (c *cache) fetchImage(ctx context.Context, id string) error {
	img, err := c.state().Image(id)
	if err != nil {
		return err
	}
	if img, err = c.pull(ctx, img); err != nil {
		return err
	}
	if img.Status != catalog.StatusActive || img.Manifest == nil {
		return fmt.Errorf("image %s is %s, not active", id, img.Status)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.fetchWindow)
	seen := map[string]bool{}
	for idx, ref := range img.Manifest.Chunks {
		if seen[ref.Digest] {
			continue // the first index of each distinct chunk
		}
		seen[ref.Digest] = true
		d, err := chunkstore.ParseDigest(ref.Digest)
		if err != nil {
			return fmt.Errorf("chunk %q of %s: %w", ref.Digest, id, err)
		}
		if ok, err := c.chunks.Has(ctx, d); err == nil && ok {
			continue
		}
		g.Go(func() error {
			data, release, err := c.fetch(gctx, img, idx)
			if err != nil {
				return err
			}
			defer release()
			if c.noCache { // an explicit request: keep it anyway
				if err := c.chunks.Put(gctx, d, data); err != nil {
					return fmt.Errorf("store chunk %d of %s: %w", idx, id, err)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	c.announce(context.WithoutCancel(ctx), img)
	return err
}

// holdsAll reports whether the store holds every chunk of active image
// id.
func (c *cache) holdsAll(ctx context.Context, id string) (bool, error) {
	img, err := c.state().Image(id)
	if err != nil || img.Status != catalog.StatusActive || img.Manifest == nil {
		return false, err
	}
	for _, ref := range img.Manifest.Chunks {
		d, err := chunkstore.ParseDigest(ref.Digest)
		if err != nil {
			return false, err
		}
		if ok, err := c.chunks.Has(ctx, d); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// EvictCache implements api.Cache.
func (c *cache) EvictCache(ctx context.Context, imageID string) (bool, error) {
	c.mu.Lock()
	queued := c.dequeueLocked(imageID)
	delete(c.stats, imageID)
	c.mu.Unlock()
	img, err := c.state().Image(imageID)
	if errors.Is(err, catalog.ErrNotFound) {
		return queued, nil // its chunks are garbage: GC takes them
	}
	if err != nil {
		return queued, err
	}
	if img.Manifest == nil {
		return queued, nil
	}
	want := map[chunkstore.Digest]bool{}
	for _, ref := range img.Manifest.Chunks {
		if d, err := chunkstore.ParseDigest(ref.Digest); err == nil {
			want[d] = true
		}
	}
	_, _, err = c.evict(ctx, func(d chunkstore.Digest, _ int64) bool { return want[d] })
	return queued, err
}

// ClearCache implements api.Cache.
func (c *cache) ClearCache(ctx context.Context, cached, queue bool) error {
	if queue {
		c.mu.Lock()
		c.queue = nil
		if c.cancel != nil {
			c.cancel()
		}
		c.mu.Unlock()
	}
	if !cached {
		return nil
	}
	c.mu.Lock()
	c.stats = nil
	c.mu.Unlock()
	_, _, err := c.evict(ctx, func(chunkstore.Digest, int64) bool { return true })
	return err
}

// CleanCache implements api.Cache: Glance's clean drops invalid and
// stalled cache files; here that is the chunks no image references (the
// garbage collector's work, run now) and queue entries for images that
// are no longer active.
func (c *cache) CleanCache(ctx context.Context) error {
	st := c.state()
	c.mu.Lock()
	for _, id := range slices.Clone(c.queue) {
		if img, err := st.Image(id); err != nil || img.Status != catalog.StatusActive {
			c.dequeueLocked(id)
		}
	}
	c.mu.Unlock()
	_, err := c.collect(ctx)
	return err
}

// PruneCache implements api.Cache: with a cache budget (CacheBudget), the
// cached chunks (never the pinned ones) are evicted, least recently used
// first, until those left fit the budget. A chunk's last use is the
// latest use of any image it belongs to; an image never used since the
// node started counts as used when its data was committed. Without a
// budget nothing is pruned. Files are chunks.
func (c *cache) PruneCache(ctx context.Context) (*api.PruneResult, error) {
	budget := c.budget
	if budget <= 0 {
		return &api.PruneResult{}, nil
	}
	files, bytes, err := c.evictOver(ctx, budget)
	return &api.PruneResult{Files: files, Bytes: bytes}, err
}

// CacheNodes implements api.Cache: the live nodes whose trackers say
// they hold every chunk of the image.
func (c *cache) CacheNodes(ctx context.Context, imageID string) ([]string, error) {
	out := []string{}
	for _, id := range c.cluster.FullHolders(ctx, imageID) {
		if m, ok := c.cluster.Member(id); ok && m.Meta.APIAddr != "" {
			out = append(out, c.apiScheme+"://"+m.Meta.APIAddr)
		}
	}
	slices.Sort(out)
	return out, nil
}
