package transfer

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
)

// Origin protection: the durable holders of an image are its origin, and
// a fleet-wide fetch must not turn them into a central server. A durable
// holder serves each chunk of an image it holds durably once; after
// that, while gossip shows a cached copy of the chunk on another live
// node, it refuses further requests for it ("origin" refusal) and names
// those nodes, so the requester takes the chunk from a peer that already
// verified it. The holders of an image with R durable copies thus serve
// about R x S bytes in a fleet fetch, whatever the fleet's size. A
// requester that got no chunk from any named peer within originPatience
// asks again as a last resort, which a holder always serves: liveness
// never depends on gossip being up to date. The refusal and the last
// resort travel in package peer's chunk GET (peer.BusyError,
// peer.ChunkRequest.LastResort).

// originPatience is how long a requester keeps taking "ask a peer" for
// an answer before it asks the durable holders as a last resort.
const originPatience = time.Second

// originGuard counts, per chunk, the serves of a durable holder and, as a
// requester, when the holders first sent this node elsewhere.
type originGuard struct {
	mu      sync.Mutex
	served  map[chunkstore.Digest]int32
	refused map[chunkstore.Digest]time.Time
	// sentTo lists, per chunk, the last nodes this node sent it to that
	// keep what they fetch: copies known here with no gossip delay.
	sentTo map[chunkstore.Digest][]string
}

// sentToMax bounds the recipients remembered per chunk.
const sentToMax = 8

// originGuardMax bounds the counts kept; past it they start over (a
// holder then serves some chunks once more: harmless).
const originGuardMax = 1 << 18

func (g *originGuard) count(d chunkstore.Digest) int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served[d]
}

// add counts a serve of chunk d to node to ("" when the node does not
// keep the chunk).
func (g *originGuard) add(d chunkstore.Digest, to string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.served == nil || len(g.served) >= originGuardMax {
		g.served = map[chunkstore.Digest]int32{}
		g.sentTo = map[chunkstore.Digest][]string{}
	}
	g.served[d]++
	if to != "" {
		rs := g.sentTo[d]
		if len(rs) >= sentToMax {
			rs = rs[1:]
		}
		g.sentTo[d] = append(rs, to)
	}
}

// forgetRecipients drops the nodes chunk d was sent to: a requester
// asked as a last resort, so the copies this node named did not serve it
// (evicted since, or never kept); gossip's holders remain.
func (g *originGuard) forgetRecipients(d chunkstore.Digest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sentTo, d)
}

// recipients returns the nodes chunk d was last sent to, newest first.
func (g *originGuard) recipients(d chunkstore.Digest) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := slices.Clone(g.sentTo[d])
	slices.Reverse(rs)
	return rs
}

// noteRefused records the first origin refusal of chunk d.
func (g *originGuard) noteRefused(d chunkstore.Digest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused == nil || len(g.refused) >= originGuardMax {
		g.refused = map[chunkstore.Digest]time.Time{}
	}
	if _, ok := g.refused[d]; !ok {
		g.refused[d] = time.Now()
	}
}

// lastResort reports whether this node has been sent elsewhere for chunk
// d for longer than originPatience.
func (g *originGuard) lastResort(d chunkstore.Digest) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.refused[d]
	return ok && time.Since(t) > originPatience
}

// got forgets chunk d's refusals once this node has the chunk.
func (g *originGuard) got(d chunkstore.Digest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.refused, d)
}

// originRefusal decides whether this node, asked for chunk d by a peer,
// should send it to the cached copies instead; it returns those nodes'
// ids (none: serve). The request names the image and chunk index; without
// them, or when this node is not one of the image's durable holders, it
// serves.
func (t *Transfer) originRefusal(req peer.ChunkRequest, d chunkstore.Digest) []string {
	if req.LastResort || t.origin.count(d) == 0 || !req.Located() {
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
// holders gossip knows, in random order.
func (t *Transfer) copiesOf(imageID string, idx int, d chunkstore.Digest, durable []string) []string {
	self := t.self()
	var out []string
	usable := func(id string) bool {
		if id == self || slices.Contains(durable, id) || slices.Contains(out, id) {
			return false
		}
		m, ok := t.cluster.Member(id)
		return ok && m.Alive && m.PeerAddr != ""
	}
	for _, id := range t.origin.recipients(d) {
		if len(out) < peer.MaxTry && usable(id) {
			out = append(out, id)
		}
	}
	gossiped := t.cluster.Holders(imageID, idx)
	rand.Shuffle(len(gossiped), func(i, j int) { gossiped[i], gossiped[j] = gossiped[j], gossiped[i] })
	for _, id := range gossiped {
		if len(out) < peer.MaxTry && usable(id) {
			out = append(out, id)
		}
	}
	return out
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
