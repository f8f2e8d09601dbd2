package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/peer"
)

// clusterView is the cluster as this node sees it: the Raft
// configuration, gossip's members, and the store usage each live node
// reports. It answers GET /p2p/v1/cluster and finds the peer address of
// a node by id.
type clusterView struct {
	self     string
	raft     *raft.Raft // nil on a replica that restarted
	follower *follower  // active on a replica: the voters it was told of
	gossip   *gossip.Gossip
	client   *peer.Client
	// applied is this node's applied catalog index.
	applied func() uint64
	// localUsage is this node's own store usage (not asked over HTTP).
	localUsage func(context.Context) (peer.Usage, error)
	// lastPeer remembers the peer address gossip last gave for each id
	// peerAddr was asked about (the voters and the leader: a handful).
	lastPeer sync.Map // id -> string
}

// info is GET /p2p/v1/cluster: the Raft configuration joined with
// gossip's view of who is alive and where, and every live node's store
// usage (unless usage is false).
func (v *clusterView) info(ctx context.Context, usage bool) (*api.ClusterInfo, error) {
	info, nodes, err := v.raftMembers()
	if err != nil {
		return nil, err
	}
	if v.follower.active.Load() {
		info.Upstream = v.follower.Upstream()
	}
	info.AppliedIndex = v.applied()
	for _, m := range v.gossip.Members() {
		cn := nodes[m.Meta.ID]
		if cn == nil {
			cn = &api.ClusterNode{ID: m.Meta.ID, Role: "replica", RaftAddr: m.Meta.RaftAddr}
			nodes[m.Meta.ID] = cn
		}
		cn.APIAddr, cn.PeerAddr = m.Meta.APIAddr, m.Meta.PeerAddr
		cn.Zone, cn.Rack, cn.Alive = m.Meta.Zone, m.Meta.Rack, m.Alive
	}
	peers := map[string]string{}
	for id, cn := range nodes {
		if cn.Alive && usage {
			peers[id] = cn.PeerAddr
		}
	}
	for id, u := range v.usageOf(ctx, peers) {
		cn := nodes[id]
		cn.Chunks, cn.Bytes, cn.PinnedBytes, cn.CacheBytes, cn.CacheBudget = u.Chunks, u.Bytes, u.PinnedBytes, u.CacheBytes, u.CacheBudget
		cn.ServedBytes, cn.FetchedBytes, cn.Ready, cn.AppliedIndex = u.ServedBytes, u.FetchedBytes, u.Ready, u.AppliedIndex
	}
	for _, cn := range nodes {
		info.Nodes = append(info.Nodes, *cn)
	}
	sort.Slice(info.Nodes, func(i, j int) bool { return info.Nodes[i].ID < info.Nodes[j].ID })
	return info, nil
}

// raftMembers lists the members of the Raft configuration with their
// roles: from Raft on a member, from the hints on a replica.
func (v *clusterView) raftMembers() (*api.ClusterInfo, map[string]*api.ClusterNode, error) {
	nodes := map[string]*api.ClusterNode{}
	if v.follower.active.Load() {
		h := v.follower.Hints()
		for _, vt := range h.Voters {
			role := "voter"
			if vt.ID == h.Leader {
				role = "leader"
			}
			nodes[vt.ID] = &api.ClusterNode{ID: vt.ID, Role: role}
		}
		return &api.ClusterInfo{Self: v.self, Leader: h.Leader}, nodes, nil
	}
	f := v.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, fmt.Errorf("read raft configuration: %w", err)
	}
	_, leader := v.raft.LeaderWithID()
	for _, s := range f.Configuration().Servers {
		role := "nonvoter"
		if s.Suffrage == raft.Voter {
			role = "voter"
		}
		if s.ID == leader {
			role = "leader"
		}
		nodes[string(s.ID)] = &api.ClusterNode{ID: string(s.ID), RaftAddr: string(s.Address), Role: role}
	}
	return &api.ClusterInfo{Self: v.self, Leader: string(leader)}, nodes, nil
}

// aliveMembers returns how many nodes gossip sees alive (self included).
func (v *clusterView) aliveMembers() int {
	k := 0
	for _, m := range v.gossip.Members() {
		if m.Alive {
			k++
		}
	}
	return k
}

// peerAddr returns a node's peer address from gossip, or the one gossip
// last gave for it ("" when it never knew it). Only voters are asked
// about: a voter must still forward joins and writes to a leader that
// Raft says leads but that its gossip, on a starved host, declared dead
// and dropped; a dead guess costs one failed request.
func (v *clusterView) peerAddr(id string) string {
	if m, ok := v.gossip.Member(id); ok && m.Meta.PeerAddr != "" {
		if old, ok := v.lastPeer.Load(id); !ok || old.(string) != m.Meta.PeerAddr {
			v.lastPeer.Store(id, m.Meta.PeerAddr)
		}
		return m.Meta.PeerAddr
	}
	if addr, ok := v.lastPeer.Load(id); ok {
		return addr.(string)
	}
	return ""
}

// usageOf asks every live node for its usage, in parallel, bounded.
func (v *clusterView) usageOf(ctx context.Context, peers map[string]string) map[string]peer.Usage {
	out := map[string]peer.Usage{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for id, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var u peer.Usage
			var err error
			if id == v.self {
				u, err = v.localUsage(ctx)
			} else {
				u, err = v.fetchUsage(ctx, addr)
			}
			if err != nil {
				return
			}
			mu.Lock()
			out[id] = u
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (v *clusterView) fetchUsage(ctx context.Context, addr string) (peer.Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u, err := v.client.Stats(ctx, addr)
	if err != nil {
		return peer.Usage{}, fmt.Errorf("stats of %s: %w", addr, err)
	}
	return u, nil
}
