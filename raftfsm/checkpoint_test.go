package raftfsm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
)

// logOf encodes a catalog's worth of commands: images with properties,
// members, documents, updates and deletes, then a Checkpoint.
func logOf(t *testing.T, n int, seed uint64) []Entry {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	base := time.Unix(1700000000, 0).UTC()
	var out []Entry
	add := func(cmd any) {
		data, err := Encode(cmd)
		if err != nil {
			t.Fatal(err)
		}
		// Raft's own entries (no-ops, configuration) leave gaps.
		idx := uint64(1)
		if len(out) > 0 {
			idx = out[len(out)-1].Index + 1 + uint64(rng.IntN(2))
		}
		out = append(out, Entry{Index: idx, Data: data})
	}
	for i := range n {
		img := newImage(fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), base.Add(time.Duration(i)*time.Second))
		img.Properties = map[string]string{"os_distro": "debian", fmt.Sprintf("k%d", rng.IntN(9)): "v", "hw_disk_bus": "virtio"}
		img.Tags = []string{"b", "a"}
		add(&CreateImage{Image: img})
		if i%3 == 0 {
			add(&PutMember{Member: &catalog.Member{ImageID: img.ID, MemberID: fmt.Sprintf("p%d", i), Status: "pending", CreatedAt: base, UpdatedAt: base}, Create: true})
		}
		if i%5 == 0 {
			add(&DeleteImage{ID: img.ID, DeletedAt: base})
		}
	}
	add(&Checkpoint{})
	return out
}

// TestCheckpointsAreByteIdentical applies one log to two FSMs, the way a
// voter and a replica do: the checkpoint each captures at the Checkpoint
// command must be the same bytes, or certification would call every
// replica diverged.
func TestCheckpointsAreByteIdentical(t *testing.T) {
	entries := logOf(t, 300, 7)
	var captured [2][]byte
	for k := range 2 {
		f := New()
		f.SetCheckpointHooks(CheckpointHooks{Capture: func(idx uint64, snap raft.FSMSnapshot) {
			if idx != entries[len(entries)-1].Index {
				t.Errorf("capture at %d, want %d", idx, entries[len(entries)-1].Index)
			}
			var sink memSink
			if err := snap.Persist(&sink); err != nil {
				t.Fatal(err)
			}
			captured[k] = sink.Bytes()
		}})
		for _, e := range entries {
			if k == 0 {
				f.Apply(&raft.Log{Index: e.Index, Data: e.Data, Type: raft.LogCommand})
			} else if _, err := f.ApplyEntry(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(captured[0]) == 0 || !bytes.Equal(captured[0], captured[1]) {
		t.Fatalf("captures differ (%d and %d bytes)", len(captured[0]), len(captured[1]))
	}
	// Restoring the capture gives an FSM whose own capture is the same
	// bytes again, applied at the same index.
	f := New()
	if err := f.Restore(ioNop(captured[0])); err != nil {
		t.Fatal(err)
	}
	if got, want := f.AppliedIndex(), entries[len(entries)-1].Index; got != want {
		t.Fatalf("restored applied %d, want %d", got, want)
	}
	snap, _ := f.Snapshot()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), captured[0]) {
		t.Fatal("a restored FSM's snapshot differs from the checkpoint it restored")
	}
}

func TestCertifyHook(t *testing.T) {
	f := New()
	var got []CheckpointDigest
	f.SetCheckpointHooks(CheckpointHooks{Certify: func(d CheckpointDigest) { got = append(got, d) }})
	res := apply(t, f, 3, &CheckpointDigest{Index: 2, Size: 10, Digest: "ab"})
	if res.Err != nil || len(got) != 1 || got[0] != (CheckpointDigest{Index: 2, Size: 10, Digest: "ab"}) {
		t.Fatalf("certify: %+v %v", got, res.Err)
	}
	if f.AppliedIndex() != 3 {
		t.Fatalf("applied %d", f.AppliedIndex())
	}
}

func TestLogSinceAndTrim(t *testing.T) {
	entries := logOf(t, 40, 3)
	f := New()
	for _, e := range entries {
		if _, err := f.ApplyEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	// Everything from the start.
	all, ok := f.Since(0, 1<<30)
	if !ok || len(all) != len(entries) {
		t.Fatalf("since 0: %d entries, ok %v; want %d", len(all), ok, len(entries))
	}
	// From the middle, in order, and a byte cap still returns one.
	mid := entries[20].Index
	got, ok := f.Since(mid, 1<<30)
	if !ok || len(got) != len(entries)-21 || got[0].Index != entries[21].Index {
		t.Fatalf("since %d: %d entries from %d", mid, len(got), got[0].Index)
	}
	one, _ := f.Since(mid, 1)
	if len(one) != 1 || one[0].Index != entries[21].Index {
		t.Fatalf("capped: %d entries", len(one))
	}
	// An index inside a gap continues with the next command.
	if gap := entries[21].Index - 1; gap > mid {
		if got, _ := f.Since(gap, 1<<30); got[0].Index != entries[21].Index {
			t.Fatalf("since a gap: first %d", got[0].Index)
		}
	}
	// After a trim, older readers are told to take a checkpoint.
	f.TrimLog(mid)
	if _, ok := f.Since(mid-1, 1<<30); ok {
		t.Fatal("since before the trim: want !ok")
	}
	if got, ok := f.Since(mid, 1<<30); !ok || len(got) != len(entries)-21 {
		t.Fatalf("since the trim point: %d entries, ok %v", len(got), ok)
	}
	if f.LogStart() != mid {
		t.Fatalf("log start %d, want %d", f.LogStart(), mid)
	}
	// Nothing newer than the last: empty, ok.
	if got, ok := f.Since(f.AppliedIndex(), 1<<30); !ok || len(got) != 0 {
		t.Fatalf("since applied: %d entries, ok %v", len(got), ok)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func ioNop(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }

// An entry from a peer that does not decode is refused and changes
// nothing: neither the applied index nor the ring a downstream reads.
func TestApplyEntryRefusesGarbage(t *testing.T) {
	entries := logOf(t, 3, 3)
	f := New()
	if _, err := f.ApplyEntry(entries[0]); err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, {byte(CmdCreateImage)}, {byte(CmdCreateImage), '{', 'x'}, {0x7e, '{', '}'}} {
		if _, err := f.ApplyEntry(Entry{Index: entries[0].Index + 1, Data: data}); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("entry %q: %v, want ErrBadCommand", data, err)
		}
	}
	if got := f.AppliedIndex(); got != entries[0].Index {
		t.Fatalf("applied index %d after refused entries, want %d", got, entries[0].Index)
	}
	if got, ok := f.Since(0, 1<<20); !ok || len(got) != 1 {
		t.Fatalf("the ring holds %d entries (ok %v), want only the applied one", len(got), ok)
	}
}
