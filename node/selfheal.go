package node

import (
	"context"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
)

// healLoop keeps this node's durable copies complete: every chunk of an
// image whose placement names this node and that the node lacks — lost
// with its disk (restored from an older copy), or dropped when found
// corrupt — is fetched again from the other holders. It runs once the
// replica has caught up, whenever kicked (a corrupt durable copy was
// dropped) and every GCInterval.
func (n *Node) healLoop(ctx context.Context) {
	for !n.ready.Load() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	retry := time.Second
	for {
		wait := n.cfg.GCInterval
		if _, failed := n.healPass(ctx); failed > 0 {
			// Holders may be unreachable for now: come back sooner.
			wait = min(retry, wait)
			retry = min(2*retry, n.cfg.GCInterval)
		} else {
			retry = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-n.healKick:
		}
	}
}

// kickHeal schedules a heal pass soon.
func (n *Node) kickHeal() {
	select {
	case n.healKick <- struct{}{}:
	default:
	}
}

// healPass fetches the missing chunks of the images this node is a
// durable holder of; it returns how many it restored and how many it
// could not.
func (n *Node) healPass(ctx context.Context) (restoredAll, failed int) {
	var mine []*catalog.Image
	n.fsm.State().Each(func(img *catalog.Image) bool {
		if (img.Status == catalog.StatusActive || img.Status == catalog.StatusDeactivated) &&
			img.Manifest != nil && slices.Contains(img.Placement, n.id) {
			mine = append(mine, img)
		}
		return ctx.Err() == nil
	})
	for _, img := range mine {
		restored := 0
		for idx, ref := range img.Manifest.Chunks {
			if ctx.Err() != nil {
				return restoredAll, failed
			}
			d, err := chunkstore.ParseDigest(ref.Digest)
			if err != nil {
				continue
			}
			if ok, err := n.chunks.Has(ctx, d); ok || err != nil {
				continue
			}
			buf := n.bufs.get()
			data, err := n.fetchFromHolders(ctx, img, idx, d, ref.Size, buf.b, true)
			if err == nil {
				err = n.chunks.Put(ctx, d, data)
			}
			n.bufs.put(buf)
			if err != nil {
				n.log.Warn("cannot restore a durable chunk; will retry", "image", img.ID, "chunk", idx, "err", err)
				failed++
				continue
			}
			restored++
			n.metrics.healed.Add(1)
		}
		if restored > 0 {
			n.log.Info("restored missing durable chunks", "image", img.ID, "chunks", restored)
			n.announceHeld(ctx, img)
			restoredAll += restored
		}
	}
	return restoredAll, failed
}
