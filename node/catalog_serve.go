package node

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/peer"
)

// catalogServer feeds the committed log and certified checkpoints to the
// agents downstream of this node (peer.CatalogRoutes).
type catalogServer struct{ n *Node }

var _ peer.CatalogServer = catalogServer{}

// maxLogPollers bounds the log polls a node holds open at once: its tree
// children are a few dozen at most; beyond that it refuses and the
// poller moves on to the next upstream in its ranking.
const maxLogPollers = 128

// Log answers the commands after index after, waiting up to wait for one.
func (s catalogServer) Log(ctx context.Context, after uint64, wait time.Duration) (peer.LogBatch, error) {
	n := s.n
	if n.outOfTouch() {
		return peer.LogBatch{}, fmt.Errorf("%w: this node is out of touch with the voters (%s)", peer.ErrUnavailable, n.touchState())
	}
	select {
	case n.pollers <- struct{}{}:
		defer func() { <-n.pollers }()
	default:
		return peer.LogBatch{}, fmt.Errorf("%w: too many log pollers", peer.ErrUnavailable)
	}
	n.metrics.logPolls.Add(1)
	if n.fsm.AppliedIndex() <= after && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		_ = n.fsm.WaitApplied(wctx, after+1)
		cancel()
	}
	entries, ok := n.fsm.Since(after, peer.MaxLogBatch)
	batch := peer.LogBatch{Applied: n.fsm.AppliedIndex(), Hints: n.hints()}
	if !ok {
		info, have := n.ckpt.latest()
		if !have {
			// Nothing to offer one this far behind: have a checkpoint
			// taken (forwarded to the leader), and refuse for now.
			n.ckpt.askSoon()
			return peer.LogBatch{}, fmt.Errorf("%w: log before %d dropped and no checkpoint held yet", peer.ErrUnavailable, n.fsm.LogStart())
		}
		batch.Checkpoint = &info
		return batch, nil
	}
	batch.Entries = make([]peer.LogEntry, len(entries))
	for i, e := range entries {
		batch.Entries[i] = peer.LogEntry{Index: e.Index, Data: e.Data}
	}
	return batch, nil
}

// Checkpoint opens a certified checkpoint this node holds.
func (s catalogServer) Checkpoint(_ context.Context, index uint64) (peer.CheckpointInfo, io.ReadCloser, error) {
	info, rc, err := s.n.ckpt.open(index)
	if err == nil {
		s.n.metrics.ckptServed.Add(1)
		s.n.metrics.ckptBytes.Add(info.Size)
	}
	return info, rc, err
}

// IsReplica reports whether this node is a replica: outside Raft, its
// catalog pulled from its peers.
func (n *Node) IsReplica() bool { return n.follower.active.Load() }

// CatalogUpstream returns the id of the node this replica pulls the log
// from now ("" on a voter, or when it has none).
func (n *Node) CatalogUpstream() string {
	if !n.IsReplica() {
		return ""
	}
	return n.follower.Upstream()
}

// outOfTouch reports whether this node's catalog may be falling behind
// without it knowing: a Raft follower that has not heard from a leader
// for 20 heartbeat timeouts (loose: a loaded host delays heartbeats), a
// candidate, or a replica whose upstreams stopped answering.
func (n *Node) outOfTouch() bool {
	if n.follower.active.Load() {
		return n.follower.stale()
	}
	switch n.raft.State() {
	case raft.Leader:
		return false
	case raft.Follower:
		return time.Since(n.raft.LastContact()) > 20*n.cfg.Timing.HeartbeatTimeout
	}
	return true
}

// touchState describes why outOfTouch answers as it does.
func (n *Node) touchState() string {
	if n.follower.active.Load() {
		return "replica, last answer from an upstream " + time.Since(n.follower.lastAnswer()).Round(time.Millisecond).String() + " ago"
	}
	return "raft " + n.raft.State().String() + ", last contact with a leader " + time.Since(n.raft.LastContact()).Round(time.Millisecond).String() + " ago"
}

// hints names the voters and the leader as this node knows them: from
// Raft on a voter, from its upstream on a replica.
func (n *Node) hints() peer.Hints {
	if n.follower.active.Load() {
		return n.follower.Hints()
	}
	var h peer.Hints
	_, leader := n.raft.LeaderWithID()
	h.Leader = string(leader)
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return h
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			h.Voters = append(h.Voters, peer.Voter{ID: string(s.ID), Peer: n.view.peerAddr(string(s.ID))})
		}
	}
	return h
}

// proposeCmd commits cmd through the replica (used by checkpoints).
func (n *Node) proposeCmd(ctx context.Context, cmd any) error {
	res, err := n.replica.propose(ctx, cmd)
	if err != nil {
		return err
	}
	return res.Err
}
