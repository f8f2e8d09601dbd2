// Package fanout decides where an agent that is not a Raft voter pulls the
// catalog's committed log from: a tree rooted at the voters, shaped by the
// fleet's zones and racks, that every agent computes on its own from the
// membership it sees.
//
// The tree is laid out over one total order of the agents that are not
// voters: (zone, rack, hash of the id). In every rack the members, sorted
// by hash, form a heap of the given degree (member i pulls from member
// (i-1)/degree); the first member of each rack (its head) pulls from the
// head of an earlier rack of its zone, the racks of a zone forming a heap
// the same way; the head of a zone's first rack (the zone head) pulls from
// the head of an earlier zone, the zones forming a heap whose first
// Degree zones hang from the voters. Every edge therefore points to an
// agent earlier in the total order, or to a voter, so the graph has no
// cycle however much two agents' views of the membership differ: a view
// only changes which earlier agent is chosen, never the direction.
//
// The fallbacks after the parent are the parent's own ancestors and then
// the voters: all earlier in the order, so an agent that skips a failed
// or stalled upstream still cannot close a cycle. Voters are ranked so
// that the Raft leader comes last: the leader's work must not grow with
// the fleet.
//
// The package is pure policy with no I/O: the agents (node) and the
// simulator call the same code.
package fanout

import (
	"cmp"
	"hash/fnv"
	"slices"
)

// DefaultDegree is the number of children an agent feeds inside its rack,
// and the number of racks (zones) a rack (zone) head feeds.
const DefaultDegree = 8

// Member is one agent as the tree sees it.
type Member struct {
	ID, Zone, Rack string
	// Voter marks a Raft voter: a root of the tree.
	Voter bool
	// Leader marks the Raft leader (a voter), ranked last among roots.
	Leader bool
}

// Tree is the fan-out over one membership view.
type Tree struct {
	degree int
	voters []Member // roots, leader last
	// order is every non-voter in the total order.
	order []Member
	pos   map[string]int // id -> index in order
	// parent[i] is the index in order of i's parent, or -1 for a zone
	// head that hangs from the voters.
	parent []int
}

// New lays the tree out over members (self need not be among them).
// degree <= 0 means DefaultDegree. Duplicate ids keep the first.
func New(members []Member, degree int) *Tree {
	if degree <= 0 {
		degree = DefaultDegree
	}
	t := &Tree{degree: degree, pos: map[string]int{}}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.ID] || m.ID == "" {
			continue
		}
		seen[m.ID] = true
		if m.Voter {
			t.voters = append(t.voters, m)
		} else {
			t.order = append(t.order, m)
		}
	}
	slices.SortFunc(t.voters, func(a, b Member) int {
		if a.Leader != b.Leader {
			if a.Leader {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	hashes := make(map[string]uint64, len(t.order))
	for _, m := range t.order {
		hashes[m.ID] = hash(m.ID)
	}
	slices.SortFunc(t.order, func(a, b Member) int {
		if c := cmp.Compare(a.Zone, b.Zone); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Rack, b.Rack); c != 0 {
			return c
		}
		if c := cmp.Compare(hashes[a.ID], hashes[b.ID]); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	t.parent = make([]int, len(t.order))
	for i, m := range t.order {
		t.pos[m.ID] = i
	}
	// Walk zones and racks in order, laying out the three heaps.
	var zoneHeads []int // index in order of each zone's head
	for zs := 0; zs < len(t.order); {
		ze := zs
		for ze < len(t.order) && t.order[ze].Zone == t.order[zs].Zone {
			ze++
		}
		zone := len(zoneHeads)
		zoneHeads = append(zoneHeads, zs)
		var rackHeads []int
		for rs := zs; rs < ze; {
			re := rs
			for re < ze && t.order[re].Rack == t.order[rs].Rack {
				re++
			}
			r := len(rackHeads)
			rackHeads = append(rackHeads, rs)
			for i := rs; i < re; i++ {
				if k := i - rs; k > 0 {
					t.parent[i] = rs + (k-1)/degree
				}
			}
			if r > 0 {
				t.parent[rs] = rackHeads[(r-1)/degree]
			}
			rs = re
		}
		if zone >= degree {
			t.parent[zs] = zoneHeads[(zone-degree)/degree]
		} else {
			t.parent[zs] = -1
		}
		zs = ze
	}
	return t
}

// hash spreads ids over a rack so the heap's shape does not follow how
// operators name hosts.
func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// Upstreams returns the ids self should pull from, best first: its parent,
// the parent's ancestors, then the voters (the leader last). It is empty
// for a voter (voters get the log from Raft) and for an id the tree does
// not hold. Every id returned is earlier than self in the tree's order.
func (t *Tree) Upstreams(self string) []string {
	i, ok := t.pos[self]
	if !ok {
		return nil
	}
	var out []string
	for p := t.parent[i]; p >= 0; p = t.parent[p] {
		out = append(out, t.order[p].ID)
	}
	return append(out, t.rootsFor(t.order[i].Zone)...)
}

// Parent returns self's first upstream, "" when it has none.
func (t *Tree) Parent(self string) string {
	if up := t.Upstreams(self); len(up) > 0 {
		return up[0]
	}
	return ""
}

// rootsFor ranks the voters for a zone head of zone: voters in the same
// zone first, then the others in an order that spreads zones over
// voters (rendezvous hashing), the leader always last.
func (t *Tree) rootsFor(zone string) []string {
	vs := slices.Clone(t.voters)
	slices.SortStableFunc(vs, func(a, b Member) int {
		if a.Leader != b.Leader {
			if a.Leader {
				return 1
			}
			return -1
		}
		if (a.Zone == zone) != (b.Zone == zone) {
			if a.Zone == zone {
				return -1
			}
			return 1
		}
		return cmp.Compare(hash(zone+"\x00"+b.ID), hash(zone+"\x00"+a.ID))
	})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// Children returns the ids whose parent is id (for a voter: the zone heads
// that rank it first). It is what the simulator and the tests use to
// check the tree's shape; agents never need it.
func (t *Tree) Children(id string) []string {
	var out []string
	i, inOrder := t.pos[id]
	for j, m := range t.order {
		switch {
		case inOrder && t.parent[j] == i:
			out = append(out, m.ID)
		case !inOrder && t.parent[j] == -1 && t.rootsFor(m.Zone)[0] == id:
			out = append(out, m.ID)
		}
	}
	return out
}

// Depth returns how many hops the log takes from the voters to id (1 for
// a zone head, 0 for a voter or an unknown id).
func (t *Tree) Depth(id string) int {
	i, ok := t.pos[id]
	if !ok {
		return 0
	}
	d := 1
	for p := t.parent[i]; p >= 0; p = t.parent[p] {
		d++
	}
	return d
}
