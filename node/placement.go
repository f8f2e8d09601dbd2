package node

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/p2pglance/p2pglance/gossip"
)

// aliveMembers returns the live members other than this node.
func (n *Node) alivePeers() []gossip.Member {
	var out []gossip.Member
	for _, m := range n.gossip.Members() {
		if m.Alive && m.Meta.ID != n.id {
			out = append(out, m)
		}
	}
	return out
}

// replicaCount is R = min(configured replicas, live nodes).
func (n *Node) replicaCount() int {
	return min(n.cfg.Replicas, len(n.alivePeers())+1)
}

// pickReplicas chooses up to k live peers, not in exclude, to hold
// durable copies: zones not yet used first, then racks not yet used,
// random among equals, so copies spread across failure domains.
func (n *Node) pickReplicas(k int, exclude map[string]bool) []gossip.Member {
	self, _ := n.gossip.Member(n.id)
	usedZones := map[string]bool{self.Meta.Zone: true}
	usedRacks := map[string]bool{self.Meta.Zone + "/" + self.Meta.Rack: true}
	for id := range exclude {
		if m, ok := n.gossip.Member(id); ok {
			usedZones[m.Meta.Zone] = true
			usedRacks[m.Meta.Zone+"/"+m.Meta.Rack] = true
		}
	}
	var cands []gossip.Member
	for _, m := range n.alivePeers() {
		if !exclude[m.Meta.ID] {
			cands = append(cands, m)
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var out []gossip.Member
	for len(out) < k && len(cands) > 0 {
		best := 0
		score := func(m gossip.Member) int {
			s := 0
			if !usedZones[m.Meta.Zone] {
				s += 2
			}
			if !usedRacks[m.Meta.Zone+"/"+m.Meta.Rack] {
				s++
			}
			return s
		}
		for i := range cands {
			if score(cands[i]) > score(cands[best]) {
				best = i
			}
		}
		m := cands[best]
		cands = slices.Delete(cands, best, best+1)
		usedZones[m.Meta.Zone] = true
		usedRacks[m.Meta.Zone+"/"+m.Meta.Rack] = true
		out = append(out, m)
	}
	return out
}

// rankHolders orders candidate source nodes for a chunk: same rack, then
// same zone, then lowest measured round-trip time; random among equals so
// load spreads. Dead nodes and this node are dropped.
func (n *Node) rankHolders(ids []string) []gossip.Member {
	self, _ := n.gossip.Member(n.id)
	var out []gossip.Member
	seen := map[string]bool{n.id: true}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if m, ok := n.gossip.Member(id); ok && m.Alive && m.Meta.PeerAddr != "" {
			out = append(out, m)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	proximity := func(m gossip.Member) int {
		switch {
		case m.Meta.Zone == self.Meta.Zone && m.Meta.Rack == self.Meta.Rack:
			return 0
		case m.Meta.Zone == self.Meta.Zone:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b gossip.Member) int {
		if c := cmp.Compare(proximity(a), proximity(b)); c != 0 {
			return c
		}
		// RTTs within a millisecond are treated as equal, keeping the
		// random order that spreads load.
		return cmp.Compare(a.RTT.Milliseconds(), b.RTT.Milliseconds())
	})
	return out
}
