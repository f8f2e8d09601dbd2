package policy

import (
	"slices"
	"sync"
	"time"
)

// Origin protection: the durable holders of an image are its origin, and
// a fleet-wide fetch must not turn them into a central server. A durable
// holder serves each chunk of an image it holds durably once; after
// that, while it knows a cached copy of the chunk on another live node,
// it refuses further requests for it ("origin" refusal) and names those
// nodes ([CopiesOf]), so the requester takes the chunk from a peer that
// already verified it. The holders of an image with R durable copies
// thus serve about R x S bytes in a fleet fetch, whatever the fleet's
// size. A requester that got no chunk from any named peer within
// [OriginPatience] asks again as a last resort, which a holder always
// serves: liveness never depends on gossip being up to date.

// OriginPatience is how long a requester keeps taking "ask a peer" for
// an answer before it asks the durable holders as a last resort.
const OriginPatience = time.Second

// SentToMax bounds the recipients remembered per chunk.
const SentToMax = 8

// originMax bounds the counts kept; past it they start over (a holder
// then serves some chunks once more: harmless).
const originMax = 1 << 18

// Origin is one node's origin-protection state: per chunk (K), how often
// it served it and to whom lately (node ids, ID), and, as a requester,
// when the holders first sent it elsewhere. The zero value is ready to
// use.
type Origin[K, ID comparable] struct {
	mu      sync.Mutex
	served  map[K]int32
	refused map[K]time.Time
	// sentTo lists, per chunk, the last nodes this node sent it to that
	// keep what they fetch: copies known here with no gossip delay.
	sentTo map[K][]ID
}

// Served returns how many times this node served chunk k.
func (g *Origin[K, ID]) Served(k K) int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served[k]
}

// Protects reports whether a durable holder, asked for chunk k, should
// send the requester to cached copies: it served k already and the
// request is not a last resort. (It refuses only if it can name a copy.)
func (g *Origin[K, ID]) Protects(k K, lastResort bool) bool {
	return !lastResort && g.Served(k) > 0
}

// Add counts a serve of chunk k to node to; keeps says whether that
// node keeps the chunk (and so may be named to others).
func (g *Origin[K, ID]) Add(k K, to ID, keeps bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.served == nil || len(g.served) >= originMax {
		g.served = map[K]int32{}
		g.sentTo = map[K][]ID{}
	}
	g.served[k]++
	if keeps {
		rs := g.sentTo[k]
		if len(rs) >= SentToMax {
			rs = rs[1:]
		}
		g.sentTo[k] = append(rs, to)
	}
}

// ForgetRecipients drops the nodes chunk k was sent to: a requester
// asked as a last resort, so the copies this node named did not serve it
// (evicted since, or never kept); gossip's holders remain.
func (g *Origin[K, ID]) ForgetRecipients(k K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sentTo, k)
}

// Recipients returns the nodes chunk k was last sent to, newest first.
func (g *Origin[K, ID]) Recipients(k K) []ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := slices.Clone(g.sentTo[k])
	slices.Reverse(rs)
	return rs
}

// NoteRefused records, at now, the first origin refusal of chunk k.
func (g *Origin[K, ID]) NoteRefused(k K, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused == nil || len(g.refused) >= originMax {
		g.refused = map[K]time.Time{}
	}
	if _, ok := g.refused[k]; !ok {
		g.refused[k] = now
	}
}

// LastResort reports whether, at now, this node has been sent elsewhere
// for chunk k for longer than [OriginPatience].
func (g *Origin[K, ID]) LastResort(k K, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.refused[k]
	return ok && now.Sub(t) > OriginPatience
}

// Got forgets chunk k's refusals once this node has the chunk.
func (g *Origin[K, ID]) Got(k K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.refused, k)
}

// CopiesOf names up to max nodes, other than self and the durable
// holders, that hold a chunk: first recipients (the nodes self sent it
// to lately, newest first: no gossip delay), then nodes gossip lists as
// holders (n of them, the i-th given by at) in random order. usable
// filters both (a live node with a known address). It is what a holder's
// busy and origin refusals name. Only as many of the gossiped holders
// are drawn as it takes, so naming a few of thousands is cheap.
func CopiesOf[ID comparable](self ID, durable, recipients []ID, n int, at func(i int) ID, usable func(ID) bool, max int, rng Rand) []ID {
	var out []ID
	ok := func(id ID) bool {
		return id != self && !slices.Contains(durable, id) && !slices.Contains(out, id) && usable(id)
	}
	for _, id := range recipients {
		if len(out) < max && ok(id) {
			out = append(out, id)
		}
	}
	var p lazyPerm
	for i := 0; i < n && len(out) < max; i++ {
		j := i + rng.IntN(n-i)
		pi, pj := p.at(i), p.at(j)
		if j != i {
			p.set(j, pi)
		}
		if id := at(pj); ok(id) {
			out = append(out, id)
		}
	}
	return out
}

// lazyPerm is a permutation of [0, n) that starts as the identity and
// stores only the positions swapped (a lazy Fisher-Yates): a few in a
// slice, many in a map.
type lazyPerm struct {
	few  [][2]int
	many map[int]int
}

func (p *lazyPerm) at(i int) int {
	if p.many != nil {
		if v, ok := p.many[i]; ok {
			return v
		}
		return i
	}
	for _, m := range p.few {
		if m[0] == i {
			return m[1]
		}
	}
	return i
}

func (p *lazyPerm) set(i, v int) {
	if p.many != nil {
		p.many[i] = v
		return
	}
	for k := range p.few {
		if p.few[k][0] == i {
			p.few[k][1] = v
			return
		}
	}
	if len(p.few) < 16 {
		p.few = append(p.few, [2]int{i, v})
		return
	}
	p.many = make(map[int]int, 64)
	for _, m := range p.few {
		p.many[m[0]] = m[1]
	}
	p.many[i] = v
}
