package sim

import (
	"slices"
	"testing"
	"time"
)

// TestPropagateChain: a tree of degree 1 in one rack is a chain; one
// write reaches the agent d hops down after d x (answer + wire + apply).
func TestPropagateChain(t *testing.T) {
	cfg := Propagation{
		Topology: Topology{N: 6, Zones: 1, Racks: 1, Rack: 100 * time.Microsecond},
		Voters:   1, Degree: 1, Writes: 1, Rate: 1,
		Fsync: time.Millisecond, ServeCost: 30 * time.Microsecond, ApplyCost: 20 * time.Microsecond,
	}
	r, err := Propagate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Depth != 5 || r.MaxChildren != 1 {
		t.Fatalf("depth %d, most children %d: not a chain of 5 below the voter", r.Depth, r.MaxChildren)
	}
	hop := cfg.ServeCost + cfg.Topology.Rack + cfg.ApplyCost
	if want := cfg.ApplyCost + 5*hop; r.Last[0] != want {
		t.Fatalf("last agent applied the write %s after commit, want %s", r.Last[0], want)
	}
	if r.Commit[0] != cfg.Fsync || r.Answers != 5 || r.LeaderAnswers != 1 {
		t.Fatalf("commit %s, answers %d (leader %d)", r.Commit[0], r.Answers, r.LeaderAnswers)
	}
}

// TestPropagateFleet: every agent applies every write, in a tree whose
// depth and fan-out stay small, and the leader answers only its own
// children's polls (voters before it in every zone's ranking).
func TestPropagateFleet(t *testing.T) {
	cfg := Propagation{
		Topology: Topology{N: 2000, Zones: 3, Racks: RacksFor(2000, 3, 40), Rack: 50 * time.Microsecond, Zone: 250 * time.Microsecond, Cross: time.Millisecond},
		Voters:   5, Writes: 50, Rate: 50,
		Fsync: time.Millisecond, CommitTimeout: 15 * time.Millisecond, ServeCost: 100 * time.Microsecond, ApplyCost: 20 * time.Microsecond, Seed: 1,
	}
	r, err := Propagate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Depth > 6 || r.MaxChildren > 24 {
		t.Fatalf("depth %d, most children %d", r.Depth, r.MaxChildren)
	}
	if r.LeaderAnswers != 0 {
		t.Fatalf("the leader answered %d polls; zone heads should rank it last", r.LeaderAnswers)
	}
	if r.AgentP50 > r.AgentP99 || r.AgentP99 > r.AgentMax || slices.Max(r.Last) > r.AgentMax {
		t.Fatalf("percentiles out of order: p50 %s p99 %s max %s, last %s", r.AgentP50, r.AgentP99, r.AgentMax, slices.Max(r.Last))
	}
	again, _ := Propagate(cfg)
	if !slices.Equal(r.Last, again.Last) {
		t.Fatal("two runs with one seed differ")
	}
}
