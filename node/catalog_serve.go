package node

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// catalogServer feeds the committed log and certified checkpoints to the
// agents downstream of this node (peer.CatalogRoutes), and tells them
// where the voters and the leader are.
type catalogServer struct {
	fsm      *raftfsm.FSM
	ckpt     *checkpoints
	follower *follower // active on a replica
	// raft is nil on a replica that restarted; heartbeat is its
	// HeartbeatTimeout.
	raft      *raft.Raft
	heartbeat time.Duration
	// peerAddr finds a voter's peer address by id.
	peerAddr func(id string) string

	pollers                   chan struct{} // open polls (maxLogPollers)
	polls, served, servedSize *atomic.Int64 // Metrics' counters
}

var _ peer.CatalogServer = (*catalogServer)(nil)

// maxLogPollers bounds the log polls a node holds open at once: its tree
// children are a few dozen at most; beyond that it refuses and the
// poller moves on to the next upstream in its ranking.
const maxLogPollers = 128

// Log answers the commands after index after, waiting up to wait for one.
func (s *catalogServer) Log(ctx context.Context, after uint64, wait time.Duration) (peer.LogBatch, error) {
	if s.outOfTouch() {
		return peer.LogBatch{}, fmt.Errorf("%w: this node is out of touch with the voters (%s)", peer.ErrUnavailable, s.touchState())
	}
	// leadsWithFellows asks Raft for its configuration: only when a poll
	// would be shed or its answer capped, not on every poll.
	if s.leads() && max(s.fsm.AppliedIndex(), s.raft.CommitIndex()) > after+leaderLagMax && s.leadsWithFellows() {
		return peer.LogBatch{}, fmt.Errorf("%w: the leader feeds only replicas within %d entries of it; pull from another voter or a peer", peer.ErrUnavailable, leaderLagMax)
	}
	select {
	case s.pollers <- struct{}{}:
		defer func() { <-s.pollers }()
	default:
		return peer.LogBatch{}, fmt.Errorf("%w: too many log pollers", peer.ErrUnavailable)
	}
	s.polls.Add(1)
	if s.fsm.AppliedIndex() <= after && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		_ = s.fsm.WaitApplied(wctx, after+1)
		cancel()
	}
	entries, ok := s.fsm.Since(after, peer.MaxLogBatch)
	if len(entries) > leaderLagMax && s.leads() && s.leadsWithFellows() {
		// The leader's own applied index may have run ahead since the
		// check (it replays its log after a restart): it still sends no
		// more than a caught-up poller needs.
		entries = entries[:leaderLagMax]
	}
	batch := peer.LogBatch{Applied: s.fsm.AppliedIndex(), Hints: s.hints()}
	if !ok {
		info, have := s.ckpt.latest()
		if !have {
			// Nothing to offer one this far behind: have a checkpoint
			// taken (forwarded to the leader), and refuse for now.
			s.ckpt.askSoon()
			return peer.LogBatch{}, fmt.Errorf("%w: log before %d dropped and no checkpoint held yet", peer.ErrUnavailable, s.fsm.LogStart())
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

// leaderLagMax is how far behind its commit index (or its applied
// index, if ahead: the FSM counts only commands) a poller may be and
// still be fed by the leader (leadsWithFellows). A tree head polling the
// leader in steady state lags by the writes of one round trip; one that
// lags more is a replica catching up, which another voter serves. While
// the leader replays its log after a restart, the replicas that restored
// a checkpoint are behind its commit index, though not its applied one,
// and go to the other voters too. A poller that does reach the leader
// costs it at most this many entries per answer: with 256, one replica
// that had half the catalog from a voter still in recovery drew more
// than the catalog's snapshot from the leader (a test failure on a
// loaded host).
const leaderLagMax = 16

// leadsWithFellows reports whether this node leads Raft with fellow
// voters. Such a leader sheds a poll from far behind (more than
// leaderLagMax entries, or before its log: a checkpoint), and answers
// any other with at most leaderLagMax entries: a replica that restarted
// or joined, whose view of the tree put it near the top, is sent to
// another voter, which holds the same log (a leader exists only with a
// quorum, so one is in touch). The leader's egress to replicas then
// stays the tail of the log to the few that poll it, not the catalog
// once per replica that lags, whatever their views of the membership.
func (s *catalogServer) leadsWithFellows() bool {
	if !s.leads() {
		return false
	}
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters := 0
	for _, sv := range f.Configuration().Servers {
		if sv.Suffrage == raft.Voter {
			voters++
		}
	}
	return voters > 1
}

// leads reports whether this node is the Raft leader (a cheap read).
func (s *catalogServer) leads() bool {
	return s.raft != nil && !s.follower.active.Load() && s.raft.State() == raft.Leader
}

// Checkpoint opens a certified checkpoint this node holds.
func (s *catalogServer) Checkpoint(_ context.Context, index uint64) (peer.CheckpointInfo, io.ReadCloser, error) {
	info, rc, err := s.ckpt.open(index)
	if err == nil {
		s.served.Add(1)
		s.servedSize.Add(info.Size)
	}
	return info, rc, err
}

// outOfTouch reports whether this node's catalog may be falling behind
// without it knowing: a Raft follower that has not heard from a leader
// for 20 heartbeat timeouts (loose: a loaded host delays heartbeats), a
// candidate, or a replica whose upstreams stopped answering.
func (s *catalogServer) outOfTouch() bool {
	if s.follower.active.Load() {
		return s.follower.stale()
	}
	switch s.raft.State() {
	case raft.Leader:
		return false
	case raft.Follower:
		return time.Since(s.raft.LastContact()) > 20*s.heartbeat
	}
	return true
}

// touchState describes why outOfTouch answers as it does.
func (s *catalogServer) touchState() string {
	if s.follower.active.Load() {
		return "replica, last answer from an upstream " + time.Since(s.follower.lastAnswer()).Round(time.Millisecond).String() + " ago"
	}
	return "raft " + s.raft.State().String() + ", last contact with a leader " + time.Since(s.raft.LastContact()).Round(time.Millisecond).String() + " ago"
}

// hints names the voters and the leader as this node knows them: from
// Raft on a voter, from its upstream on a replica.
func (s *catalogServer) hints() peer.Hints {
	if s.follower.active.Load() {
		return s.follower.Hints()
	}
	var h peer.Hints
	_, leader := s.raft.LeaderWithID()
	h.Leader = string(leader)
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return h
	}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			h.Voters = append(h.Voters, peer.Voter{ID: string(srv.ID), Peer: s.peerAddr(string(srv.ID))})
		}
	}
	return h
}
