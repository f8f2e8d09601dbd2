package node

import (
	"context"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
)

// orphanGrace protects chunks pushed for an upload whose saving status
// this node may not have applied yet.
const orphanGrace = 2 * time.Minute

// kickGC asks the GC loop to run soon.
func (n *Node) kickGC() {
	select {
	case n.gcKick <- struct{}{}:
	default:
	}
}

// gcLoop collects garbage every GCInterval and when kicked, then keeps
// cached (non-durable) chunks within CacheBudget, least recently used
// evicted first.
func (n *Node) gcLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.gcKick:
		}
		if _, err := n.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("garbage collection failed", "err", err)
		}
		if budget := n.cfg.CacheBudget; budget > 0 && n.ready.Load() {
			n.cachedSinceEvict.Store(0)
			if chunks, bytes, err := n.evictOver(ctx, budget); err != nil && ctx.Err() == nil {
				n.log.Warn("cache eviction failed", "err", err)
			} else if chunks > 0 {
				n.log.Info("evicted cached chunks over the cache budget", "chunks", chunks, "bytes", bytes, "budget", budget)
			}
		}
	}
}

// CollectGarbage deletes every local chunk that no image references and
// no upload in progress needs, then gives the space back to the file
// system. It returns the number of chunks deleted.
//
// It does nothing until the node's replica has caught up with the leader
// after start: before that, a chunk of a committed image could look
// unreferenced.
func (n *Node) CollectGarbage(ctx context.Context) (int, error) {
	if !n.ready.Load() {
		return 0, nil
	}
	st := n.fsm.State()
	live := map[chunkstore.Digest]struct{}{}
	st.Each(func(img *catalog.Image) bool {
		for _, m := range []*catalog.Manifest{img.Manifest, img.Staging} {
			if m == nil {
				continue
			}
			for _, c := range m.Chunks {
				if d, err := chunkstore.ParseDigest(c.Digest); err == nil {
					live[d] = struct{}{}
				}
			}
		}
		return true
	})
	n.inflightMu.Lock()
	for image, u := range n.inflight {
		img, err := st.Image(image)
		// Data still arriving stays protected however long its stream
		// stalls: an upload (saving), a stage, import or location pull
		// (a lock on the image). The uploader's status may not have
		// reached this node yet, so a recent push stays protected too
		// unless the image is gone for good.
		arriving := err == nil && (img.Status == catalog.StatusSaving || img.Status == catalog.StatusImporting || img.Upload != nil)
		keep := arriving || (!st.Tombstoned(image) && time.Since(u.touched) < n.cfg.OrphanGrace)
		if !keep {
			delete(n.inflight, image)
			continue
		}
		for d := range u.digests {
			live[d] = struct{}{}
		}
	}
	n.inflightMu.Unlock()

	var dead []chunkstore.Digest
	err := n.chunks.List(ctx, func(d chunkstore.Digest, _ int64) error {
		if _, ok := live[d]; !ok {
			dead = append(dead, d)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list chunks: %w", err)
	}
	if len(dead) == 0 {
		return 0, nil
	}
	if err := n.chunks.Delete(ctx, dead...); err != nil {
		return 0, fmt.Errorf("delete garbage chunks: %w", err)
	}
	n.metrics.gcDeleted.Add(int64(len(dead)))
	if err := n.chunks.Reclaim(ctx); err != nil {
		return len(dead), fmt.Errorf("reclaim space: %w", err)
	}
	n.log.Info("collected garbage", "chunks", len(dead))
	return len(dead), nil
}
