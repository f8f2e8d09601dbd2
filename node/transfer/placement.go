package transfer

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// alivePeers returns the live members other than this node.
func (t *Transfer) alivePeers() []Member {
	self := t.self()
	var out []Member
	for _, m := range t.cluster.Members() {
		if m.Alive && m.ID != self {
			out = append(out, m)
		}
	}
	return out
}

// ReplicaCount is R = min(configured replicas, live nodes).
func (t *Transfer) ReplicaCount() int {
	return min(t.cfg.Replicas, len(t.alivePeers())+1)
}

// PickReplicas chooses up to k live peers, not in exclude, to hold
// durable copies alongside this node (see SpreadPick).
func (t *Transfer) PickReplicas(k int, exclude map[string]bool) []Member {
	self, _ := t.cluster.Member(t.self())
	used := []Member{self}
	for id := range exclude {
		if m, ok := t.cluster.Member(id); ok {
			used = append(used, m)
		}
	}
	var cands []Member
	for _, m := range t.alivePeers() {
		if !exclude[m.ID] {
			cands = append(cands, m)
		}
	}
	return SpreadPick(k, cands, used)
}

// SpreadPick chooses up to k of cands for durable copies, given the nodes
// already holding copies (used): zones not yet used first, then racks not
// yet used, random among equals, so copies spread across failure
// domains.
func SpreadPick(k int, cands, used []Member) []Member {
	usedZones := map[string]bool{}
	usedRacks := map[string]bool{}
	for _, m := range used {
		usedZones[m.Zone] = true
		usedRacks[m.Zone+"/"+m.Rack] = true
	}
	cands = slices.Clone(cands)
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	score := func(m Member) int {
		s := 0
		if !usedZones[m.Zone] {
			s += 2
		}
		if !usedRacks[m.Zone+"/"+m.Rack] {
			s++
		}
		return s
	}
	var out []Member
	for len(out) < k && len(cands) > 0 {
		best := 0
		for i := range cands {
			if score(cands[i]) > score(cands[best]) {
				best = i
			}
		}
		m := cands[best]
		cands = slices.Delete(cands, best, best+1)
		usedZones[m.Zone] = true
		usedRacks[m.Zone+"/"+m.Rack] = true
		out = append(out, m)
	}
	return out
}

// RankHolders orders candidate source nodes for a chunk: holders known to
// be busy (at their upload limit) or suspect (stalled, sent bad data)
// last; then by nearness (same rack, same zone, elsewhere) plus the
// fetches this node already has in flight there, so one download spreads
// over several holders; nodes holding a cached copy before the image's
// durable holders (durable copies are read about once per zone and the
// fleet feeds itself); then the lowest measured RTT; random among equals.
// Dead nodes and this node are dropped.
func (t *Transfer) RankHolders(ids []string, durable []string) []Member {
	selfID := t.self()
	self, _ := t.cluster.Member(selfID)
	type cand struct {
		m               Member
		prox, dur, load int
		rttMs           int64
	}
	var cs []cand
	seen := map[string]bool{selfID: true}
	for _, id := range append(ids, durable...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		m, ok := t.cluster.Member(id)
		if !ok || !m.Alive || m.PeerAddr == "" {
			continue
		}
		c := cand{m: m, prox: 2, load: t.stats.load(id), rttMs: m.RTT.Milliseconds()}
		switch {
		case m.Zone == self.Zone && m.Rack == self.Rack:
			c.prox = 0
		case m.Zone == self.Zone:
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
	out := make([]Member, len(cs))
	for i, c := range cs {
		out[i] = c.m
	}
	return out
}
