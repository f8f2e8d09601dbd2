package node

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
)

// healer keeps this node's durable copies complete: every chunk of an
// image whose placement names this node and that the node lacks — lost
// with its disk (restored from an older copy), or dropped when found
// corrupt — is fetched again from the other holders. Its loop is bounded
// by the context given to run (the node's Run context).
type healer struct {
	healerDeps
	kicked chan struct{} // a durable copy was dropped
}

// healerDeps is what the healer needs from the node, which wires it in
// New.
type healerDeps struct {
	self     string
	log      *slog.Logger
	interval time.Duration // between passes (Config.GCInterval)
	healed   *atomic.Int64 // counts the chunks restored (Metrics.Healed)

	// eachMine calls fn for every image with data whose placement names
	// this node, until fn returns false.
	eachMine func(fn func(*catalog.Image) bool)
	// ready reports whether the replica has caught up once since start.
	ready  func() bool
	chunks healerStore
	// fetchFromHolders returns chunk idx of img (digest d, size bytes),
	// verified, from the best of its other holders, waiting for a busy
	// one; release gives its buffer back.
	fetchFromHolders func(ctx context.Context, img *catalog.Image, idx int, d chunkstore.Digest, size int64) (data []byte, release func(), err error)
	// announce tells gossip which chunks of img this node holds.
	announce func(ctx context.Context, img *catalog.Image)
}

// healerStore is the local chunk store as the healer uses it.
type healerStore interface {
	Has(ctx context.Context, d chunkstore.Digest) (bool, error)
	Put(ctx context.Context, d chunkstore.Digest, data []byte) error
}

func newHealer(d healerDeps) *healer {
	return &healer{healerDeps: d, kicked: make(chan struct{}, 1)}
}

// run heals once the replica has caught up, whenever kicked (a corrupt
// durable copy was dropped) and every interval, until ctx ends.
func (h *healer) run(ctx context.Context) {
	for !h.ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	retry := time.Second
	for {
		wait := h.interval
		if _, failed := h.pass(ctx); failed > 0 {
			// Holders may be unreachable for now: come back sooner.
			wait = min(retry, wait)
			retry = min(2*retry, h.interval)
		} else {
			retry = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-h.kicked:
		}
	}
}

// kick schedules a heal pass soon.
func (h *healer) kick() {
	select {
	case h.kicked <- struct{}{}:
	default:
	}
}

// pass fetches the missing chunks of the images this node is a durable
// holder of; it returns how many it restored and how many it could not.
func (h *healer) pass(ctx context.Context) (restoredAll, failed int) {
	var mine []*catalog.Image
	h.eachMine(func(img *catalog.Image) bool {
		if img.Status == catalog.StatusActive || img.Status == catalog.StatusDeactivated {
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
			if ok, err := h.chunks.Has(ctx, d); ok || err != nil {
				continue
			}
			data, release, err := h.fetchFromHolders(ctx, img, idx, d, ref.Size)
			if err == nil {
				err = h.chunks.Put(ctx, d, data)
				release()
			}
			if err != nil {
				h.log.Warn("cannot restore a durable chunk; will retry", "image", img.ID, "chunk", idx, "err", err)
				failed++
				continue
			}
			restored++
			h.healed.Add(1)
		}
		if restored > 0 {
			h.log.Info("restored missing durable chunks", "image", img.ID, "chunks", restored)
			h.announce(ctx, img)
			restoredAll += restored
		}
	}
	return restoredAll, failed
}
