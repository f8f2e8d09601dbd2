package node

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// TestCollectorKeepsReferencedAndProtectedChunks drives the collector
// over its narrow dependencies alone: a chunk an image references stays,
// a chunk an upload in progress protects stays until its grace is over,
// every other chunk goes; and nothing goes before the replica is ready.
func TestCollectorKeepsReferencedAndProtectedChunks(t *testing.T) {
	ctx := context.Background()
	chunks := chunkstore.NewMemStore()
	put := func(s string) chunkstore.Digest { return putChunk(t, chunks, s) }
	referenced, pushed, garbage := put("referenced"), put("pushed"), put("garbage")

	fsm := raftfsm.New()
	cmd, err := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{
		ID: "img-1", Status: catalog.StatusActive,
		Manifest: &catalog.Manifest{Chunks: []catalog.ChunkRef{{Digest: referenced.String(), Size: 10}}, Size: 10},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res := fsm.Apply(&raft.Log{Index: 1, Data: cmd, Type: raft.LogCommand}).(*raftfsm.Result); res.Err != nil {
		t.Fatal(res.Err)
	}

	inflight := newInflightSet()
	inflight.protect("img-2", pushed) // an upload this replica has not seen yet
	var ready atomic.Bool
	var deleted atomic.Int64
	c := testCollector(collectorDeps{
		deleted: &deleted, state: fsm.State, ready: ready.Load, applied: fsm.AppliedIndex, chunks: chunks, inflight: inflight,
	})
	has := func(d chunkstore.Digest) bool {
		ok, err := chunks.Has(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if n, err := c.collect(ctx); err != nil || n != 0 || !has(garbage) {
		t.Fatalf("collect before ready: %d deleted, %v; garbage still held %v", n, err, has(garbage))
	}
	ready.Store(true)
	if n, err := c.collect(ctx); err != nil || n != 1 {
		t.Fatalf("collect: %d deleted, %v; want 1", n, err)
	}
	if !has(referenced) || !has(pushed) || has(garbage) {
		t.Fatalf("after collect: referenced %v, pushed %v, garbage %v; want true, true, false", has(referenced), has(pushed), has(garbage))
	}
	// Its grace over, the push is an orphan: collected and forgotten.
	c.orphanGrace = 0
	if n, err := c.collect(ctx); err != nil || n != 1 || has(pushed) {
		t.Fatalf("collect after the grace: %d deleted, %v; pushed still held %v", n, err, has(pushed))
	}
	inflight.hold(func(protected map[chunkstore.Digest]bool) {
		if len(protected) != 0 {
			t.Errorf("the orphaned upload is still protected: %v", protected)
		}
	})
	if got := deleted.Load(); got != 2 {
		t.Errorf("deleted counter %d, want 2", got)
	}
}

// TestCollectorRacesACommit runs a pass while an upload commits and
// another begins: the catalog the pass first reads misses the commit,
// whose upload then drops its protection (the race that once lost a
// staged image's chunks), and a new upload protects a chunk the pass has
// already judged garbage. Neither chunk may go; real garbage still does.
func TestCollectorRacesACommit(t *testing.T) {
	ctx := context.Background()
	chunks := chunkstore.NewMemStore()
	put := func(s string) chunkstore.Digest { return putChunk(t, chunks, s) }
	staged, reused, garbage := put("staged"), put("reused"), put("garbage")
	before := raftfsm.New()
	after := raftfsm.New()
	cmd, err := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{
		ID: "img-2", Status: catalog.StatusQueued,
		Staging: &catalog.Manifest{Chunks: []catalog.ChunkRef{{Digest: staged.String(), Size: 6}}, Size: 6},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res := after.Apply(&raft.Log{Index: 1, Data: cmd, Type: raft.LogCommand}).(*raftfsm.Result); res.Err != nil {
		t.Fatal(res.Err)
	}
	inflight := newInflightSet()
	inflight.protect("img-2", staged)
	calls := 0
	state := func() *raftfsm.State {
		calls++
		switch calls {
		case 1: // the stage commits, then unprotects
			inflight.unprotect("img-2")
			return before.State()
		default: // an upload of img-3 stores "reused" again
			inflight.protect("img-3", reused)
			return after.State()
		}
	}
	var deleted atomic.Int64
	c := testCollector(collectorDeps{
		deleted: &deleted, state: state, ready: func() bool { return true }, applied: func() uint64 { return 1 }, chunks: chunks, inflight: inflight,
	})
	if n, err := c.collect(ctx); err != nil || n != 1 {
		t.Fatalf("collect: %d deleted, %v; want 1", n, err)
	}
	for _, tc := range []struct {
		name string
		d    chunkstore.Digest
		want bool
	}{{"staged", staged, true}, {"reused", reused, true}, {"garbage", garbage, false}} {
		if ok, err := chunks.Has(ctx, tc.d); err != nil || ok != tc.want {
			t.Errorf("%s chunk held %v (%v), want %v", tc.name, ok, err, tc.want)
		}
	}
}

// TestCollectorSkipsQuietPasses: once a pass found the store clean, the
// next reads no catalog while nothing changed (no write applied, no chunk
// stored, nothing protected), and runs again as soon as one of them moves.
func TestCollectorSkipsQuietPasses(t *testing.T) {
	ctx := context.Background()
	chunks := chunkstore.NewMemStore()
	fsm := raftfsm.New()
	inflight := newInflightSet()
	reads := 0
	var deleted atomic.Int64
	c := testCollector(collectorDeps{
		deleted: &deleted, state: func() *raftfsm.State { reads++; return fsm.State() },
		ready: func() bool { return true }, applied: fsm.AppliedIndex, chunks: chunks, inflight: inflight,
	})
	pass := func(wantReads bool, wantDeleted int) {
		t.Helper()
		before := reads
		n, err := c.collect(ctx)
		if err != nil || n != wantDeleted || (reads > before) != wantReads {
			t.Fatalf("collect: %d deleted (%v), catalog read %v; want %d, read %v", n, err, reads > before, wantDeleted, wantReads)
		}
	}
	pass(true, 0)  // the first pass reads
	pass(false, 0) // nothing changed
	garbage := chunkstore.Sum([]byte("garbage"))
	if err := chunks.Put(ctx, garbage, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	pass(true, 1) // a chunk arrived
	pass(false, 0)
	inflight.protect("img-1", garbage)
	pass(true, 0) // something is protected: its grace may run out
	inflight.unprotect("img-1")
	pass(true, 0) // the last pass saw a protection
	pass(false, 0)
	cmd, err := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{ID: "img-2", Status: catalog.StatusQueued}})
	if err != nil {
		t.Fatal(err)
	}
	if res := fsm.Apply(&raft.Log{Index: 1, Data: cmd, Type: raft.LogCommand}).(*raftfsm.Result); res.Err != nil {
		t.Fatal(res.Err)
	}
	pass(true, 0) // a write applied
	pass(false, 0)
}

// testCollector is a collector over d, with a discarded log, hour-long
// interval and grace, and no cache to evict from (collect never evicts:
// only the loop does).
func testCollector(d collectorDeps) *collector {
	d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.interval, d.orphanGrace = time.Hour, time.Hour
	d.enforceBudget = func(context.Context) {}
	return newCollector(d)
}

// putChunk stores s as a chunk and returns its digest.
func putChunk(t *testing.T, chunks chunkstore.Store, s string) chunkstore.Digest {
	t.Helper()
	d := chunkstore.Sum([]byte(s))
	if err := chunks.Put(t.Context(), d, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return d
}
