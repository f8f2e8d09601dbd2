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
	put := func(s string) chunkstore.Digest {
		d := chunkstore.Sum([]byte(s))
		if err := chunks.Put(ctx, d, []byte(s)); err != nil {
			t.Fatal(err)
		}
		return d
	}
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
	c := newCollector(collectorDeps{
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), interval: time.Hour, orphanGrace: time.Hour, deleted: &deleted,
		state: fsm.State, ready: ready.Load, chunks: chunks, inflight: inflight,
		enforceBudget: func(context.Context) {}, // collect never evicts: only the loop does
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
