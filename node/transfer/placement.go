package transfer

import (
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/node/transfer/policy"
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
// yet used, random among equals (policy.SpreadPick).
func SpreadPick(k int, cands, used []Member) []Member {
	return policy.SpreadPick(k, cands, used, func(m Member) (string, string) { return m.Zone, m.Rack }, policy.Global)
}

// RankHolders orders candidate source nodes for a chunk (policy.Order):
// holders known to be busy (at their upload limit) or suspect (stalled,
// sent bad data) last; cached copies before the image's durable holders
// (durable copies are read about once per zone and the fleet feeds
// itself); then by nearness (same rack, same zone, elsewhere) plus the
// fetches this node already has in flight there, so one download
// spreads over several holders; then the lowest measured RTT; random
// among equals. Dead nodes and this node are dropped.
func (t *Transfer) RankHolders(ids []string, durable []string) []Member {
	return policy.Rank(t.candidates(ids, durable), policy.Global)
}

// candidates are the live nodes of ids and durable other than this one,
// as policy.Order ranks them.
func (t *Transfer) candidates(ids []string, durable []string) []policy.Candidate[Member] {
	selfID := t.self()
	self, _ := t.cluster.Member(selfID)
	now := time.Now()
	var cs []policy.Candidate[Member]
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
		cs = append(cs, policy.Candidate[Member]{
			Item: m, Prox: policy.Proximity(self.Zone, self.Rack, m.Zone, m.Rack),
			Durable: slices.Contains(durable, id), Load: t.stats.Load(id, now), RTT: m.RTT,
		})
	}
	return cs
}
