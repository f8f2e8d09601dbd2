package node

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
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
func (n *Node) chunkUse(st *raftfsm.State) (map[chunkstore.Digest]bool, map[chunkstore.Digest][]*catalog.Image) {
	pinned := map[chunkstore.Digest]bool{}
	users := map[chunkstore.Digest][]*catalog.Image{}
	st.Each(func(img *catalog.Image) bool {
		if m := img.Manifest; m != nil {
			pin := len(img.Placement) == 0 || slices.Contains(img.Placement, n.id)
			for _, c := range m.Chunks {
				d, err := chunkstore.ParseDigest(c.Digest)
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
		if m := img.Staging; m != nil && (len(img.StagingPlacement) == 0 || slices.Contains(img.StagingPlacement, n.id)) {
			for _, c := range m.Chunks {
				if d, err := chunkstore.ParseDigest(c.Digest); err == nil {
					pinned[d] = true
				}
			}
		}
		return true
	})
	return pinned, users
}

// evictWith deletes the cached chunks that choose picks among all of
// them, tells gossip what this node now holds of the images concerned and
// gives the space back. It returns the chunks and bytes evicted.
//
// Chunks held as durable copies, and chunks an upload, copy or
// replication in progress has protected, are never candidates: the
// catalog is read and the chunks deleted under inflightMu, so a chunk a
// peer has just been told this node holds (handleMissing protects it
// first) is never deleted behind its back.
func (n *Node) evictWith(ctx context.Context, choose func([]cachedChunk) []cachedChunk) (int64, int64, error) {
	n.cache.evictMu.Lock()
	defer n.cache.evictMu.Unlock()
	held, err := n.localChunks(ctx)
	if err != nil {
		return 0, 0, err
	}
	n.inflightMu.Lock()
	pinned, users := n.chunkUse(n.fsm.State())
	for _, u := range n.inflight {
		for d := range u.digests {
			pinned[d] = true
		}
	}
	var cands []cachedChunk
	for d, size := range held {
		if len(users[d]) > 0 && !pinned[d] {
			cands = append(cands, cachedChunk{d: d, size: size, users: users[d]})
		}
	}
	victims := choose(cands)
	del := make([]chunkstore.Digest, len(victims))
	var total int64
	touched := map[string]*catalog.Image{}
	for i, v := range victims {
		del[i] = v.d
		total += v.size
		for _, img := range v.users {
			touched[img.ID] = img
		}
	}
	if len(del) > 0 {
		err = n.chunks.Delete(ctx, del...)
	}
	n.inflightMu.Unlock()
	if err != nil {
		return 0, 0, fmt.Errorf("evict cached chunks: %w", err)
	}
	if len(del) == 0 {
		return 0, 0, nil
	}
	for id, img := range touched {
		n.gossip.Withdraw(id)
		n.announceHeld(ctx, img)
	}
	if err := n.chunks.Reclaim(ctx); err != nil {
		n.log.Warn("reclaiming space after cache eviction failed", "err", err)
	}
	n.log.Info("evicted cached chunks", "chunks", len(del), "bytes", total, "images", len(touched))
	return int64(len(del)), total, nil
}

// evict evicts the cached chunks for which pick is true.
func (n *Node) evict(ctx context.Context, pick func(d chunkstore.Digest, size int64) bool) (int64, int64, error) {
	return n.evictWith(ctx, func(cands []cachedChunk) []cachedChunk {
		return slices.DeleteFunc(cands, func(c cachedChunk) bool { return !pick(c.d, c.size) })
	})
}

// evictOver evicts cached chunks, least recently used first, until the
// cached bytes left are at most budget.
func (n *Node) evictOver(ctx context.Context, budget int64) (int64, int64, error) {
	return n.evictWith(ctx, func(cands []cachedChunk) []cachedChunk {
		var total int64
		for _, c := range cands {
			total += c.size
		}
		if total <= budget {
			return nil
		}
		uses := map[string]time.Time{}
		for i := range cands {
			c := &cands[i]
			for _, img := range c.users {
				u, ok := uses[img.ID]
				if !ok {
					if u = n.cache.lastUse(img.ID); u.IsZero() {
						u = img.UpdatedAt
					}
					uses[img.ID] = u
				}
				if u.After(c.lastUse) {
					c.lastUse = u
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
