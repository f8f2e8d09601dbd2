package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/transfer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// How chunks move — upload ingest, the download stream, holder fetch,
// replica fills, placement, origin protection, limits and the serving
// side of the peer chunk routes — is package node/transfer's. The node
// builds it over small adapters: the cluster view (gossip's members, the
// trackers' holders), the catalog
// read, the GC protection of data in progress, and the events it acts
// on (heal, cache budget).

// newTransfer builds the node's data plane; n.id, n.log, n.chunks,
// n.gossip and n.peerClient must be set.
func (n *Node) newTransfer() *transfer.Transfer {
	return transfer.New(transfer.Config{
		ChunkSize:         n.cfg.ChunkSize,
		Replicas:          n.cfg.Replicas,
		FetchWindow:       n.cfg.FetchWindow,
		UploadBandwidth:   n.cfg.UploadBandwidth,
		DownloadBandwidth: n.cfg.DownloadBandwidth,
		UploadSlots:       n.cfg.UploadSlots,
		StallTimeout:      n.cfg.StallTimeout,
		NoCache:           n.cfg.NoCache,
		Logger:            n.log.With("component", "transfer"),
	}, transfer.Deps{
		Store:     n.chunks,
		Cluster:   xferCluster{n},
		Catalog:   xferCatalog{n},
		Peers:     n.peerClient,
		Protector: xferHooks{n},
		Events:    xferHooks{n},
	})
}

// OpenImage implements api.Backend: a verified stream of bytes
// [off, off+length) of img (transfer.Transfer.Open).
func (n *Node) OpenImage(ctx context.Context, img *catalog.Image, off, length int64) (io.ReadCloser, error) {
	rc, err := n.xfer.Open(ctx, img, off, length)
	if errors.Is(err, transfer.ErrBadRange) {
		return nil, fmt.Errorf("%w: %w", err, raftfsm.ErrBadCommand)
	}
	return rc, err
}

// xferCluster is gossip's members and the trackers' holders as
// transfer.Cluster.
type xferCluster struct{ n *Node }

var _ transfer.Cluster = xferCluster{}

func (c xferCluster) Self() string { return c.n.id }
func (c xferCluster) Members() []transfer.Member {
	ms := c.n.gossip.Members()
	out := make([]transfer.Member, len(ms))
	for i, m := range ms {
		out[i] = xferMember(m)
	}
	return out
}
func (c xferCluster) Member(id string) (transfer.Member, bool) {
	m, ok := c.n.gossip.Member(id)
	return xferMember(m), ok
}
func (c xferCluster) Holders(imageID string, idx int) []string {
	return c.n.tracker.Holders(imageID, idx)
}
func (c xferCluster) Announce(imageID string, total int, have []int) {
	c.n.tracker.Announce(imageID, total, have)
}

// xferMember is a gossip member as transfer sees it.
func xferMember(m gossip.Member) transfer.Member {
	return transfer.Member{ID: m.Meta.ID, PeerAddr: m.Meta.PeerAddr, Zone: m.Meta.Zone, Rack: m.Meta.Rack, Alive: m.Alive, RTT: m.RTT}
}

// spreadPick is transfer.SpreadPick over gossip members: up to k of
// cands for durable copies, given the nodes already holding copies
// (used), spread over zones and racks.
func spreadPick(k int, cands []gossip.Member, used []gossip.Meta) []gossip.Member {
	byID := make(map[string]gossip.Member, len(cands))
	xc := make([]transfer.Member, len(cands))
	for i, m := range cands {
		byID[m.Meta.ID] = m
		xc[i] = xferMember(m)
	}
	xu := make([]transfer.Member, len(used))
	for i, m := range used {
		xu[i] = transfer.Member{ID: m.ID, Zone: m.Zone, Rack: m.Rack}
	}
	picked := transfer.SpreadPick(k, xc, xu)
	out := make([]gossip.Member, len(picked))
	for i, m := range picked {
		out[i] = byID[m.ID]
	}
	return out
}

// xferCatalog is the node's replica of the catalog as transfer.Catalog.
type xferCatalog struct{ n *Node }

var _ transfer.Catalog = xferCatalog{}

func (c xferCatalog) Image(id string) (*catalog.Image, error) { return c.n.fsm.State().Image(id) }

// xferHooks is the node's side of what transfer protects and reports:
// chunks of data in progress kept from GC, a dropped corrupt copy (heal),
// cached bytes (the cache budget).
type xferHooks struct{ n *Node }

var (
	_ transfer.Protector = xferHooks{}
	_ transfer.Events    = xferHooks{}
)

func (h xferHooks) Protect(imageID string, d chunkstore.Digest) { h.n.inflight.protect(imageID, d) }
func (h xferHooks) CorruptDropped()                             { h.n.kickHeal() }

// Cached enforces the cache budget soon once an eighth of it was cached
// since the last check.
func (h xferHooks) Cached(size int64) {
	if b := h.n.cfg.CacheBudget; b > 0 && h.n.cachedSinceEvict.Add(size) > b/8 {
		h.n.kickGC()
	}
}
