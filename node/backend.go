package node

import (
	"context"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
)

var _ api.Backend = (*Node)(nil)

// Cluster implements api.Backend.
func (n *Node) Cluster(ctx context.Context, usage bool) (*api.ClusterInfo, error) {
	return n.view.info(ctx, usage)
}

// AliveMembers returns how many nodes gossip sees alive (self included).
func (n *Node) AliveMembers() int { return n.view.aliveMembers() }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.replica.IsLeader() }

// The catalog calls of api.Backend: the replica answers them (reads
// from the local FSM, writes through Raft).

// Image implements api.Backend.
func (n *Node) Image(ctx context.Context, id string) (*catalog.Image, error) {
	return n.replica.Image(ctx, id)
}

// ListImages implements api.Backend.
func (n *Node) ListImages(ctx context.Context, q catalog.ListQuery) ([]*catalog.Image, error) {
	return n.replica.ListImages(ctx, q)
}

// Sync implements api.Backend: a read barrier.
func (n *Node) Sync(ctx context.Context) error { return n.replica.Sync(ctx) }

// AppliedIndex implements api.Backend.
func (n *Node) AppliedIndex() uint64 { return n.replica.AppliedIndex() }

// WaitApplied implements api.Backend: it waits for replication, without
// asking anything of the leader.
func (n *Node) WaitApplied(ctx context.Context, idx uint64) error {
	return n.replica.WaitApplied(ctx, idx)
}

// CreateImage implements api.Backend.
func (n *Node) CreateImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	return n.replica.CreateImage(ctx, img)
}

// UpdateImage implements api.Backend.
func (n *Node) UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	return n.replica.UpdateImage(ctx, img, expect)
}

// DeleteImage implements api.Backend.
func (n *Node) DeleteImage(ctx context.Context, id string, expect uint64) error {
	return n.replica.DeleteImage(ctx, id, expect)
}

// Member implements api.Backend.
func (n *Node) Member(ctx context.Context, imageID, memberID string) (*catalog.Member, error) {
	return n.replica.Member(ctx, imageID, memberID)
}

// Members implements api.Backend.
func (n *Node) Members(ctx context.Context, imageID string) ([]*catalog.Member, error) {
	return n.replica.Members(ctx, imageID)
}

// Memberships implements api.Backend.
func (n *Node) Memberships(ctx context.Context, project string) (map[string]*catalog.Member, error) {
	return n.replica.Memberships(ctx, project)
}

// PutMember implements api.Backend.
func (n *Node) PutMember(ctx context.Context, m *catalog.Member, create bool, expect uint64) (*catalog.Member, error) {
	return n.replica.PutMember(ctx, m, create, expect)
}

// DeleteMember implements api.Backend.
func (n *Node) DeleteMember(ctx context.Context, imageID, memberID string) error {
	return n.replica.DeleteMember(ctx, imageID, memberID)
}

// Doc implements api.Backend.
func (n *Node) Doc(ctx context.Context, kind, id string) (*catalog.Doc, error) {
	return n.replica.Doc(ctx, kind, id)
}

// Docs implements api.Backend.
func (n *Node) Docs(ctx context.Context, kind string) ([]*catalog.Doc, error) {
	return n.replica.Docs(ctx, kind)
}

// PutDoc implements api.Backend.
func (n *Node) PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	return n.replica.PutDoc(ctx, d, create, expect)
}

// DeleteDoc implements api.Backend.
func (n *Node) DeleteDoc(ctx context.Context, kind, id string) error {
	return n.replica.DeleteDoc(ctx, kind, id)
}
