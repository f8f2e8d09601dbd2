package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// A proposal that found no leader (none elected, or the one it was told
// of no longer leads) is retried after a wait that doubles from
// proposeRetryMin to proposeRetryMax, jittered: after a full restart every
// agent's first read barrier looks for a leader at once (in a restart of
// 200 agents the leader answered 2,543 forwarded requests, retried every
// 50 ms before).
const (
	proposeRetryMin = 50 * time.Millisecond
	proposeRetryMax = time.Second
)

// propose commits a command through Raft — locally on the leader, or
// forwarded to it — and returns once this node's FSM has applied it.
// Every write of the node goes through here.
func (r *replica) propose(ctx context.Context, cmd any) (*raftfsm.Result, error) {
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.writeTimeout)
	defer cancel()
	start := time.Now()
	var res *raftfsm.Result
	for wait := proposeRetryMin; ; wait = min(2*wait, proposeRetryMax) {
		res, err = r.proposeOnce(ctx, data)
		// A no-op (Sync's read barrier) may be committed twice: it is
		// proposed again even when the first outcome is unknown.
		if err == nil || !errors.Is(err, errRetry) && !(cmd == nil && errors.Is(err, errUnknownOutcome)) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("propose: no leader within %s: %w", r.writeTimeout, catalog.ErrNoQuorum)
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
	}
	if err != nil {
		return nil, err
	}
	if err := r.waitApplied(ctx, res.Index); err != nil {
		return nil, fmt.Errorf("propose: %w: %w", catalog.ErrUnavailable, err)
	}
	if res.Err == nil {
		fillCommitted(res, cmd)
	}
	if r.observe != nil {
		kind := writeLocal
		if cmd == nil {
			kind = writeBarrier
		}
		r.observe(kind, time.Since(start))
	}
	return res, nil
}

// waitApplied waits until this node applied idx: on a replica through
// its follower, which leaves an upstream that holds the entry back.
func (r *replica) waitApplied(ctx context.Context, idx uint64) error {
	if r.follower.active.Load() {
		return r.follower.waitFor(ctx, idx)
	}
	return r.fsm.WaitApplied(ctx, idx)
}

// fillCommitted gives a forwarded write's result (whose answer carries
// no object) the member or document the command stored, as the FSM
// stored it: the proposed one at revision res.Index, through JSON as the
// log carries it. Looking it up in the replica instead could find a later
// write's version, or nothing if it was deleted meanwhile.
func fillCommitted(res *raftfsm.Result, cmd any) {
	if res.Image == nil {
		res.Image = committedImage(cmd, res.Index)
	}
	switch c := cmd.(type) {
	case *raftfsm.PutMember:
		if res.Member == nil && c.Member != nil {
			var m catalog.Member
			if roundTrip(c.Member, &m) {
				m.Revision = res.Index
				res.Member = &m
			}
		}
	case *raftfsm.PutDoc:
		if res.Doc == nil && c.Doc != nil {
			var d catalog.Doc
			if roundTrip(c.Doc, &d) {
				d.Revision = res.Index
				res.Doc = &d
			}
		}
	}
}

// roundTrip copies in into out through JSON.
func roundTrip(in, out any) bool {
	data, err := json.Marshal(in)
	return err == nil && json.Unmarshal(data, out) == nil
}

// committedImage is the image a create or update committed at index idx
// stored, or nil (a forwarded write's answer carries no image): the proposed
// image at revision idx, as the FSM applies it. Looking it up in the
// replica instead could find a later write's version, or nothing if the
// image was deleted meanwhile.
func committedImage(cmd any, idx uint64) *catalog.Image {
	var img *catalog.Image
	switch c := cmd.(type) {
	case *raftfsm.CreateImage:
		img = c.Image
	case *raftfsm.UpdateImage:
		img = c.Image
	}
	if img == nil {
		return nil
	}
	// Through JSON, as the log carries it, so the answer is exactly what
	// every replica holds.
	data, err := json.Marshal(img)
	if err != nil {
		return nil
	}
	out := &catalog.Image{}
	if err := json.Unmarshal(data, out); err != nil {
		return nil
	}
	out.Revision = idx
	return out
}

// errRetry marks a failure after which the command certainly was not
// appended to the Raft log (no leader yet, not the leader any more), so
// proposing it again cannot apply it twice.
var errRetry = errors.New("retry")

// errUnknownOutcome marks a failure after which the command may or may
// not commit.
var errUnknownOutcome = errors.New("outcome unknown")

// notAppended reports whether an Apply error means the entry never
// reached the log. Any other error (leadership lost while committing,
// shutdown) leaves the outcome unknown: the entry may still commit under
// the next leader, so it must not be proposed again — a create would then
// answer 409 for its own image, a PATCH 409 for its own change.
func notAppended(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress)
}

// notSent reports whether a forwarding call failed before the request
// left this node (the leader's port refused the connection).
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (r *replica) proposeOnce(ctx context.Context, data []byte) (*raftfsm.Result, error) {
	if r.IsLeader() {
		timeout := time.Until(deadline(ctx))
		f := r.raft.Apply(data, timeout)
		if err := f.Error(); err != nil {
			if notAppended(err) {
				return nil, fmt.Errorf("apply: %w: %w", errRetry, err)
			}
			if errors.Is(err, raft.ErrLeadershipLost) {
				// Typically a leader cut off from its quorum stepping down.
				return nil, fmt.Errorf("apply: %w: %w: %w", errUnknownOutcome, catalog.ErrNoQuorum, err)
			}
			return nil, fmt.Errorf("apply: %w: %w: %w", errUnknownOutcome, catalog.ErrUnavailable, err)
		}
		return f.Response().(*raftfsm.Result), nil
	}
	leaderPeer := r.leaderPeerAddr()
	if leaderPeer == "" {
		return nil, fmt.Errorf("forward: leader unknown: %w", errRetry)
	}
	var cu *peer.CatchUp
	if r.follower.active.Load() {
		cu = &peer.CatchUp{After: r.fsm.AppliedIndex()}
	}
	r.forwarded.Add(1)
	out, err := r.forward.Apply(ctx, leaderPeer, data, cu)
	if err != nil {
		if ctx.Err() == nil && notSent(err) {
			if r.follower.active.Load() {
				r.follower.forwardFailed(leaderPeer)
			}
			return nil, fmt.Errorf("forward: %w: %w", errRetry, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("forward: %w: %w: %w", errUnknownOutcome, catalog.ErrNoQuorum, err)
		}
		return nil, fmt.Errorf("forward: %w: %w: %w", errUnknownOutcome, catalog.ErrUnavailable, err)
	}
	if out.Code == peer.CodeNotLeader {
		if r.follower.active.Load() {
			r.follower.redirect(out.Leader)
		}
		return nil, fmt.Errorf("forward: %w", errRetry)
	}
	r.follower.catchUp(out.Entries)
	return &raftfsm.Result{Index: out.Index, Err: raftfsm.CodeError(out.Code, out.Msg)}, nil
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(10 * time.Second)
}

// leaderPeerAddr returns the internal HTTP address of the current leader
// ("" when unknown), from the leader's gossip metadata; on a replica,
// the leader it was told of, or a voter (which redirects).
func (r *replica) leaderPeerAddr() string {
	if r.follower.active.Load() {
		return r.follower.forwardTarget()
	}
	if r.raft == nil {
		return ""
	}
	_, id := r.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	return r.peerAddr(string(id))
}

// Sync makes the local replica current: it commits a no-op through the
// leader and waits until this node has applied it (a read barrier).
func (r *replica) Sync(ctx context.Context) error {
	r.barriers.Add(1)
	_, err := r.propose(ctx, nil)
	return err
}

// proposeCmd commits cmd and returns the command's own refusal, if any
// (the checkpoints' proposals).
func (r *replica) proposeCmd(ctx context.Context, cmd any) error {
	res, err := r.propose(ctx, cmd)
	if err != nil {
		return err
	}
	return res.Err
}
