package node

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
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
	locked := newImageIndex(fsm, lockedKeys)
	fsm.SetObserver(locked.note)
	var idx uint64
	apply := func(f *raftfsm.FSM, cmd any) { t.Helper(); applyCmd(t, f, &idx, cmd) }
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
		locked.each(lockedKey, func(img *catalog.Image) bool {
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

// TestPlacedImages follows the images by durable holder and short
// placement through uploads, repairs and deletes, checked against a full
// pass over the catalog each time.
func TestPlacedImages(t *testing.T) {
	fsm := raftfsm.New()
	placed := newImageIndex(fsm, placedKeys)
	fsm.SetObserver(placed.note)
	var idx uint64
	apply := func(cmd any) { t.Helper(); applyCmd(t, fsm, &idx, cmd) }
	image := func(id string, short bool, holders ...string) *catalog.Image {
		img := &catalog.Image{ID: id, Status: catalog.StatusQueued, Tags: []string{}}
		if len(holders) > 0 {
			img.Status = catalog.StatusActive
			img.Manifest = &catalog.Manifest{Chunks: []catalog.ChunkRef{{Digest: chunkstoreDigest(id), Size: 1}}, Size: 1}
			img.Placement, img.ShortPlacement = holders, short
		}
		return img
	}
	update := func(next *catalog.Image) {
		t.Helper()
		cur, err := fsm.State().Image(next.ID)
		if err != nil {
			t.Fatal(err)
		}
		apply(&raftfsm.UpdateImage{Image: next, ExpectRevision: cur.Revision})
	}
	// check compares every key's images, as the index and a full pass
	// give them, with want (key -> ids).
	check := func(want map[string][]string) {
		t.Helper()
		full := map[string][]string{}
		fsm.State().Each(func(img *catalog.Image) bool {
			for _, k := range placedKeys(img) {
				full[k] = append(full[k], img.ID)
			}
			return true
		})
		got := map[string][]string{}
		for _, k := range placed.keyList() {
			placed.each(k, func(img *catalog.Image) bool {
				got[k] = append(got[k], img.ID)
				return true
			})
		}
		for k := range full {
			slices.Sort(full[k])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(full) != fmt.Sprint(want) {
			t.Fatalf("placed images %v (a full pass: %v), want %v", got, full, want)
		}
	}

	apply(&raftfsm.CreateImage{Image: image("a", false)})
	apply(&raftfsm.CreateImage{Image: image("b", false, "n1", "n2")})
	check(map[string][]string{"n1": {"b"}, "n2": {"b"}}) // built from the catalog
	update(image("a", true, "n2"))
	check(map[string][]string{shortKey: {"a"}, "n1": {"b"}, "n2": {"a", "b"}}) // followed
	update(image("a", false, "n2", "n3"))                                      // topped up
	update(image("b", false, "n3", "n2"))                                      // repaired
	check(map[string][]string{"n2": {"a", "b"}, "n3": {"a", "b"}})
	apply(&raftfsm.DeleteImage{ID: "b", DeletedAt: time.Unix(2, 0).UTC()})
	check(map[string][]string{"n2": {"a"}, "n3": {"a"}})
	var none []string
	placed.each("n1", func(img *catalog.Image) bool {
		none = append(none, img.ID)
		return true
	})
	if len(none) != 0 {
		t.Fatalf("a holder no image names lists %v", none)
	}
}

// chunkstoreDigest is a well-formed digest for a test chunk named s.
func chunkstoreDigest(s string) string { return chunkstore.Sum([]byte(s)).String() }

// applyCmd applies cmd to f at the next index after *idx.
func applyCmd(t *testing.T, f *raftfsm.FSM, idx *uint64, cmd any) {
	t.Helper()
	data, err := raftfsm.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	*idx++
	if res := f.Apply(&raft.Log{Index: *idx, Data: data, Type: raft.LogCommand}).(*raftfsm.Result); res.Err != nil {
		t.Fatal(res.Err)
	}
}
