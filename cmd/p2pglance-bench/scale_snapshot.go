package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/raftfsm"
	"github.com/p2pglance/p2pglance/raftfsm/raftbadger"
)

// snapshotResult is how large the leader's catalog snapshot is.
type snapshotResult struct {
	// catalogBytes is the catalog as the FSM writes a snapshot of it
	// (what Raft would send a follower in InstallSnapshot), rebuilt
	// offline from the stopped leader's data directory: its newest
	// snapshot, then every later log entry.
	catalogBytes int64
	images       int
	lastIndex    uint64
	// fileBytes is the newest snapshot file on the leader (state.bin;
	// 0: none yet), taken at fileIndex.
	fileBytes int64
	fileIndex uint64
	err       string // why catalogBytes could not be measured
}

// catalogSnapshot measures the catalog snapshot of a stopped agent whose
// Raft directory (log store and snapshots/) is dir.
func catalogSnapshot(dir string) snapshotResult {
	var r snapshotResult
	if err := r.measure(dir); err != nil {
		r.err = err.Error()
	}
	return r
}

func (r *snapshotResult) measure(dir string) error {
	fsm := raftfsm.New()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		return fmt.Errorf("open snapshots: %w", err)
	}
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	from := uint64(0)
	if len(metas) > 0 {
		meta, rc, err := snaps.Open(metas[0].ID)
		if err != nil {
			return fmt.Errorf("open snapshot: %w", err)
		}
		r.fileBytes, r.fileIndex = meta.Size, meta.Index
		err = fsm.Restore(rc)
		if err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
		from = meta.Index + 1
	}
	store, err := raftbadger.Open(dir, raftbadger.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	defer store.Close()
	first, err := store.FirstIndex()
	if err != nil {
		return err
	}
	last, err := store.LastIndex()
	if err != nil {
		return err
	}
	for i := max(from, first); i <= last && i > 0; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			return fmt.Errorf("raft log entry %d: %w", i, err)
		}
		if l.Type == raft.LogCommand {
			fsm.Apply(&l)
		}
	}
	r.lastIndex = max(last, r.fileIndex)
	r.images = fsm.State().Count()
	snap, err := fsm.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Release()
	sink := &countingSink{}
	if err := snap.Persist(sink); err != nil {
		return fmt.Errorf("persist snapshot: %w", err)
	}
	r.catalogBytes = sink.n
	return nil
}

// countingSink is a raft.SnapshotSink that only counts bytes.
type countingSink struct{ n int64 }

var _ raft.SnapshotSink = (*countingSink)(nil)

func (s *countingSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
func (s *countingSink) Close() error                { return nil }
func (s *countingSink) ID() string                  { return "count" }
func (s *countingSink) Cancel() error               { return nil }

var _ io.Writer = (*countingSink)(nil)
