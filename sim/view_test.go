package sim

import (
	"testing"
	"time"
)

// TestGossipView: an announcement reaches every node within the longest
// lag, about a quarter more of them each hop (fan-out 3), none before
// the announcer's next gossip tick; with gossip off, no one learns it.
func TestGossipView(t *testing.T) {
	topo := Topology{N: 1000, Zones: 3, Racks: 9, Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond}
	v := newView(topo, Gossip{Interval: 200 * time.Millisecond, Fanout: 3}, 1, 7)
	const at = 10 * time.Second
	v.announce(5, 0, at)
	if !v.visible(5, 5, 0, at) || v.visible(6, 6, 0, at) {
		t.Fatal("a node must know its own holdings, and only those it announced")
	}
	tick := (v.offset[5] - at%v.g.Interval + v.g.Interval) % v.g.Interval
	seen := func(after time.Duration) int {
		n := 0
		for o := int32(0); o < int32(topo.N); o++ {
			if v.visible(o, 5, 0, at+after) {
				n++
			}
		}
		return n
	}
	if n := seen(tick - time.Nanosecond); n != 1 {
		t.Fatalf("%d nodes know before the announcer's first gossip tick", n)
	}
	if n := seen(v.maxLag); n != topo.N {
		t.Fatalf("%d of %d know after the longest lag %s", n, topo.N, v.maxLag)
	}
	half := seen(tick + 2*v.g.Interval)
	if half < 20 || half > 900 {
		t.Fatalf("%d know two intervals after the first tick: the epidemic is off", half)
	}
	if got := v.count(9, 0, at+v.maxLag); got != 1 {
		t.Fatalf("count %d, want 1", got)
	}
	off := newView(topo, Gossip{Off: true}, 1, 7)
	off.announce(5, 0, at)
	if off.visible(9, 5, 0, at+time.Hour) {
		t.Fatal("gossip off: a cached copy became known")
	}
}

// TestGossipSpread: telling every node takes longer with a longer
// interval and never more than the longest lag.
func TestGossipSpread(t *testing.T) {
	topo := Topology{N: 40, Zones: 3, Racks: 2, Rack: 50 * time.Microsecond, Zone: 50 * time.Microsecond, Cross: 50 * time.Microsecond}
	fast := GossipSpread(topo, Gossip{Interval: 200 * time.Millisecond, Fanout: 3}, 200, 1)
	slow := GossipSpread(topo, Gossip{Interval: 500 * time.Millisecond, Fanout: 3}, 200, 1)
	if fast <= 0 || slow <= fast || slow > newView(topo, Gossip{Interval: 500 * time.Millisecond, Fanout: 3}, 1, 1).maxLag {
		t.Fatalf("spread %s at 200 ms, %s at 500 ms", fast, slow)
	}
}
