package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// TestCheckpointDivergenceIsCaught: a capture whose digest differs from
// the certified one is dropped, counted and reported (a replica then
// installs a certified checkpoint), never kept or served; a matching one
// is kept, and only the last two are.
func TestCheckpointDivergenceIsCaught(t *testing.T) {
	store, err := newCheckpointStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fsm := raftfsm.New()
	c := newCheckpoints(store, fsm, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.isLeader = func() bool { return false }
	diverged := 0
	c.onDiverged = func() { diverged++ }
	ctx := context.Background()
	capture := func(idx uint64) peer.CheckpointInfo {
		t.Helper()
		snap, _ := fsm.Snapshot()
		c.capture(ctx, idx, snap)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.own[idx]
	}
	own := capture(5)
	bad := own
	bad.Digest = "00" + own.Digest[2:]
	c.certify(bad)
	if diverged != 1 || c.diverged.Load() != 1 {
		t.Fatalf("diverged %d / %d, want 1", diverged, c.diverged.Load())
	}
	if _, _, err := c.open(5); err == nil {
		t.Fatal("a diverged checkpoint is served")
	}
	if _, err := store.open(5); err == nil {
		t.Fatal("a diverged checkpoint stays on disk")
	}
	for _, idx := range []uint64{6, 7, 8} {
		info := capture(idx)
		c.certify(info)
		rc, err := store.open(idx)
		if err != nil {
			t.Fatalf("certified checkpoint %d: %v", idx, err)
		}
		rc.Close()
	}
	if got := len(store.certified()); got != keptCheckpoints {
		t.Fatalf("%d certified checkpoints on disk, want %d", got, keptCheckpoints)
	}
	if l, ok := c.latest(); !ok || l.Index != 8 {
		t.Fatalf("latest %+v %v", l, ok)
	}
	// A checkpoint from a peer with the wrong bytes is refused.
	info, rc, err := c.open(8)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	data[0] ^= 1
	info.Index = 9
	if err := c.install(info, bytes.NewReader(data)); err == nil {
		t.Fatal("installed a checkpoint that does not match its digest")
	}
}

// TestCatchUpEntries: a forwarded write's answer carries every committed
// entry from the sender's applied index up to the write, or none.
func TestCatchUpEntries(t *testing.T) {
	fsm := raftfsm.New()
	for i := uint64(1); i <= 100; i++ {
		data, err := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{ID: fmt.Sprintf("img-%d", i), Status: catalog.StatusQueued}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fsm.ApplyEntry(raftfsm.Entry{Index: i, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		after, upTo uint64
		want        int
	}{
		{90, 95, 5}, // the entries after 90 up to the write at 95
		{94, 95, 1}, // just the write
		{95, 95, 0}, // nothing the sender lacks
		{100 - peer.MaxCatchUpEntries, 100, peer.MaxCatchUpEntries}, // as many as allowed
		{99 - peer.MaxCatchUpEntries, 100, 0},                       // one too many: none
		{50, 101, 0},                                                // not applied here: none
	} {
		got := catchUpEntries(fsm, tc.after, tc.upTo)
		if len(got) != tc.want {
			t.Fatalf("catch up after %d to %d: %d entries, want %d", tc.after, tc.upTo, len(got), tc.want)
		}
		for i, e := range got {
			if e.Index != tc.after+uint64(i)+1 {
				t.Fatalf("catch up after %d: entry %d has index %d", tc.after, i, e.Index)
			}
		}
	}
}
