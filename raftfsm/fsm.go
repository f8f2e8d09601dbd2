package raftfsm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// Change describes one image change applied by the FSM, for observers
// (the node uses it to announce chunks, collect garbage and resume work).
type Change struct {
	Index uint64
	ID    string
	// DocKind is set when the change is to a document (kind DocKind, id
	// ID) rather than an image; Image and Prev are then nil.
	DocKind string
	// Image is the image after the change; nil when it was deleted.
	Image *catalog.Image
	// Prev is the image before the change; nil when it was created.
	Prev *catalog.Image
}

// FSM is the hashicorp/raft finite state machine of the catalog.
type FSM struct {
	state   atomic.Pointer[State]
	applied atomic.Uint64

	mu       sync.Mutex
	waitCh   chan struct{} // closed and replaced after every apply
	observer func(Change)
	hooks    CheckpointHooks

	// ring keeps recent commands for agents downstream (ring.go).
	ring ring
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM over an empty catalog.
func New() *FSM {
	f := &FSM{waitCh: make(chan struct{})}
	f.state.Store(NewState())
	return f
}

// SetObserver registers fn to be called, synchronously from Apply and in
// log order, for every applied change. fn must not block.
func (f *FSM) SetObserver(fn func(Change)) {
	f.mu.Lock()
	f.observer = fn
	f.mu.Unlock()
}

// State returns the current catalog. It is safe for concurrent reads.
func (f *FSM) State() *State { return f.state.Load() }

// AppliedIndex returns the index of the last command applied.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// WaitApplied blocks until the command at index idx (or a later one) has
// been applied, or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		f.mu.Lock()
		ch := f.waitCh
		f.mu.Unlock()
		if f.applied.Load() >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for index %d (applied %d): %w", idx, f.applied.Load(), ctx.Err())
		}
	}
}

// Apply applies one committed log entry. It returns a *Result.
func (f *FSM) Apply(l *raft.Log) any {
	return f.record(l.Index, l.Data, applier{}.apply(f.state.Load(), l.Index, l.Data))
}

// record follows up the entry data at index idx, applied with result
// res: the ring of recent entries, the applied index, the checkpoint
// hooks and the observer.
func (f *FSM) record(idx uint64, data []byte, res *Result) *Result {
	f.ring.add(idx, data)
	f.mu.Lock()
	f.applied.Store(idx)
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	obs, hooks := f.observer, f.hooks
	f.mu.Unlock()
	if res.checkpoint && hooks.Capture != nil {
		snap, _ := f.Snapshot()
		hooks.Capture(idx, snap)
	}
	if res.certify != nil && hooks.Certify != nil {
		hooks.Certify(*res.certify)
	}
	if obs != nil && res.Err == nil && res.id != "" {
		if res.docKind != "" {
			obs(Change{Index: idx, ID: res.id, DocKind: res.docKind})
		} else {
			obs(Change{Index: idx, ID: res.id, Image: res.Image, Prev: res.prev})
		}
	}
	return res
}

// markApplied records idx as applied (used by Restore).
func (f *FSM) markApplied(idx uint64) {
	f.mu.Lock()
	if idx > f.applied.Load() {
		f.applied.Store(idx)
	}
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	f.mu.Unlock()
}
