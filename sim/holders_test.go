package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

func newTestHolders(t *testing.T, topo Topology, cfg Holders, chunks int) (*holders, []time.Duration) {
	t.Helper()
	cpu := make([]time.Duration, topo.N)
	h, err := newHolders(topo, cfg, chunks, "image-1", rand.New(rand.NewPCG(1, 2)), func(n int32) *time.Duration { return &cpu[n] })
	if err != nil {
		t.Fatal(err)
	}
	return h, cpu
}

// notTracker is a node that tracks nothing, in the same rack as
// tracker t when near.
func notTracker(h *holders, t int32, near bool) int32 {
	for i := int32(0); i < int32(h.topo.N); i++ {
		if !h.isTracker(i) && (h.topo.RackOf(i) == h.topo.RackOf(t)) == near {
			return i
		}
	}
	return -1
}

func (h *holders) isTracker(n int32) bool {
	for _, t := range h.trackers {
		if t == n {
			return true
		}
	}
	return false
}

// TestFlush: chunks stored within FlushDelay of the first change go out
// together at its end; the next change starts a new flush; a tracker
// has them one latency later.
func TestFlush(t *testing.T) {
	topo := Topology{N: 60, Zones: 3, Racks: 2, Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond}
	cfg := ProductionHolders()
	h, _ := newTestHolders(t, topo, cfg, 8)
	if len(h.trackers) != 3 {
		t.Fatalf("%d trackers, want 3", len(h.trackers))
	}
	tr := h.trackers[0]
	n := notTracker(h, tr, false)
	h.announce(n, 0, time.Second)
	h.announce(n, 1, time.Second+100*time.Millisecond)
	h.announce(n, 2, time.Second+300*time.Millisecond)
	for c, want := range []time.Duration{1200 * time.Millisecond, 1200 * time.Millisecond, 1500 * time.Millisecond} {
		if got := h.sent[int(n)*h.chunks+c]; got != want {
			t.Fatalf("chunk %d sent at %s, want %s", c, got, want)
		}
	}
	lat := topo.Latency(n, tr)
	if h.knownAt(tr, n, 0, 1200*time.Millisecond+lat-1) || !h.knownAt(tr, n, 0, 1200*time.Millisecond+lat) {
		t.Fatal("the tracker must have chunk 0 exactly one latency after the flush")
	}
	if h.batches != 2*3 {
		t.Fatalf("%d batches, want 2 flushes x 3 trackers", h.batches)
	}
}

// TestLookupKeepsAnswer: an answer is what the nearest tracker had when
// it read its table, one latency and its cost after the ask; it is kept
// for LookupTTL from when it came in, and a holding sent meanwhile is
// seen only by the next lookup.
func TestLookupKeepsAnswer(t *testing.T) {
	topo := Topology{N: 60, Zones: 3, Racks: 2, Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond}
	cfg := ProductionHolders()
	h, cpu := newTestHolders(t, topo, cfg, 4)
	obs := notTracker(h, h.trackers[0], true)
	nearest := h.order(obs)[0]
	holder := notTracker(h, nearest, false)
	h.announce(holder, 0, 0) // sent at 200 ms
	lat := topo.Latency(obs, nearest)
	now := 10 * time.Second
	ready := h.lookup(obs, now)
	if want := now + 2*lat + cfg.LookupCost; ready != want || cpu[nearest] != now+lat+cfg.LookupCost {
		t.Fatalf("answer in at %s (tracker busy until %s), want %s", ready, cpu[nearest], want)
	}
	if h.lookup(obs, now+lat) != ready {
		t.Fatal("a lookup in flight must be waited for, not repeated")
	}
	if h.count(obs, 0, false) != 1 || h.count(obs, 1, false) != 0 || h.count(obs, 0, true) != 2 {
		t.Fatal("counts: the holder of chunk 0 only, and obs itself when it holds the chunk")
	}
	h.announce(holder, 1, ready) // sent at ready + 200 ms
	if got := h.lookup(obs, ready+cfg.LookupTTL-1); got != ready+cfg.LookupTTL-1 || h.count(obs, 1, false) != 0 {
		t.Fatal("the kept answer must be used, unchanged, until it expires")
	}
	h.lookup(obs, ready+cfg.LookupTTL)
	if h.count(obs, 1, false) != 1 || h.lookups[indexOf(h.trackers, nearest)] != 2 {
		t.Fatal("the lookup after expiry must see chunk 1, from the same tracker")
	}
}

func indexOf(s []int32, v int32) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestAnswerOrder: an answer names at most Limit holders: every holder
// in the asker's rack, then its zone's, then the others', holders of
// every chunk before the others within each.
func TestAnswerOrder(t *testing.T) {
	topo := Topology{N: 3000, Zones: 3, Racks: 25, Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond}
	cfg := ProductionHolders()
	h, _ := newTestHolders(t, topo, cfg, 4)
	for i := int32(0); i < int32(topo.N); i++ {
		if i%2 == 0 { // half the nodes hold every chunk
			for c := range 4 {
				h.announce(i, c, 0)
			}
		} else if i%4 == 1 { // a quarter hold chunk 0 only
			h.announce(i, 0, 0)
		}
	}
	obs := int32(7)
	h.lookup(obs, time.Minute)
	ans := h.ans[obs]
	if len(ans) != cfg.Limit {
		t.Fatalf("%d holders named, want %d", len(ans), cfg.Limit)
	}
	// A rack holds 40 nodes: 20 full holders and 10 partial ones, obs
	// (partial) among them; then 34 from its zone, all full.
	prev := -1
	var rack, rackFull, zoneFull int
	for i, id := range ans {
		p := topo.Prox(obs, id)
		full := h.fullS[id] != never
		if p < prev {
			t.Fatalf("holder %d of the answer (node %d) ranks nearer than the one before", i, id)
		}
		prev = p
		switch {
		case p == 0:
			rack++
			if full {
				rackFull++
				if rack != rackFull {
					t.Fatal("a partial holder in the rack came before a full one")
				}
			}
		case p == 1 && full:
			zoneFull++
		}
	}
	if rack != 30 || rackFull != 20 || zoneFull != 34 {
		t.Fatalf("rack %d (full %d), zone full %d; want 30 (20), 34", rack, rackFull, zoneFull)
	}
}

// TestHungTrackers: a lookup that meets a hung tracker first waits half
// of LookupTimeout for it, then asks the next; with every tracker hung
// it names nobody after LookupTimeout. A holder's batch to a hung
// tracker stays open for sendTimeout without holding its other flushes
// back, after which the tracker is left alone for minBackoff.
func TestHungTrackers(t *testing.T) {
	topo := Topology{N: 60, Zones: 3, Racks: 2, Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond}
	cfg := ProductionHolders()
	cfg.Hung = 1
	h, _ := newTestHolders(t, topo, cfg, 4)
	hung := h.trackers[0]
	var obs int32 = -1
	for i := int32(0); i < int32(topo.N) && obs < 0; i++ {
		if !h.isTracker(i) && h.order(i)[0] == hung {
			obs = i
		}
	}
	if obs < 0 {
		t.Fatal("no node asks the hung tracker first")
	}
	now := time.Minute
	ready := h.lookup(obs, now)
	next := h.ansFrom[obs]
	if next == hung || next < 0 {
		t.Fatalf("answer from %d", next)
	}
	if want := now + cfg.LookupTimeout/2 + 2*topo.Latency(obs, next) + cfg.LookupCost; ready != want {
		t.Fatalf("answer in at %s, want %s", ready, want)
	}

	holder := notTracker(h, hung, false)
	h.announce(holder, 0, 0)                                      // flush at 200 ms; its batch to the hung tracker open until 5.2 s
	h.announce(holder, 1, 300*time.Millisecond)                   // 500 ms: not held back; the hung tracker skipped
	h.announce(holder, 2, 5400*time.Millisecond+time.Millisecond) // 5.601 s: the tracker backed off until 5.7 s
	h.announce(holder, 3, 5700*time.Millisecond)                  // 5.9 s: tried again, open until 10.9 s
	for c, want := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, 5601 * time.Millisecond, 5900 * time.Millisecond} {
		if got := h.sent[int(holder)*h.chunks+c]; got != want {
			t.Fatalf("chunk %d sent at %s, want %s", c, got, want)
		}
	}
	if h.blocked[holder] != 10900*time.Millisecond || h.retryAt[holder] != 11900*time.Millisecond {
		t.Fatalf("blocked until %s, backed off until %s", h.blocked[holder], h.retryAt[holder])
	}

	cfg.Hung = 3
	all, _ := newTestHolders(t, topo, cfg, 4)
	all.announce(holder, 0, 0)
	o := notTracker(all, all.trackers[0], false)
	if r := all.lookup(o, now); r != now+cfg.LookupTimeout || len(all.ans[o]) != 0 || all.count(o, 0, false) != 0 {
		t.Fatalf("every tracker hung: answer at %s naming %d", r, len(all.ans[o]))
	}
}

// TestDeliverTrackersHung: with every tracker hung the fleet still gets
// the image, from the durable holders and the copies their refusals
// name, more slowly than with trackers.
func TestDeliverTrackersHung(t *testing.T) {
	cfg := bare(24, 3)
	cfg.ReqCost = 200 * time.Microsecond
	ok := deliver(t, cfg)
	cfg.Holders.Hung = 3
	hung := deliver(t, cfg)
	if ok.Lookups[0]+ok.Lookups[1]+ok.Lookups[2] == 0 || hung.Lookups[0]+hung.Lookups[1]+hung.Lookups[2] != 0 {
		t.Fatalf("lookups answered: %v with trackers, %v with all hung", ok.Lookups, hung.Lookups)
	}
	if maxOf(hung.Done) <= maxOf(ok.Done) {
		t.Fatalf("all hung: delivered in %s, with trackers %s", maxOf(hung.Done), maxOf(ok.Done))
	}
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
