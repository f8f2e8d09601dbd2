package node

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// memSink is a raft.SnapshotSink into memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

// TestLockedImages follows the images holding an upload lock through
// creates, updates, deletes and a restored snapshot, checked against a
// full pass over the catalog each time.
func TestLockedImages(t *testing.T) {
	fsm := raftfsm.New()
	locked := newLockedImages(fsm)
	fsm.SetObserver(locked.note)
	var idx uint64
	apply := func(f *raftfsm.FSM, cmd any) {
		t.Helper()
		data, err := raftfsm.Encode(cmd)
		if err != nil {
			t.Fatal(err)
		}
		idx++
		if res := f.Apply(&raft.Log{Index: idx, Data: data, Type: raft.LogCommand}).(*raftfsm.Result); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	lock := &catalog.UploadLock{Node: "n1", Session: "s1", Started: time.Unix(1, 0).UTC()}
	image := func(id string, l *catalog.UploadLock) *catalog.Image {
		st := catalog.StatusQueued
		if l != nil {
			st = catalog.StatusSaving
		}
		return &catalog.Image{ID: id, Status: st, Tags: []string{}, Upload: l}
	}
	update := func(id string, l *catalog.UploadLock) {
		t.Helper()
		cur, err := fsm.State().Image(id)
		if err != nil {
			t.Fatal(err)
		}
		next := image(id, l)
		apply(fsm, &raftfsm.UpdateImage{Image: next, ExpectRevision: cur.Revision})
	}
	check := func(want ...string) {
		t.Helper()
		var got, full []string
		locked.each(func(img *catalog.Image) bool {
			got = append(got, img.ID)
			return true
		})
		fsm.State().Each(func(img *catalog.Image) bool {
			if img.Upload != nil {
				full = append(full, img.ID)
			}
			return true
		})
		slices.Sort(got)
		slices.Sort(full)
		if !slices.Equal(got, want) || !slices.Equal(full, want) {
			t.Fatalf("locked images %q (a full pass: %q), want %q", got, full, want)
		}
	}

	apply(fsm, &raftfsm.CreateImage{Image: image("a", nil)})
	apply(fsm, &raftfsm.CreateImage{Image: image("b", lock)})
	check("b") // built from the catalog
	update("a", lock)
	apply(fsm, &raftfsm.CreateImage{Image: image("c", lock)})
	check("a", "b", "c") // followed from the changes
	update("b", nil)
	apply(fsm, &raftfsm.DeleteImage{ID: "c", DeletedAt: time.Unix(2, 0).UTC()})
	check("a")

	// A restored snapshot replaces the catalog without a change for
	// each image: the set is rebuilt.
	other := raftfsm.New()
	apply(other, &raftfsm.CreateImage{Image: image("d", lock)})
	apply(other, &raftfsm.CreateImage{Image: image("e", nil)})
	snap, err := other.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if err := fsm.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	check("d")
	update("e", lock)
	check("d", "e")
}
