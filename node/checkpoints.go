package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// checkpoints captures the catalog at every Checkpoint command the log
// carries, certifies each capture against the digest the leader commits
// for it, and keeps the last two certified ones to feed agents that are
// too far behind for the log (checkpoint_store.go keeps the files).
//
// Every replica applies the same commands, so at a Checkpoint's index
// every replica holds the same catalog, and the snapshot encoding is
// deterministic: every replica writes the same bytes. The leader writes
// its own, then commits their digest; a replica whose capture differs has
// diverged, which it logs and repairs by installing a certified
// checkpoint from a peer (onDiverged).
type checkpoints struct {
	store *checkpointStore
	fsm   *raftfsm.FSM
	log   *slog.Logger
	// isLeader and propose: the leader triggers checkpoints and commits
	// their digests.
	isLeader func() bool
	propose  func(ctx context.Context, cmd any) error
	// every is how many log entries the leader lets pass between
	// checkpoints; maxLogBytes how many bytes of commands kept for
	// downstream agents make it take one sooner.
	every       uint64
	maxLogBytes int
	// onDiverged is called when this node's capture differs from the
	// certified one (from the worker goroutine).
	onDiverged func()

	mu        sync.Mutex
	queue     []func(context.Context) // captures and certifications, in log order
	wake      chan struct{}
	own       map[uint64]peer.CheckpointInfo // captured here, not yet certified
	held      []peer.CheckpointInfo          // certified and held: newest first, at most two
	lastCap   uint64                         // index of the last Checkpoint command applied
	asked     time.Time                      // when this node last asked for a checkpoint
	ask       bool                           // a poller needs a checkpoint (askSoon)
	diverged  atomic.Int64
	certified atomic.Int64
}

// keptCheckpoints is how many certified checkpoints a node keeps: the
// log it keeps for downstream agents reaches back to the older one, so
// an agent that restarts from the previous checkpoint still continues
// from the log.
const keptCheckpoints = 2

func newCheckpoints(store *checkpointStore, fsm *raftfsm.FSM, log *slog.Logger) *checkpoints {
	c := &checkpoints{store: store, fsm: fsm, log: log, wake: make(chan struct{}, 1), own: map[uint64]peer.CheckpointInfo{}}
	fsm.SetCheckpointHooks(raftfsm.CheckpointHooks{Capture: c.onCapture, Certify: c.onCertify})
	return c
}

// enqueue runs fn on the worker, in order; it never blocks Apply.
func (c *checkpoints) enqueue(fn func(context.Context)) {
	c.mu.Lock()
	c.queue = append(c.queue, fn)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpoints) onCapture(idx uint64, snap raft.FSMSnapshot) {
	c.mu.Lock()
	c.lastCap = max(c.lastCap, idx)
	c.mu.Unlock()
	c.enqueue(func(ctx context.Context) { c.capture(ctx, idx, snap) })
}

func (c *checkpoints) onCertify(d raftfsm.CheckpointDigest) {
	c.enqueue(func(ctx context.Context) {
		c.certify(peer.CheckpointInfo{Index: d.Index, Size: d.Size, Digest: d.Digest})
	})
}

// run works the queue and, on the leader, triggers checkpoints, until ctx
// ends.
func (c *checkpoints) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for {
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.mu.Unlock()
				break
			}
			fn := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			fn(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-t.C:
			c.maybeTrigger(ctx)
		}
		c.mu.Lock()
		// A node asks at most once every few seconds.
		ask := c.ask && time.Since(c.asked) > 5*time.Second
		if ask {
			c.ask, c.asked = false, time.Now()
		}
		c.mu.Unlock()
		if ask {
			c.request(ctx)
		}
	}
}

// maybeTrigger commits a Checkpoint when this node leads and enough log
// passed since the last one.
func (c *checkpoints) maybeTrigger(ctx context.Context) {
	if !c.isLeader() {
		return
	}
	c.mu.Lock()
	since := c.fsm.AppliedIndex() - min(c.lastCap, c.fsm.AppliedIndex())
	c.mu.Unlock()
	if since >= c.every || since >= 64 && c.fsm.LogBytes() >= c.maxLogBytes {
		c.request(ctx)
	}
}

// request commits a Checkpoint (the leader's trigger, or a poller needs
// one that this node cannot offer).
func (c *checkpoints) request(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.propose(pctx, &raftfsm.Checkpoint{}); err != nil {
		c.log.Debug("checkpoint not committed", "err", err)
	}
}

// askSoon has the worker commit a Checkpoint (a poller needs one that
// this node cannot offer).
func (c *checkpoints) askSoon() {
	c.mu.Lock()
	c.ask = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// capture writes the snapshot taken at idx; the leader then commits its
// digest.
func (c *checkpoints) capture(ctx context.Context, idx uint64, snap raft.FSMSnapshot) {
	defer snap.Release()
	cw, err := c.store.create(idx)
	if err != nil {
		c.log.Warn("checkpoint not written", "index", idx, "err", err)
		return
	}
	if err := snap.Persist(&captureSink{cw: cw}); err != nil {
		c.log.Warn("checkpoint not written", "index", idx, "err", err)
		return
	}
	info, err := cw.commit()
	if err != nil {
		c.log.Warn("checkpoint not written", "index", idx, "err", err)
		return
	}
	c.mu.Lock()
	c.own[idx] = info
	c.mu.Unlock()
	if !c.isLeader() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := &raftfsm.CheckpointDigest{Index: info.Index, Size: info.Size, Digest: info.Digest}
	if err := c.propose(pctx, d); err != nil {
		c.log.Warn("checkpoint digest not committed", "index", idx, "err", err)
	}
}

// certify checks this node's capture at d.Index against the certified
// digest: a match is kept (and the older ones and the log before the
// previous one dropped), a mismatch is divergence.
func (c *checkpoints) certify(d peer.CheckpointInfo) {
	c.mu.Lock()
	own, ok := c.own[d.Index]
	delete(c.own, d.Index)
	for idx := range c.own {
		if idx < d.Index { // never certified: their leader went away
			delete(c.own, idx)
			c.store.remove(idx)
		}
	}
	for _, h := range c.held {
		if h.Index == d.Index {
			ok = false // certified twice (a new leader): nothing to do
		}
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	if own != d {
		c.diverged.Add(1)
		c.store.remove(d.Index)
		c.log.Error("catalog replica diverged: its checkpoint differs from the certified one",
			"index", d.Index, "digest", own.Digest, "certified", d.Digest, "size", own.Size, "certified_size", d.Size)
		if c.onDiverged != nil {
			c.onDiverged()
		}
		return
	}
	if err := c.store.certify(d); err != nil {
		c.log.Warn("checkpoint not recorded", "index", d.Index, "err", err)
		c.store.remove(d.Index)
		return
	}
	c.certified.Add(1)
	c.keep(d)
}

// keep records a certified checkpoint this node holds, drops the ones
// beyond keptCheckpoints and trims the log it keeps to the oldest kept.
func (c *checkpoints) keep(d peer.CheckpointInfo) {
	c.mu.Lock()
	c.held = append([]peer.CheckpointInfo{d}, c.held...)
	var drop []peer.CheckpointInfo
	if len(c.held) > keptCheckpoints {
		drop = c.held[keptCheckpoints:]
		c.held = c.held[:keptCheckpoints]
	}
	oldest := c.held[len(c.held)-1]
	c.mu.Unlock()
	for _, h := range drop {
		c.store.remove(h.Index)
	}
	if len(c.held) == keptCheckpoints {
		c.fsm.TrimLog(oldest.Index)
	}
}

// latest returns the newest certified checkpoint held, if any.
func (c *checkpoints) latest() (peer.CheckpointInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) == 0 {
		return peer.CheckpointInfo{}, false
	}
	return c.held[0], true
}

// open returns the certified checkpoint at idx held here.
func (c *checkpoints) open(idx uint64) (peer.CheckpointInfo, io.ReadCloser, error) {
	c.mu.Lock()
	var info peer.CheckpointInfo
	found := false
	for _, h := range c.held {
		if h.Index == idx {
			info, found = h, true
		}
	}
	c.mu.Unlock()
	if !found {
		return info, nil, fmt.Errorf("checkpoint %d: %w", idx, peer.ErrNotFound)
	}
	rc, err := c.store.open(idx)
	if err != nil {
		return info, nil, fmt.Errorf("%w: %w", peer.ErrNotFound, err)
	}
	return info, rc, nil
}

// install writes a checkpoint received from a peer, verifies it against
// the certified info, and restores the catalog from it.
func (c *checkpoints) install(info peer.CheckpointInfo, body io.Reader) error {
	cw, err := c.store.create(info.Index)
	if err != nil {
		return err
	}
	if _, err := io.Copy(cw, io.LimitReader(body, info.Size+1)); err != nil {
		cw.abort()
		return fmt.Errorf("receive checkpoint %d: %w", info.Index, err)
	}
	got, err := cw.commit()
	if err != nil {
		return err
	}
	if got != info {
		c.store.remove(info.Index)
		return fmt.Errorf("checkpoint %d from peer (%d bytes, %s): %w", info.Index, got.Size, got.Digest, errCheckpointMismatch)
	}
	if err := c.store.certify(info); err != nil {
		c.store.remove(info.Index)
		return err
	}
	if err := c.restore(info); err != nil {
		return err
	}
	c.keep(info)
	return nil
}

// restore replaces the catalog with the checkpoint at info.Index.
func (c *checkpoints) restore(info peer.CheckpointInfo) error {
	rc, err := c.store.open(info.Index)
	if err != nil {
		return err
	}
	if err := c.fsm.Restore(rc); err != nil {
		return fmt.Errorf("restore checkpoint %d: %w", info.Index, err)
	}
	if got := c.fsm.AppliedIndex(); got < info.Index {
		return fmt.Errorf("restore checkpoint %d: applied index %d: %w", info.Index, got, errCheckpointMismatch)
	}
	return nil
}

// loadHeld takes up the certified checkpoints on disk that still match
// their digests (a voter starting: Raft restores its catalog, but the
// checkpoints can still feed others).
func (c *checkpoints) loadHeld() {
	var held []peer.CheckpointInfo
	for _, info := range c.store.certified() {
		if len(held) < keptCheckpoints && c.store.verify(info) == nil {
			held = append(held, info)
			continue
		}
		c.store.remove(info.Index)
	}
	c.mu.Lock()
	c.held = held
	if len(held) > 0 {
		c.lastCap = max(c.lastCap, held[0].Index)
	}
	c.mu.Unlock()
}

// restoreLocal restores the catalog from the newest certified checkpoint
// on disk that still matches its digest (an agent outside Raft starting
// up); it reports whether it restored one.
func (c *checkpoints) restoreLocal() (bool, error) {
	restored := false
	for _, info := range c.store.certified() {
		if restored {
			c.store.remove(info.Index) // older than the one restored
			continue
		}
		if err := c.store.verify(info); err != nil {
			c.log.Warn("dropping a checkpoint that no longer matches its digest", "index", info.Index, "err", err)
			c.store.remove(info.Index)
			continue
		}
		if err := c.restore(info); err != nil {
			return false, err
		}
		c.mu.Lock()
		c.held = []peer.CheckpointInfo{info}
		c.lastCap = info.Index
		c.mu.Unlock()
		restored = true
	}
	return restored, nil
}

// captureSink adapts a checkpointWriter to what raft.FSMSnapshot.Persist
// writes to.
type captureSink struct{ cw *checkpointWriter }

func (s *captureSink) Write(p []byte) (int, error) { return s.cw.Write(p) }
func (s *captureSink) Close() error                { return nil }
func (s *captureSink) ID() string                  { return fmt.Sprintf("checkpoint-%d", s.cw.idx) }
func (s *captureSink) Cancel() error {
	s.cw.abort()
	return errors.New("checkpoint cancelled")
}
