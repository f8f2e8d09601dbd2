package transfer

import (
	"slices"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/transfer/policy"
	"github.com/p2pglance/p2pglance/peer"
)

// Origin protection (the rule and its state: policy.Origin): a durable
// holder serves each chunk of an image once, then sends requesters to
// the cached copies it knows of; a requester sent away for longer than
// policy.OriginPatience asks as a last resort, which is always served.
// The refusal and the last resort travel in package peer's chunk GET
// (peer.BusyError, peer.ChunkRequest.LastResort).

// originRefusal decides whether this node, asked for chunk d by a peer,
// should send it to the cached copies instead; it returns those nodes'
// ids (none: serve). The request names the image and chunk index; without
// them, or when this node is not one of the image's durable holders, it
// serves.
func (t *Transfer) originRefusal(req peer.ChunkRequest, d chunkstore.Digest) []string {
	if !t.origin.Protects(d, req.LastResort) || !req.Located() {
		return nil
	}
	imageID, idx := req.Image, req.Idx
	img, err := t.catalog.Image(imageID)
	if err != nil || !slices.Contains(img.Placement, t.self()) || img.Manifest == nil ||
		idx >= len(img.Manifest.Chunks) || img.Manifest.Chunks[idx].Digest != d.String() {
		return nil
	}
	return t.copiesOf(imageID, idx, d, img.Placement)
}

// copiesOf names up to peer.MaxTry live nodes other than this one and
// the durable holders that hold chunk idx (digest d) of an image: first
// the nodes this node sent it to lately (no gossip delay), then cached
// holders gossip knows, in random order (policy.CopiesOf).
func (t *Transfer) copiesOf(imageID string, idx int, d chunkstore.Digest, durable []string) []string {
	gossiped := t.cluster.Holders(imageID, idx)
	usable := func(id string) bool {
		m, ok := t.cluster.Member(id)
		return ok && m.Alive && m.PeerAddr != ""
	}
	return policy.CopiesOf(t.self(), durable, t.origin.Recipients(d), len(gossiped),
		func(i int) string { return gossiped[i] }, usable, peer.MaxTry, policy.Global)
}

// busyHints names, for a busy refusal of chunk d, nodes that have it
// (see copiesOf); the request's image and idx name the chunk.
func (t *Transfer) busyHints(req peer.ChunkRequest, d chunkstore.Digest) []string {
	if !req.Located() {
		return nil
	}
	imageID, idx := req.Image, req.Idx
	var durable []string
	if img, err := t.catalog.Image(imageID); err == nil {
		durable = img.Placement
	}
	return t.copiesOf(imageID, idx, d, durable)
}
