package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/node/tracker"
)

// Holders is how nodes learn who holds which chunk: node/tracker's
// model. The image's Trackers nodes (tracker.Trackers, rendezvous
// hashing over the member list) keep its holders; a node that stores a
// chunk tells them in its next flush (FlushDelay after the first change
// since the last one: one batch per tracker, all at once); a node that
// needs holders asks its nearest tracker (itself, its rack, its zone,
// then RTT) and keeps the answer — at most Limit holders, its rack's
// first, then its zone's, then the others', holders of every chunk
// first within each — for LookupTTL.
//
// Hung of the image's trackers (the best-ranked ones) take requests
// but never answer, and gossip still lists them alive: a lookup that
// asks one waits half of what is left of LookupTimeout (all of it if it
// is the last), and a holder's batch to one stays open for sendTimeout
// (the holder's other flushes go on, skipping that tracker), after which
// the tracker is left alone for a back-off (minBackoff doubling to
// maxBackoff), as node/tracker's Service does. With every tracker hung a lookup names
// nobody: a node knows only the durable holders (the catalog's
// placement) and the nodes named in refusals.
type Holders struct {
	Trackers   int           // tracker.DefaultTrackers
	Limit      int           // tracker.DefaultLimit
	FlushDelay time.Duration // tracker.Timing.FlushDelay
	LookupTTL  time.Duration // tracker.Timing.LookupTTL
	// LookupTimeout is tracker.Timing.LookupTimeout; LookupCost a
	// tracker's time to answer one lookup (it answers one request at a
	// time, chunk requests included).
	LookupTimeout, LookupCost time.Duration
	Hung                      int
}

// ProductionHolders is node/tracker's defaults (tracker.Timing's
// zero values); TestHolders nodetest.Timing's, which the fleet
// benchmark's fast runs (figure 7) use.
func ProductionHolders() Holders {
	return Holders{Trackers: tracker.DefaultTrackers, Limit: tracker.DefaultLimit, FlushDelay: 200 * time.Millisecond,
		LookupTTL: time.Second, LookupTimeout: 2 * time.Second, LookupCost: 100 * time.Microsecond}
}

// TestHolders is nodetest.Timing's holder timers.
func TestHolders() Holders {
	h := ProductionHolders()
	h.FlushDelay, h.LookupTTL, h.LookupTimeout = 20*time.Millisecond, 100*time.Millisecond, time.Second
	return h
}

// node/tracker's sending constants (announce.go).
const (
	sendTimeout = 5 * time.Second
	minBackoff  = 500 * time.Millisecond
	maxBackoff  = 30 * time.Second
)

// never is "not sent".
const never = time.Duration(math.MaxInt64)

// holders is the trackers' tables, every holder's flushes and every
// node's kept answer.
type holders struct {
	topo    Topology
	cfg     Holders
	chunks  int
	rng     interface{ IntN(int) int }
	durable []bool

	trackers []int32 // the image's trackers, best first
	hung     []bool  // per node: a hung tracker

	// Per holder: when each chunk was sent to the trackers
	// (node*chunks+chunk; never: not), when its first and its last
	// chunk were (never: not yet), how many it sent.
	sent             []time.Duration
	firstSent, fullS []time.Duration
	held             []int
	// Per holder: its pending flush (never: none), until when a flush
	// to a hung tracker blocks it, and its back-off from that tracker.
	flushAt, blocked []time.Duration
	retryAt, wait    []time.Duration

	// The image's holders by rack and by zone, in order of first chunk
	// sent; those of every chunk likewise.
	byRack, byZone         [][]int32
	fullByRack, fullByZone [][]int32

	// Per asker: its kept answer, which tracker gave it (-1: none), the
	// time the tracker read its table, when the answer is in and when
	// it expires.
	ans       [][]int32
	ansFrom   []int32
	ansL      []time.Duration
	ready     []time.Duration
	expires   []time.Duration
	mark      []uint32
	stamp     uint32
	lookups   []int64 // per tracker index
	batches   int64
	cpuFree   func(node int32) *time.Duration
	pickSmall []int32
}

func newHolders(topo Topology, cfg Holders, chunks int, image string, rng interface{ IntN(int) int }, cpuFree func(int32) *time.Duration) (*holders, error) {
	if cfg.Trackers < 1 || cfg.Limit < 1 {
		return nil, fmt.Errorf("%w: holders need trackers and a limit", ErrConfig)
	}
	n := topo.N
	h := &holders{topo: topo, cfg: cfg, chunks: chunks, rng: rng, durable: make([]bool, n), hung: make([]bool, n),
		sent: make([]time.Duration, n*chunks), firstSent: make([]time.Duration, n), fullS: make([]time.Duration, n),
		held: make([]int, n), flushAt: make([]time.Duration, n), blocked: make([]time.Duration, n),
		retryAt: make([]time.Duration, n), wait: make([]time.Duration, n),
		byRack: make([][]int32, topo.Zones*topo.Racks), byZone: make([][]int32, topo.Zones),
		fullByRack: make([][]int32, topo.Zones*topo.Racks), fullByZone: make([][]int32, topo.Zones),
		ans: make([][]int32, n), ansFrom: make([]int32, n), ansL: make([]time.Duration, n),
		ready: make([]time.Duration, n), expires: make([]time.Duration, n), mark: make([]uint32, n),
		lookups: make([]int64, cfg.Trackers), cpuFree: cpuFree}
	for i := range h.sent {
		h.sent[i] = never
	}
	for i := range n {
		h.firstSent[i], h.fullS[i], h.flushAt[i], h.ansFrom[i] = never, never, never, -1
		h.expires[i] = -1
	}
	members := make([]tracker.Member, n)
	for i := range members {
		z, r := topo.Names(int32(i))
		members[i] = tracker.Member{ID: nodeID(int32(i)), PeerAddr: "sim", Zone: z, Rack: r, Alive: true}
	}
	for _, id := range tracker.Trackers(image, members, cfg.Trackers) {
		var t int32
		fmt.Sscanf(id, "node-%d", &t)
		h.trackers = append(h.trackers, t)
	}
	for i := range min(cfg.Hung, len(h.trackers)) {
		h.hung[h.trackers[i]] = true
	}
	return h, nil
}

func nodeID(i int32) string { return fmt.Sprintf("node-%d", i) }

// announce: node stored chunk c at now; it is sent with the node's
// next flush (node/tracker's Run: a change schedules a flush FlushDelay
// later unless one is pending; a batch to a hung tracker delays no
// flush).
func (h *holders) announce(node int32, c int, now time.Duration) {
	f := h.flushAt[node]
	if f == never || f <= now {
		f = now + h.cfg.FlushDelay
		h.flushAt[node] = f
		h.flush(node, f)
	}
	h.record(node, c, f)
}

// flush is node's flush at f: a batch to each tracker; one to a hung
// tracker not backed off stays open until f + sendTimeout (blocked),
// and that tracker is skipped until its back-off after that.
func (h *holders) flush(node int32, f time.Duration) {
	hungSent := false
	for _, t := range h.trackers {
		if t == node {
			continue // its own table: no message
		}
		if h.hung[t] {
			if f < h.retryAt[node] {
				continue
			}
			hungSent = true
		}
		h.batches++
	}
	if hungSent {
		h.blocked[node] = f + sendTimeout
		h.wait[node] = min(max(2*h.wait[node], minBackoff), maxBackoff)
		h.retryAt[node] = h.blocked[node] + h.wait[node]
	}
}

// record: node's chunk c goes out at f.
func (h *holders) record(node int32, c int, f time.Duration) {
	i := int(node)*h.chunks + c
	if h.sent[i] != never {
		return
	}
	h.sent[i] = f
	h.held[node]++
	r, z := h.topo.RackOf(node), h.topo.ZoneOf(node)
	if h.firstSent[node] == never {
		h.firstSent[node] = f
		h.byRack[r] = append(h.byRack[r], node)
		h.byZone[z] = append(h.byZone[z], node)
	}
	if h.held[node] == h.chunks {
		h.fullS[node] = f
		h.fullByRack[r] = append(h.fullByRack[r], node)
		h.fullByZone[z] = append(h.fullByZone[z], node)
	}
}

// seed records a durable holder: every chunk, told before the run.
func (h *holders) seed(node int32) {
	h.durable[node] = true
	for c := range h.chunks {
		h.record(node, c, -time.Hour)
	}
}

// lookup makes sure obs has an answer to read at now, asking its
// trackers if the one it keeps expired: it returns when the answer is
// in (now if it is; later if the lookup is in flight: the caller waits
// until then). The answer is the tracker's table when it reads it.
func (h *holders) lookup(obs int32, now time.Duration) time.Duration {
	switch {
	case now < h.ready[obs]:
		return h.ready[obs]
	case now < h.expires[obs]:
		return now
	}
	ts := h.order(obs)
	at := now
	h.ans[obs], h.ansFrom[obs] = h.ans[obs][:0], -1
	for i, t := range ts {
		if h.hung[t] {
			left := now + h.cfg.LookupTimeout - at
			if i < len(ts)-1 {
				left /= 2
			}
			at += left
			continue
		}
		if t == obs {
			h.ansL[obs] = at
		} else {
			lat := h.topo.Latency(obs, t)
			free := h.cpuFree(t)
			*free = max(*free, at+lat) + h.cfg.LookupCost
			h.ansL[obs] = *free
			at = *free + lat
		}
		h.ansFrom[obs] = t
		h.lookups[slices.Index(h.trackers, t)]++
		h.answer(obs, t, h.ansL[obs])
		break
	}
	h.ready[obs], h.expires[obs] = at, at+h.cfg.LookupTTL
	return at
}

// order is the image's trackers as obs asks them: itself, its rack,
// its zone, the others, then RTT; random among equals.
func (h *holders) order(obs int32) []int32 {
	ts := append(h.pickSmall[:0], h.trackers...)
	for i := len(ts) - 1; i > 0; i-- {
		j := h.rng.IntN(i + 1)
		ts[i], ts[j] = ts[j], ts[i]
	}
	rank := func(t int32) int {
		if t == obs {
			return -1
		}
		return h.topo.Prox(obs, t)
	}
	slices.SortStableFunc(ts, func(a, b int32) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(h.topo.RTT(obs, a), h.topo.RTT(obs, b)))
	})
	h.pickSmall = ts
	return ts
}

// knownAt reports whether tracker t has, at L, node's holding of chunk
// c (c < 0: of any chunk; c == chunks: of every chunk).
func (h *holders) knownAt(t, node int32, c int, L time.Duration) bool {
	var s time.Duration
	switch {
	case c < 0:
		s = h.firstSent[node]
	case c >= h.chunks:
		s = h.fullS[node]
	default:
		s = h.sent[int(node)*h.chunks+c]
	}
	if s == never {
		return false
	}
	if node != t {
		s += h.topo.Latency(node, t)
	}
	return s <= L
}

// answer is tracker t's answer to obs at L (table.answer): at most
// Limit holders, obs's rack first, then its zone, then the others;
// within each, holders of every chunk first, random among equals.
// Lists of up to 4 Limit are read whole; longer ones are sampled (8
// draws per holder wanted), which picks as the whole list would but for
// the random order.
func (h *holders) answer(obs, t int32, L time.Duration) {
	out := h.ans[obs][:0]
	h.stamp++
	zone, rack := h.topo.ZoneOf(obs), h.topo.RackOf(obs)
	full := func(id int32) bool { return h.knownAt(t, id, h.chunks, L) }
	some := func(id int32) bool { return !full(id) && h.knownAt(t, id, -1, L) }
	inZone := func(id int32) bool { return h.topo.RackOf(id) != rack }
	var others, othersFull [][]int32
	for z := range h.topo.Zones {
		if int32(z) != zone {
			others = append(others, h.byZone[z])
			othersFull = append(othersFull, h.fullByZone[z])
		}
	}
	classes := []struct {
		full, any [][]int32
		keep      func(int32) bool
	}{
		{[][]int32{h.fullByRack[rack]}, [][]int32{h.byRack[rack]}, func(int32) bool { return true }},
		{[][]int32{h.fullByZone[zone]}, [][]int32{h.byZone[zone]}, inZone},
		{othersFull, others, func(int32) bool { return true }},
	}
	for _, cl := range classes {
		out = h.pick(cl.full, h.cfg.Limit-len(out), func(id int32) bool { return cl.keep(id) && full(id) }, out)
		out = h.pick(cl.any, h.cfg.Limit-len(out), func(id int32) bool { return cl.keep(id) && some(id) }, out)
	}
	h.ans[obs] = out
}

// pick appends up to need members of lists (taken together) that pass
// keep and are not picked yet, in random order.
func (h *holders) pick(lists [][]int32, need int, keep func(int32) bool, out []int32) []int32 {
	if need <= 0 {
		return out
	}
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	take := func(id int32) bool {
		if h.mark[id] == h.stamp || !keep(id) {
			return false
		}
		h.mark[id] = h.stamp
		out = append(out, id)
		return true
	}
	if total <= 4*h.cfg.Limit {
		start := len(out)
		for _, l := range lists {
			for _, id := range l {
				take(id)
			}
		}
		got := out[start:]
		for i := len(got) - 1; i > 0; i-- {
			j := h.rng.IntN(i + 1)
			got[i], got[j] = got[j], got[i]
		}
		if len(got) > need {
			for _, id := range got[need:] {
				h.mark[id] = 0
			}
			out = out[:start+need]
		}
		return out
	}
	added := 0
	for range 8 * need {
		if added == need {
			break
		}
		i := h.rng.IntN(total)
		for _, l := range lists {
			if i < len(l) {
				if take(l[i]) {
					added++
				}
				break
			}
			i -= len(l)
		}
	}
	return out
}

// has reports whether obs's answer names node as a holder of chunk c.
func (h *holders) has(obs, node int32, c int) bool {
	t := h.ansFrom[obs]
	return t >= 0 && h.knownAt(t, node, c, h.ansL[obs])
}

// of appends the holders of chunk c obs's answer names (obs's own
// tracker.Holders but for obs itself).
func (h *holders) of(obs int32, c int, out []int32) []int32 {
	for _, id := range h.ans[obs] {
		if id != obs && h.has(obs, id, c) {
			out = append(out, id)
		}
	}
	return out
}

// count is len(tracker.Holders) for obs: the holders of chunk c its
// answer names, and itself if it holds c (have).
func (h *holders) count(obs int32, c int, have bool) int {
	n := 0
	for _, id := range h.ans[obs] {
		if id != obs && h.has(obs, id, c) {
			n++
		}
	}
	if have {
		n++
	}
	return n
}
