package node

import (
	"context"
	"fmt"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/tracker"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// Who holds which chunk is package node/tracker's: each image's holders
// are kept by the few nodes its rendezvous hash picks from the gossip
// member list, and this node tells them what it holds, tracks the
// images that hash to it, and asks them (with a short cache). This file
// wires it: the member list from gossip, this node's holdings read from
// its store, and the peer routes a tracker answers.

// newTracker builds the node's tracker (n.id, n.log, n.started and
// n.peerClient must be set; gossip, which it reads, may come later: it
// is read only once the node runs).
func (n *Node) newTracker() *tracker.Service {
	return tracker.New(tracker.Config{
		Self:   n.id,
		Epoch:  n.started.UnixNano(),
		Timing: n.cfg.Timing.Holders,
		Logger: n.log.With("component", "tracker"),
	}, trackerCluster{n}, n.peerClient)
}

// trackerCluster is gossip's member list as the tracker reads it.
type trackerCluster struct{ n *Node }

var _ tracker.Cluster = trackerCluster{}

func (c trackerCluster) Members() []tracker.Member {
	ms := c.n.gossip.Members()
	out := make([]tracker.Member, len(ms))
	for i, m := range ms {
		out[i] = tracker.Member{ID: m.Meta.ID, PeerAddr: m.Meta.PeerAddr, Zone: m.Meta.Zone, Rack: m.Meta.Rack,
			Alive: m.Alive, RTT: m.RTT, Boot: m.Meta.Boot}
	}
	return out
}

// holdings tells the image's trackers which chunks of which images this
// node holds, reading the local store: the availability other nodes
// rank holders by.
type holdings struct {
	chunks  chunkstore.Store
	tracker *tracker.Service
	fsm     *raftfsm.FSM
}

// announce tells the trackers which chunks of img this node holds.
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
		h.tracker.AnnounceAll(img.ID, len(have))
	case len(have) > 0:
		h.tracker.Announce(img.ID, len(img.Manifest.Chunks), have)
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

// nodeCluster is what the node's jobs read of the cluster: gossip's
// members, and the holders of chunks as the trackers know them.
type nodeCluster struct {
	*gossip.Gossip
	t *tracker.Service
}

// Holders names the nodes holding chunk idx of an image (this one
// included).
func (c nodeCluster) Holders(imageID string, idx int) []string { return c.t.Holders(imageID, idx) }

// FullHolders names the nodes holding every chunk of an image, asking
// its trackers afresh.
func (c nodeCluster) FullHolders(ctx context.Context, imageID string) []string {
	ids, _ := c.t.FullHolders(ctx, imageID)
	return ids
}

// Announce, AnnounceAll and Withdraw tell the trackers what this node
// holds.
func (c nodeCluster) Announce(imageID string, total int, have []int) {
	c.t.Announce(imageID, total, have)
}
func (c nodeCluster) AnnounceAll(imageID string, total int) { c.t.AnnounceAll(imageID, total) }
func (c nodeCluster) Withdraw(imageID string)               { c.t.Withdraw(imageID) }

// Holdings records a holder's batch: this node tracks those images
// (peer.Server).
func (s peerServer) Holdings(_ context.Context, h peer.Holdings) error {
	if !validNodeID(h.Holder) {
		return fmt.Errorf("%w: holder id %q", peer.ErrBadRequest, h.Holder)
	}
	s.n.tracker.Record(h)
	return nil
}

// Holders answers who holds an image, as far as this node tracks it
// (peer.Server).
func (s peerServer) Holders(_ context.Context, q peer.HoldersQuery) (peer.HoldersAnswer, error) {
	return s.n.tracker.Answer(q), nil
}

// Trackers lists the ids of the nodes that keep the holders of an
// image, as this node computes them from gossip, best first (a
// diagnostic, like TrackedHolders and LookupHolders).
func (n *Node) Trackers(imageID string) []string { return n.tracker.Trackers(imageID) }

// TrackedHolders returns the holders of an image this node knows of as
// one of its trackers (no network), with the chunks each holds: one
// entry per chunk, true if held.
func (n *Node) TrackedHolders(imageID string) map[string][]bool {
	out := map[string][]bool{}
	for _, h := range n.tracker.Tracked(imageID) {
		out[h.Node] = expand(h.Total, h.All, h.Bits)
	}
	return out
}

// LookupHolders asks the image's trackers (no cached answer) which nodes
// hold it, with the chunks of each: one entry per chunk, true if held.
// This node's own holdings are included.
func (n *Node) LookupHolders(ctx context.Context, imageID string) (map[string][]bool, error) {
	hs, err := n.tracker.Lookup(ctx, imageID)
	out := map[string][]bool{}
	for _, h := range hs {
		if h.Node != n.id {
			out[h.Node] = expand(h.Total, h.All, h.Bits)
		}
	}
	if img, ierr := n.fsm.State().Image(imageID); ierr == nil && img.Manifest != nil {
		var mine []bool
		for i := range img.Manifest.Chunks {
			mine = append(mine, n.tracker.Has(imageID, i))
		}
		if slices.Contains(mine, true) {
			out[n.id] = mine
		}
	}
	return out, err
}

// expand turns a holder's bitmap into one entry per chunk.
func expand(total int, all bool, bits []byte) []bool {
	out := make([]bool, total)
	for i := range out {
		out[i] = all || (i/8 < len(bits) && bits[i/8]&(1<<(i%8)) != 0)
	}
	return out
}
