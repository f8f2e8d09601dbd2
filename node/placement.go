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
// durable copies alongside this node (see spreadPick).
func (n *Node) pickReplicas(k int, exclude map[string]bool) []gossip.Member {
	self, _ := n.gossip.Member(n.id)
	used := []gossip.Meta{self.Meta}
	for id := range exclude {
		if m, ok := n.gossip.Member(id); ok {
			used = append(used, m.Meta)
		}
	}
	var cands []gossip.Member
	for _, m := range n.alivePeers() {
		if !exclude[m.Meta.ID] {
			cands = append(cands, m)
		}
	}
	return spreadPick(k, cands, used)
}

// spreadPick chooses up to k of cands for durable copies, given the nodes
// already holding copies (used): zones not yet used first, then racks not
// yet used, random among equals, so copies spread across failure
// domains.
func spreadPick(k int, cands []gossip.Member, used []gossip.Meta) []gossip.Member {
	usedZones := map[string]bool{}
	usedRacks := map[string]bool{}
	for _, m := range used {
		usedZones[m.Zone] = true
		usedRacks[m.Zone+"/"+m.Rack] = true
	}
	cands = slices.Clone(cands)
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
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
	var out []gossip.Member
	for len(out) < k && len(cands) > 0 {
		best := 0
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

// rankHolders orders candidate source nodes for a chunk: holders known to
// be busy (at their upload limit) or suspect (stalled, sent bad data)
// last; then by nearness (same rack, same zone, elsewhere) plus the
// fetches this node already has in flight there, so one download spreads
// over several holders; nodes holding a cached copy before the image's
// durable holders (durable copies are read about once per zone and the
// fleet feeds itself); then the lowest measured RTT; random among equals.
// Dead nodes and this node are dropped.
func (n *Node) rankHolders(ids []string, durable []string) []gossip.Member {
	self, _ := n.gossip.Member(n.id)
	type cand struct {
		m               gossip.Member
		prox, dur, load int
		rttMs           int64
	}
	var cs []cand
	seen := map[string]bool{n.id: true}
	for _, id := range append(ids, durable...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		m, ok := n.gossip.Member(id)
		if !ok || !m.Alive || m.Meta.PeerAddr == "" {
			continue
		}
		c := cand{m: m, prox: 2, load: n.peers.load(id), rttMs: m.RTT.Milliseconds()}
		switch {
		case m.Meta.Zone == self.Meta.Zone && m.Meta.Rack == self.Meta.Rack:
			c.prox = 0
		case m.Meta.Zone == self.Meta.Zone:
			c.prox = 1
		}
		if slices.Contains(durable, id) {
			c.dur = 1
		}
		cs = append(cs, c)
	}
	rand.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	slices.SortStableFunc(cs, func(a, b cand) int {
		// Busy or suspect peers last; cached copies before durable
		// holders (the origin, see origin.go); then nearness and the
		// fetches already in flight there weigh together, so a download
		// spreads over holders instead of queueing on the nearest; then
		// RTT.
		pa, pb := a.load/1000, b.load/1000
		return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(a.dur, b.dur), cmp.Compare(a.prox+a.load%1000, b.prox+b.load%1000), cmp.Compare(a.rttMs, b.rttMs))
	})
	out := make([]gossip.Member, len(cs))
	for i, c := range cs {
		out[i] = c.m
	}
	return out
}
