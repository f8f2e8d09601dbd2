package policy

import (
	"cmp"
	"slices"
	"time"
)

// Proximity is how near a node is to another: 0 in the same rack, 1 in
// the same zone, 2 elsewhere.
func Proximity(selfZone, selfRack, zone, rack string) int {
	switch {
	case zone == selfZone && rack == selfRack:
		return 0
	case zone == selfZone:
		return 1
	}
	return 2
}

// Candidate is one node that may serve a chunk, as the requester sees it.
type Candidate[T any] struct {
	// Item is what the caller gets back (a member, a node index).
	Item T
	// Prox is the node's [Proximity] to the requester.
	Prox int
	// Durable marks one of the image's durable holders (its placement).
	Durable bool
	// Load is the requester's [Stats.Load] of the node.
	Load int
	// RTT is the latest measured round trip to the node (0: unknown).
	RTT time.Duration
}

// rankKey is what candidates are ordered by, smallest first: busy or
// suspect peers last (Load's thousands); cached copies before durable
// holders (the origin, see [Origin]); then nearness and the fetches
// already in flight there weigh together, so a download spreads over
// holders instead of queueing on the nearest; then RTT in whole
// milliseconds. Equal keys are in random order.
type rankKey struct {
	penalty, durable, near int
	rttMs                  int64
}

func keyOf[T any](c *Candidate[T]) rankKey {
	k := rankKey{penalty: c.Load / 1000, near: c.Prox + c.Load%1000, rttMs: c.RTT.Milliseconds()}
	if c.Durable {
		k.durable = 1
	}
	return k
}

func compareKeys(a, b rankKey) int {
	return cmp.Or(cmp.Compare(a.penalty, b.penalty), cmp.Compare(a.durable, b.durable),
		cmp.Compare(a.near, b.near), cmp.Compare(a.rttMs, b.rttMs))
}

// lazyPicks is how many candidates an [Order] picks by a linear scan
// before it sorts the rest: a fetch usually ends with one of the first
// few, and a scan is O(n) where a sort is O(n log n).
const lazyPicks = 4

// Order yields candidates best first (see rankKey), random among equals:
// the same order as shuffling them and sorting stably by key, built
// lazily so asking for the first few of many holders costs a scan, not
// a sort.
type Order[T any] struct {
	cs     []Candidate[T]
	keys   []rankKey
	rng    Rand
	next   int
	sorted bool
	ties   []int
}

// NewOrder orders cs (which it keeps and reorders in place).
func NewOrder[T any](cs []Candidate[T], rng Rand) *Order[T] {
	o := &Order[T]{}
	o.Reset(cs, rng)
	return o
}

// Reset makes o order cs instead, reusing its memory (a simulator runs
// millions of rounds).
func (o *Order[T]) Reset(cs []Candidate[T], rng Rand) {
	o.cs, o.rng, o.next, o.sorted = cs, rng, 0, false
	o.keys = o.keys[:0]
	for i := range cs {
		o.keys = append(o.keys, keyOf(&cs[i]))
	}
}

// Len is the number of candidates not yet returned.
func (o *Order[T]) Len() int { return len(o.cs) - o.next }

// Next returns the best candidate not yet returned.
func (o *Order[T]) Next() (T, bool) {
	var zero T
	if o.next >= len(o.cs) {
		return zero, false
	}
	if !o.sorted && o.next >= lazyPicks {
		o.sortRest()
	}
	if !o.sorted {
		// The smallest key among the rest; a uniform pick among ties.
		o.ties = o.ties[:0]
		best := o.next
		for i := o.next; i < len(o.cs); i++ {
			switch c := compareKeys(o.keys[i], o.keys[best]); {
			case c < 0:
				best = i
				o.ties = append(o.ties[:0], i)
			case c == 0:
				o.ties = append(o.ties, i)
			}
		}
		if len(o.ties) > 1 {
			best = o.ties[o.rng.IntN(len(o.ties))]
		}
		o.swap(o.next, best)
	}
	c := o.cs[o.next]
	o.next++
	return c.Item, true
}

func (o *Order[T]) swap(i, j int) {
	o.cs[i], o.cs[j] = o.cs[j], o.cs[i]
	o.keys[i], o.keys[j] = o.keys[j], o.keys[i]
}

// sortRest shuffles the candidates not yet returned and sorts them
// stably by key.
func (o *Order[T]) sortRest() {
	rest := len(o.cs) - o.next
	for i := rest - 1; i > 0; i-- {
		o.swap(o.next+i, o.next+o.rng.IntN(i+1))
	}
	idx := make([]int, rest)
	for i := range idx {
		idx[i] = o.next + i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareKeys(o.keys[a], o.keys[b]) })
	cs := make([]Candidate[T], rest)
	keys := make([]rankKey, rest)
	for i, j := range idx {
		cs[i], keys[i] = o.cs[j], o.keys[j]
	}
	copy(o.cs[o.next:], cs)
	copy(o.keys[o.next:], keys)
	o.sorted = true
}

// Rank returns every candidate's item, best first (see [Order]).
func Rank[T any](cs []Candidate[T], rng Rand) []T {
	o := NewOrder(cs, rng)
	out := make([]T, 0, len(cs))
	for it, ok := o.Next(); ok; it, ok = o.Next() {
		out = append(out, it)
	}
	return out
}
