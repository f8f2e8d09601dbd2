package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
)

// The node's cache, as Glance's cache API shows it: a chunk this node
// holds as one of an image's durable copies (it is in the image's
// placement) is pinned; every other chunk of an image it holds is cache,
// which the cache API may evict. A cached image is an active image whose
// every chunk the node holds, durable or not. Hits and access times are
// kept in memory only: they start from zero when the node restarts.

var _ api.Cache = (*Node)(nil)

// nodeCache is the cache API's bookkeeping on one node. Its zero value is
// ready.
type nodeCache struct {
	mu      sync.Mutex
	stats   map[string]*cacheStat // image id -> use on this node
	queue   []string              // images waiting for prefetch, in order; the head may be in progress
	current string                // image being prefetched ("" none)
	cancel  context.CancelFunc    // stops the prefetch of current
	running bool                  // a worker drains the queue

	evictMu sync.Mutex // one eviction (delete, clear, prune) at a time
}

// cacheStat is one image's use on this node since the node started.
type cacheStat struct {
	hits         int64
	lastAccessed time.Time // last download served here
	cachedAt     time.Time // when this node last completed its copy (prefetch or first download)
}

// statLocked returns the stat of an image, creating it.
func (c *nodeCache) statLocked(id string) *cacheStat {
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
func (c *nodeCache) lastUse(id string) time.Time {
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
func (c *nodeCache) dequeueLocked(id string) bool {
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
func (n *Node) RecordDownload(imageID string) {
	n.cache.mu.Lock()
	defer n.cache.mu.Unlock()
	st := n.cache.statLocked(imageID)
	now := time.Now()
	st.hits++
	st.lastAccessed = now
	if st.cachedAt.IsZero() {
		st.cachedAt = now
	}
}

// localChunks lists the chunks this node holds, with their sizes.
func (n *Node) localChunks(ctx context.Context) (map[chunkstore.Digest]int64, error) {
	held := map[chunkstore.Digest]int64{}
	err := n.chunks.List(ctx, func(d chunkstore.Digest, size int64) error {
		held[d] = size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	return held, nil
}

// CacheState implements api.Cache.
func (n *Node) CacheState(ctx context.Context) (*api.CacheState, error) {
	held, err := n.localChunks(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.CacheState{Cached: []api.CachedImage{}, Queued: []string{}}
	n.fsm.State().Each(func(img *catalog.Image) bool {
		if img.Status != catalog.StatusActive || img.Manifest == nil || len(img.Manifest.Chunks) == 0 {
			return true
		}
		for _, c := range img.Manifest.Chunks {
			d, err := chunkstore.ParseDigest(c.Digest)
			if _, ok := held[d]; err != nil || !ok {
				return true
			}
		}
		ci := api.CachedImage{ImageID: img.ID, Size: img.Manifest.Size, LastModified: img.UpdatedAt}
		n.cache.mu.Lock()
		if st := n.cache.stats[img.ID]; st != nil {
			ci.Hits = st.hits
			if !st.cachedAt.IsZero() {
				ci.LastModified = st.cachedAt
			}
			ci.LastAccessed = st.lastAccessed
		}
		n.cache.mu.Unlock()
		if ci.LastAccessed.Before(ci.LastModified) {
			ci.LastAccessed = ci.LastModified
		}
		out.Cached = append(out.Cached, ci)
		return true
	})
	slices.SortFunc(out.Cached, func(a, b api.CachedImage) int { return cmp.Compare(a.ImageID, b.ImageID) })
	n.cache.mu.Lock()
	out.Queued = append(out.Queued, n.cache.queue...)
	n.cache.mu.Unlock()
	return out, nil
}

// QueueCache implements api.Cache: the image joins the queue, and a
// worker (one per node, living as long as the node runs) fetches every
// chunk this node lacks through the peer fetch path, image by image.
func (n *Node) QueueCache(_ context.Context, imageID string) error {
	n.cache.mu.Lock()
	defer n.cache.mu.Unlock()
	if slices.Contains(n.cache.queue, imageID) {
		return nil
	}
	n.cache.queue = append(n.cache.queue, imageID)
	if n.cache.running {
		return nil
	}
	if err := n.imports.Go("cache-prefetch", n.cacheWorker); err != nil {
		n.cache.queue = n.cache.queue[:len(n.cache.queue)-1]
		return err
	}
	n.cache.running = true
	return nil
}

// cacheWorker prefetches the queued images one after the other until the
// queue is empty or the node stops.
func (n *Node) cacheWorker(ctx context.Context) {
	for {
		n.cache.mu.Lock()
		if len(n.cache.queue) == 0 || ctx.Err() != nil {
			n.cache.running = false
			n.cache.mu.Unlock()
			return
		}
		id := n.cache.queue[0]
		ictx, cancel := context.WithCancel(ctx)
		n.cache.current, n.cache.cancel = id, cancel
		n.cache.mu.Unlock()

		err := n.cacheFetch(ictx, id)
		cancel()

		n.cache.mu.Lock()
		n.cache.current, n.cache.cancel = "", nil
		n.cache.dequeueLocked(id)
		if err == nil {
			n.cache.statLocked(id).cachedAt = time.Now()
		}
		n.cache.mu.Unlock()
		switch {
		case err == nil:
			n.log.Info("image cached", "image", id)
		case ictx.Err() != nil && ctx.Err() == nil:
			n.log.Info("image prefetch cancelled", "image", id)
		default:
			n.log.Warn("image prefetch failed", "image", id, "err", err)
		}
	}
}

// cacheFetch brings every chunk of an active image to this node, up to
// FetchWindow chunks at a time, each verified by fetchChunk.
func (n *Node) cacheFetch(ctx context.Context, id string) error {
	img, err := n.fsm.State().Image(id)
	if err != nil {
		return err
	}
	if img, err = n.PullImage(ctx, img); err != nil {
		return err
	}
	if img.Status != catalog.StatusActive || img.Manifest == nil {
		return fmt.Errorf("image %s is %s, not active", id, img.Status)
	}
	digests, index := uniqueChunks(img.Manifest)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n.cfg.FetchWindow)
	for _, s := range digests {
		d, err := chunkstore.ParseDigest(s)
		if err != nil {
			return fmt.Errorf("chunk %q of %s: %w", s, id, err)
		}
		if ok, err := n.chunks.Has(ctx, d); err == nil && ok {
			continue
		}
		idx := index[s]
		g.Go(func() error {
			buf, data, err := n.fetchChunk(gctx, img, idx)
			if err != nil {
				return err
			}
			defer n.bufs.put(buf)
			if n.cfg.NoCache { // an explicit request: keep it anyway
				if err := n.chunks.Put(gctx, d, data); err != nil {
					return fmt.Errorf("store chunk %d of %s: %w", idx, id, err)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	n.announceHeld(context.WithoutCancel(ctx), img)
	return err
}

// EvictCache implements api.Cache.
func (n *Node) EvictCache(ctx context.Context, imageID string) (bool, error) {
	n.cache.mu.Lock()
	queued := n.cache.dequeueLocked(imageID)
	delete(n.cache.stats, imageID)
	n.cache.mu.Unlock()
	img, err := n.fsm.State().Image(imageID)
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
	for _, c := range img.Manifest.Chunks {
		if d, err := chunkstore.ParseDigest(c.Digest); err == nil {
			want[d] = true
		}
	}
	_, _, err = n.evict(ctx, func(d chunkstore.Digest, _ int64) bool { return want[d] })
	return queued, err
}

// ClearCache implements api.Cache.
func (n *Node) ClearCache(ctx context.Context, cache, queue bool) error {
	if queue {
		n.cache.mu.Lock()
		n.cache.queue = nil
		if n.cache.cancel != nil {
			n.cache.cancel()
		}
		n.cache.mu.Unlock()
	}
	if !cache {
		return nil
	}
	n.cache.mu.Lock()
	n.cache.stats = nil
	n.cache.mu.Unlock()
	_, _, err := n.evict(ctx, func(chunkstore.Digest, int64) bool { return true })
	return err
}

// CleanCache implements api.Cache: Glance's clean drops invalid and
// stalled cache files; here that is the chunks no image references (the
// garbage collector's work, run now) and queue entries for images that
// are no longer active.
func (n *Node) CleanCache(ctx context.Context) error {
	st := n.fsm.State()
	n.cache.mu.Lock()
	for _, id := range slices.Clone(n.cache.queue) {
		if img, err := st.Image(id); err != nil || img.Status != catalog.StatusActive {
			n.cache.dequeueLocked(id)
		}
	}
	n.cache.mu.Unlock()
	_, err := n.CollectGarbage(ctx)
	return err
}

// PruneCache implements api.Cache: with a cache budget (CacheBudget), the
// cached chunks (never the pinned ones) are evicted, least recently used
// first, until those left fit the budget. A chunk's last use is the
// latest use of any image it belongs to; an image never used since the
// node started counts as used when its data was committed. Without a
// budget nothing is pruned. Files are chunks.
func (n *Node) PruneCache(ctx context.Context) (*api.PruneResult, error) {
	budget := n.cfg.CacheBudget
	if budget <= 0 {
		return &api.PruneResult{}, nil
	}
	files, bytes, err := n.evictOver(ctx, budget)
	return &api.PruneResult{Files: files, Bytes: bytes}, err
}

// CacheNodes implements api.Cache: the live nodes whose gossip says they
// hold every chunk of the image.
func (n *Node) CacheNodes(_ context.Context, imageID string) ([]string, error) {
	out := []string{}
	for _, id := range n.gossip.FullHolders(imageID) {
		if m, ok := n.gossip.Member(id); ok && m.Meta.APIAddr != "" {
			out = append(out, n.sec.apiScheme+"://"+m.Meta.APIAddr)
		}
	}
	slices.Sort(out)
	return out, nil
}
