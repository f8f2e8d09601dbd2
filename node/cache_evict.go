package node

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// cachedChunk is a chunk this node holds as cache: referenced by images,
// none of which it holds durably.
type cachedChunk struct {
	d       chunkstore.Digest
	size    int64
	users   []*catalog.Image
	lastUse time.Time // filled by evictOver
}

// chunkUse reads the catalog: the chunks this node must keep — those of
// images whose placement names it (or names no one: durability unknown),
// and of staged data it holds durably — and the images each manifest
// chunk belongs to.
func (c *cache) chunkUse(st *raftfsm.State) (map[chunkstore.Digest]bool, map[chunkstore.Digest][]*catalog.Image) {
	pinned := map[chunkstore.Digest]bool{}
	users := map[chunkstore.Digest][]*catalog.Image{}
	st.Each(func(img *catalog.Image) bool {
		if m := img.Manifest; m != nil {
			pin := len(img.Placement) == 0 || slices.Contains(img.Placement, c.self)
			for _, ref := range m.Chunks {
				d, err := chunkstore.ParseDigest(ref.Digest)
				if err != nil {
					continue
				}
				if u := users[d]; len(u) == 0 || u[len(u)-1] != img {
					users[d] = append(u, img)
				}
				if pin {
					pinned[d] = true
				}
			}
		}
		if m := img.Staging; m != nil && (len(img.StagingPlacement) == 0 || slices.Contains(img.StagingPlacement, c.self)) {
			for _, ref := range m.Chunks {
				if d, err := chunkstore.ParseDigest(ref.Digest); err == nil {
					pinned[d] = true
				}
			}
		}
		return true
	})
	return pinned, users
}

// evictWith deletes the cached chunks that choose picks among all of
// them, tells the trackers what this node now holds of the images concerned and
// gives the space back. It returns the chunks and bytes evicted.
//
// Chunks held as durable copies, and chunks an upload, copy or
// replication in progress has protected, are never candidates: the
// catalog is read and the chunks deleted while the inflight set is held,
// so a chunk a peer has just been told this node holds (Missing protects
// it first) is never deleted behind its back.
func (c *cache) evictWith(ctx context.Context, choose func([]cachedChunk) []cachedChunk) (int64, int64, error) {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	held, err := c.localChunks(ctx)
	if err != nil {
		return 0, 0, err
	}
	var (
		del     []chunkstore.Digest
		total   int64
		touched = map[string]*catalog.Image{}
	)
	c.inflight.hold(func(protected map[chunkstore.Digest]bool) {
		pinned, users := c.chunkUse(c.state())
		var cands []cachedChunk
		for d, size := range held {
			if len(users[d]) > 0 && !pinned[d] && !protected[d] {
				cands = append(cands, cachedChunk{d: d, size: size, users: users[d]})
			}
		}
		victims := choose(cands)
		del = make([]chunkstore.Digest, len(victims))
		for i, v := range victims {
			del[i] = v.d
			total += v.size
			for _, img := range v.users {
				touched[img.ID] = img
			}
		}
		if len(del) > 0 {
			err = c.chunks.Delete(ctx, del...)
		}
	})
	if err != nil {
		return 0, 0, fmt.Errorf("evict cached chunks: %w", err)
	}
	if len(del) == 0 {
		return 0, 0, nil
	}
	for id, img := range touched {
		c.cluster.Withdraw(id)
		c.announce(ctx, img)
	}
	if err := c.chunks.Reclaim(ctx); err != nil {
		c.log.Warn("reclaiming space after cache eviction failed", "err", err)
	}
	c.evictedChunks.Add(int64(len(del)))
	c.evictedBytes.Add(total)
	c.log.Info("evicted cached chunks", "chunks", len(del), "bytes", total, "images", len(touched))
	return int64(len(del)), total, nil
}

// evict evicts the cached chunks for which pick is true.
func (c *cache) evict(ctx context.Context, pick func(d chunkstore.Digest, size int64) bool) (int64, int64, error) {
	return c.evictWith(ctx, func(cands []cachedChunk) []cachedChunk {
		return slices.DeleteFunc(cands, func(cand cachedChunk) bool { return !pick(cand.d, cand.size) })
	})
}

// evictOver evicts cached chunks, least recently used first, until the
// cached bytes left are at most budget.
func (c *cache) evictOver(ctx context.Context, budget int64) (int64, int64, error) {
	return c.evictWith(ctx, func(cands []cachedChunk) []cachedChunk {
		var total int64
		for _, cand := range cands {
			total += cand.size
		}
		if total <= budget {
			return nil
		}
		uses := map[string]time.Time{}
		for i := range cands {
			cand := &cands[i]
			for _, img := range cand.users {
				u, ok := uses[img.ID]
				if !ok {
					if u = c.lastUse(img.ID); u.IsZero() {
						u = img.UpdatedAt
					}
					uses[img.ID] = u
				}
				if u.After(cand.lastUse) {
					cand.lastUse = u
				}
			}
		}
		slices.SortFunc(cands, func(a, b cachedChunk) int {
			if c := a.lastUse.Compare(b.lastUse); c != 0 {
				return c
			}
			return bytes.Compare(a.d[:], b.d[:])
		})
		k := 0
		for k < len(cands) && total > budget {
			total -= cands[k].size
			k++
		}
		return cands[:k]
	})
}

// enforceBudget evicts cached chunks, least recently used first, until
// those left fit the cache budget (none: nothing to do). The garbage
// collector's loop calls it after each pass.
func (c *cache) enforceBudget(ctx context.Context) {
	budget := c.budget
	if budget <= 0 {
		return
	}
	c.sinceCheck.Store(0)
	if c.chunks.Stats().Bytes <= budget {
		return // cached chunks are some of these: none to evict, no catalog to read
	}
	if chunks, bytes, err := c.evictOver(ctx, budget); err != nil && ctx.Err() == nil {
		c.log.Warn("cache eviction failed", "err", err)
	} else if chunks > 0 {
		c.log.Info("evicted cached chunks over the cache budget", "chunks", chunks, "bytes", bytes, "budget", budget)
	}
}

// localChunks lists the chunks this node holds, with their sizes.
func (c *cache) localChunks(ctx context.Context) (map[chunkstore.Digest]int64, error) {
	held := map[chunkstore.Digest]int64{}
	err := c.chunks.List(ctx, func(d chunkstore.Digest, size int64) error {
		held[d] = size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	return held, nil
}

// usage measures this node's store: pinned (durable) and cached bytes.
func (c *cache) usage(ctx context.Context) (peer.Usage, error) {
	local, err := c.localChunks(ctx)
	if err != nil {
		return peer.Usage{}, err
	}
	keep, _ := c.chunkUse(c.state())
	u := peer.Usage{CacheBudget: c.budget}
	for d, size := range local {
		u.Chunks++
		u.Bytes += size
		if keep[d] {
			u.PinnedBytes += size
		} else {
			u.CacheBytes += size
		}
	}
	return u, nil
}
