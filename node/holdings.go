package node

import (
	"context"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// holdings tells gossip which chunks of which images this node holds,
// reading the local store: the availability other nodes rank holders by.
type holdings struct {
	chunks chunkstore.Store
	gossip *gossip.Gossip
	fsm    *raftfsm.FSM
}

// announceHeld tells gossip which chunks of img this node holds.
func (h *holdings) announce(ctx context.Context, img *catalog.Image) {
	if img.Manifest == nil || len(img.Manifest.Chunks) == 0 {
		return
	}
	var have []int
	for i, c := range img.Manifest.Chunks {
		d, err := chunkstore.ParseDigest(c.Digest)
		if err != nil {
			continue
		}
		if ok, _ := h.chunks.Has(ctx, d); ok {
			have = append(have, i)
		}
	}
	switch {
	case len(have) == len(img.Manifest.Chunks):
		h.gossip.AnnounceAll(img.ID, len(have))
	case len(have) > 0:
		h.gossip.Announce(img.ID, len(img.Manifest.Chunks), have)
	}
}

// announceAll announces the holdings of every active image (at start).
func (h *holdings) announceAll(ctx context.Context) {
	h.fsm.State().Each(func(img *catalog.Image) bool {
		if img.Status == catalog.StatusActive || img.Status == catalog.StatusDeactivated {
			h.announce(ctx, img)
		}
		return ctx.Err() == nil
	})
}
