package node

import (
	"fmt"
	"testing"

	"github.com/p2pglance/p2pglance/gossip"
)

// A join's answer names a few alive members, never the joiner or a dead
// one, and different joins are sent to different members.
func TestJoinGossipAddrs(t *testing.T) {
	var members []gossip.Member
	for i := range 50 {
		members = append(members, gossip.Member{Meta: gossip.Meta{ID: fmt.Sprintf("n%d", i)}, Alive: i%5 != 4, Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
	}
	members = append(members, gossip.Member{Meta: gossip.Meta{ID: "no-addr"}, Alive: true})
	seen := map[string]int{}
	for range 200 {
		addrs := joinGossipAddrs(members, "n0", joinGossipPeers)
		if len(addrs) != joinGossipPeers {
			t.Fatalf("answered %d addresses, want %d", len(addrs), joinGossipPeers)
		}
		distinct := map[string]bool{}
		for _, a := range addrs {
			var i int
			if _, err := fmt.Sscanf(a, "127.0.0.1:%d", &i); err != nil {
				t.Fatalf("address %q: %v", a, err)
			}
			if i -= 7000; i == 0 || i%5 == 4 {
				t.Fatalf("answered n%d (the joiner or a dead member)", i)
			}
			distinct[a] = true
			seen[a]++
		}
		if len(distinct) != len(addrs) {
			t.Fatalf("answered %v: an address twice", addrs)
		}
	}
	// 39 eligible members, 600 picks: every one is picked (a fixed
	// choice would name the same 3 every time).
	if len(seen) != 39 {
		t.Fatalf("picked %d distinct members over 200 joins, want all 39", len(seen))
	}
	few := joinGossipAddrs(members[:2], "n0", joinGossipPeers)
	if len(few) != 1 || few[0] != "127.0.0.1:7001" {
		t.Fatalf("two members, the joiner one of them: answered %v", few)
	}
}
