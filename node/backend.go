package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

var _ api.Backend = (*Node)(nil)

// Image implements api.Backend from the local replica.
func (n *Node) Image(_ context.Context, id string) (*catalog.Image, error) {
	return n.fsm.State().Image(id)
}

// ListImages implements api.Backend from the local replica.
func (n *Node) ListImages(_ context.Context, q catalog.ListQuery) ([]*catalog.Image, error) {
	return n.fsm.State().List(q)
}

// CreateImage implements api.Backend.
func (n *Node) CreateImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	res, err := n.propose(ctx, &raftfsm.CreateImage{Image: img})
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, catalog.ErrExists) {
		// A forwarded create retried after the leader changed may have
		// committed the first time: the image already there is ours if
		// it has the creation time this proposal chose.
		if cur, err := n.fsm.State().Image(img.ID); err == nil && cur.CreatedAt.Equal(img.CreatedAt) && cur.Revision <= res.Index {
			return cur, nil
		}
	}
	return res.Image, res.Err
}

// UpdateImage implements api.Backend.
func (n *Node) UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	res, err := n.propose(ctx, &raftfsm.UpdateImage{Image: img, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Image, res.Err
}

// DeleteImage implements api.Backend. The image's chunks become garbage
// that every node collects.
func (n *Node) DeleteImage(ctx context.Context, id string, expect uint64) error {
	res, err := n.propose(ctx, &raftfsm.DeleteImage{ID: id, ExpectRevision: expect, DeletedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	return res.Err
}

// Cluster implements api.Backend: the Raft configuration joined with
// gossip's view of who is alive and where.
func (n *Node) Cluster(ctx context.Context) (*api.ClusterInfo, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", err)
	}
	_, leader := n.raft.LeaderWithID()
	info := &api.ClusterInfo{Self: n.id, Leader: string(leader)}
	nodes := map[string]*api.ClusterNode{}
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
	for _, m := range n.gossip.Members() {
		cn := nodes[m.Meta.ID]
		if cn == nil {
			cn = &api.ClusterNode{ID: m.Meta.ID, Role: "none", RaftAddr: m.Meta.RaftAddr}
			nodes[m.Meta.ID] = cn
		}
		cn.APIAddr, cn.PeerAddr = m.Meta.APIAddr, m.Meta.PeerAddr
		cn.Zone, cn.Rack, cn.Alive = m.Meta.Zone, m.Meta.Rack, m.Alive
	}
	peers := map[string]string{}
	for id, cn := range nodes {
		if cn.Alive {
			peers[id] = cn.PeerAddr
		}
	}
	for id, u := range n.usageOf(ctx, peers) {
		cn := nodes[id]
		cn.Chunks, cn.Bytes, cn.PinnedBytes, cn.CacheBytes, cn.CacheBudget = u.Chunks, u.Bytes, u.PinnedBytes, u.CacheBytes, u.CacheBudget
	}
	for _, cn := range nodes {
		info.Nodes = append(info.Nodes, *cn)
	}
	sort.Slice(info.Nodes, func(i, j int) bool { return info.Nodes[i].ID < info.Nodes[j].ID })
	return info, nil
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// AliveMembers returns how many nodes gossip sees alive (self included).
func (n *Node) AliveMembers() int {
	k := 0
	for _, m := range n.gossip.Members() {
		if m.Alive {
			k++
		}
	}
	return k
}
