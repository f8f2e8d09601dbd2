package node

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// replica is this node's copy of the catalog as the API and every part
// of the node use it. Reads are answered from the local FSM. Writes are
// proposed to Raft on the leader, or forwarded to it over the peer
// protocol, and answered only once this node's own FSM has applied them,
// so whoever wrote through this node reads its write here at once. A
// write whose fate cannot be known (leadership lost while committing, a
// forwarded call cut) answers 503 and is never proposed again.
type replica struct {
	fsm *raftfsm.FSM
	// raft is set once Raft has started (Node.startRaft), before any
	// write; nil on a replica that restarted (it never starts Raft).
	raft *raft.Raft
	// follower is active on a replica: writes go to the leader it
	// knows of, or to a voter, which redirects.
	follower *follower
	// forward sends writes to the leader when this node is not it.
	forward *peer.Client
	// peerAddr returns a node's peer address ("" when unknown): how the
	// leader's id becomes the address writes are forwarded to.
	peerAddr func(id string) string
	// writeTimeout bounds a write, forwarding and retries included.
	writeTimeout time.Duration
	// revisionWaits counts the WaitApplied calls that had to wait;
	// barriers the read barriers (Sync) this node proposed.
	revisionWaits, barriers atomic.Int64
	// forwarded counts the proposals this node forwarded to the leader.
	forwarded atomic.Int64
	// observe, when set, is told each proposal's latency (metrics; kind
	// writeLocal or writeBarrier).
	observe func(kind string, took time.Duration)
}

// IsLeader reports whether this node is the Raft leader.
func (r *replica) IsLeader() bool {
	return r.raft != nil && !r.follower.active.Load() && r.raft.State() == raft.Leader
}

// Image answers from the local replica.
func (r *replica) Image(_ context.Context, id string) (*catalog.Image, error) {
	return r.fsm.State().Image(id)
}

// AppliedIndex returns the index of the last command the local FSM
// applied.
func (r *replica) AppliedIndex() uint64 { return r.fsm.AppliedIndex() }

// WaitApplied waits until the local FSM has applied index idx, or ctx
// ends: it only waits for replication, it proposes nothing.
func (r *replica) WaitApplied(ctx context.Context, idx uint64) error {
	if r.fsm.AppliedIndex() >= idx {
		return nil
	}
	r.revisionWaits.Add(1)
	return r.fsm.WaitApplied(ctx, idx)
}

// ListImages answers from the local replica.
func (r *replica) ListImages(_ context.Context, q catalog.ListQuery) ([]*catalog.Image, error) {
	return r.fsm.State().List(q)
}

// CreateImage commits through Raft.
func (r *replica) CreateImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	res, err := r.propose(ctx, &raftfsm.CreateImage{Image: img})
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, catalog.ErrExists) {
		// A forwarded create retried after the leader changed may have
		// committed the first time: the image already there is ours if
		// it has the creation time this proposal chose.
		if cur, err := r.fsm.State().Image(img.ID); err == nil && cur.CreatedAt.Equal(img.CreatedAt) && cur.Revision <= res.Index {
			return cur, nil
		}
	}
	return res.Image, res.Err
}

// UpdateImage commits through Raft.
func (r *replica) UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	res, err := r.propose(ctx, &raftfsm.UpdateImage{Image: img, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Image, res.Err
}

// DeleteImage commits through Raft. The image's chunks become garbage
// that every node collects.
func (r *replica) DeleteImage(ctx context.Context, id string, expect uint64) error {
	res, err := r.propose(ctx, &raftfsm.DeleteImage{ID: id, ExpectRevision: expect, DeletedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	return res.Err
}

// Member answers from the local replica.
func (r *replica) Member(_ context.Context, imageID, memberID string) (*catalog.Member, error) {
	return r.fsm.State().Member(imageID, memberID)
}

// Members answers from the local replica.
func (r *replica) Members(_ context.Context, imageID string) ([]*catalog.Member, error) {
	return r.fsm.State().Members(imageID), nil
}

// Memberships answers from the local replica.
func (r *replica) Memberships(_ context.Context, project string) (map[string]*catalog.Member, error) {
	return r.fsm.State().Memberships(project), nil
}

// PutMember commits through Raft.
func (r *replica) PutMember(ctx context.Context, m *catalog.Member, create bool, expect uint64) (*catalog.Member, error) {
	res, err := r.propose(ctx, &raftfsm.PutMember{Member: m, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Member, res.Err
}

// DeleteMember commits through Raft.
func (r *replica) DeleteMember(ctx context.Context, imageID, memberID string) error {
	res, err := r.propose(ctx, &raftfsm.DeleteMember{ImageID: imageID, MemberID: memberID})
	if err != nil {
		return err
	}
	return res.Err
}

// Doc answers from the local replica.
func (r *replica) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	return r.fsm.State().Doc(kind, id)
}

// Docs answers from the local replica.
func (r *replica) Docs(_ context.Context, kind string) ([]*catalog.Doc, error) {
	return r.fsm.State().Docs(kind), nil
}

// PutDoc commits through Raft.
func (r *replica) PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	res, err := r.propose(ctx, &raftfsm.PutDoc{Doc: d, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Doc, res.Err
}

// DeleteDoc commits through Raft.
func (r *replica) DeleteDoc(ctx context.Context, kind, id string) error {
	res, err := r.propose(ctx, &raftfsm.DeleteDoc{Kind: kind, ID: id})
	if err != nil {
		return err
	}
	return res.Err
}

// mutateImage applies fn to a fresh copy of the image and commits it with
// the revision it read, retrying on conflict (after syncing) a few times.
// It is for the node's own bookkeeping writes, whose changes are
// recomputed from fresh state on every attempt.
func (r *replica) mutateImage(ctx context.Context, id string, fn func(*catalog.Image) error) (*catalog.Image, error) {
	var out *catalog.Image
	err := catalog.RetryOnConflict(ctx, nodeRewriteRetries, r.Sync, func(ctx context.Context) error {
		cur, err := r.fsm.State().Image(id)
		if err != nil {
			return err
		}
		next := cur.Clone()
		if err := fn(next); err != nil {
			return err
		}
		out, err = r.UpdateImage(ctx, next, cur.Revision)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nodeRewriteRetries bounds the retries of a node's own read-modify-write
// of an image or task that lost a race (catalog.RetryOnConflict).
const nodeRewriteRetries = 7
