package fanout

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// fleet returns n agents over zones and racks (rack names repeat across
// zones, as they do in real fleets) plus voters.
func fleet(n, zones, racksPerZone, voters int) []Member {
	var ms []Member
	for v := 0; v < voters; v++ {
		ms = append(ms, Member{ID: fmt.Sprintf("voter-%d", v), Zone: fmt.Sprintf("z%d", v%zones), Voter: true, Leader: v == 0})
	}
	for i := 0; i < n; i++ {
		z := i % zones
		ms = append(ms, Member{ID: fmt.Sprintf("agent-%04d", i), Zone: fmt.Sprintf("z%d", z), Rack: fmt.Sprintf("r%d", (i/zones)%racksPerZone)})
	}
	return ms
}

func TestEveryAgentReachesTheVoters(t *testing.T) {
	ms := fleet(1000, 3, 7, 5)
	tr := New(ms, 0)
	maxDepth := 0
	for _, m := range ms {
		up := tr.Upstreams(m.ID)
		if m.Voter {
			if len(up) != 0 {
				t.Fatalf("voter %s has upstreams %v", m.ID, up)
			}
			continue
		}
		if len(up) == 0 {
			t.Fatalf("%s has no upstream", m.ID)
		}
		// The last five are the voters, the leader last.
		roots := up[len(up)-5:]
		if roots[4] != "voter-0" {
			t.Fatalf("%s: leader not last among roots %v", m.ID, roots)
		}
		maxDepth = max(maxDepth, tr.Depth(m.ID))
	}
	// 1000 agents, 21 racks of ~48, degree 8: rack heap depth 2, rack
	// heads' heap depth 1, zone heads 1.
	if maxDepth > 5 {
		t.Fatalf("max depth %d, want <= 5", maxDepth)
	}
}

func TestDegreeIsBounded(t *testing.T) {
	ms := fleet(2000, 30, 12, 5)
	tr := New(ms, 8)
	for _, m := range ms {
		c := len(tr.Children(m.ID))
		// An agent feeds at most 8 in its rack, 8 rack heads and 8 zone
		// heads.
		if !m.Voter && c > 24 {
			t.Fatalf("%s feeds %d", m.ID, c)
		}
	}
	// The leader feeds nobody while other voters exist.
	if c := tr.Children("voter-0"); len(c) != 0 {
		t.Fatalf("leader feeds %v", c)
	}
}

func TestParentIsLocal(t *testing.T) {
	ms := fleet(300, 3, 7, 3)
	tr := New(ms, 0)
	byID := map[string]Member{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	for _, m := range ms {
		if m.Voter {
			continue
		}
		p := byID[tr.Parent(m.ID)]
		if p.Voter {
			continue
		}
		if p.Zone != m.Zone {
			t.Fatalf("%s (zone %s) pulls from %s in zone %s", m.ID, m.Zone, p.ID, p.Zone)
		}
	}
}

// TestNoCycleAcrossViews gives every agent its own random view of the
// membership (some members missing, some fallbacks skipped) and follows
// each agent's choice: the graph of choices must reach a voter from
// everywhere.
func TestNoCycleAcrossViews(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ms := fleet(400, 4, 5, 3)
	choice := map[string]string{}
	for _, self := range ms {
		if self.Voter {
			continue
		}
		var view []Member
		for _, m := range ms {
			if m.ID == self.ID || m.Voter || rng.IntN(4) != 0 {
				view = append(view, m)
			}
		}
		up := New(view, 0).Upstreams(self.ID)
		// Skip a random number of upstreams, as if they had failed.
		choice[self.ID] = up[rng.IntN(len(up))]
	}
	for start := range choice {
		seen := map[string]bool{}
		for id := start; choice[id] != ""; id = choice[id] {
			if seen[id] {
				t.Fatalf("cycle through %s", id)
			}
			seen[id] = true
		}
	}
}

func TestUnknownAndEmpty(t *testing.T) {
	tr := New(nil, 0)
	if up := tr.Upstreams("x"); up != nil {
		t.Fatalf("upstreams of unknown: %v", up)
	}
	// A lone agent with no voter in view has nowhere to go.
	tr = New([]Member{{ID: "a"}}, 0)
	if up := tr.Upstreams("a"); len(up) != 0 {
		t.Fatalf("upstreams %v", up)
	}
	// Duplicates keep the first.
	tr = New([]Member{{ID: "v", Voter: true}, {ID: "a"}, {ID: "a", Voter: true}}, 0)
	if up := tr.Upstreams("a"); !slices.Equal(up, []string{"v"}) {
		t.Fatalf("upstreams %v", up)
	}
}
