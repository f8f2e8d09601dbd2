package raftfsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// TestSnapshotDeterministic checks that two replicas that applied the
// same log, and a third restored from the first's snapshot, write
// byte-identical snapshots, and that a snapshot is the catalog as it was
// when taken however many writes follow.
func TestSnapshotDeterministic(t *testing.T) {
	build := func() *FSM {
		f := New()
		randomCatalog(t, f, 300, rand.New(rand.NewPCG(41, 42)))
		var victim string
		f.State().Each(func(img *catalog.Image) bool { victim = img.ID; return false })
		apply(t, f, 1000, &PutMember{Member: &catalog.Member{ImageID: victim, MemberID: "p9", Status: "pending"}, Create: true})
		apply(t, f, 1001, &PutDoc{Doc: &catalog.Doc{Kind: "task", ID: "t1", Body: json.RawMessage(`{"b": 2, "a": 1}`)}, Create: true})
		apply(t, f, 1002, &DeleteImage{ID: victim, DeletedAt: time.Unix(7, 0)})
		var other string
		f.State().Each(func(img *catalog.Image) bool { other = img.ID; return false })
		apply(t, f, 1003, &PutMember{Member: &catalog.Member{ImageID: other, MemberID: "p9", Status: "accepted"}, Create: true})
		return f
	}
	persist := func(f *FSM) ([]byte, raft.FSMSnapshot) {
		snap, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil {
			t.Fatal(err)
		}
		return sink.Bytes(), snap
	}
	a, b := build(), build()
	sa, _ := persist(a)
	sb, _ := persist(b)
	if !bytes.Equal(sa, sb) {
		t.Fatal("two replicas of the same log wrote different snapshots")
	}
	c := New()
	if err := c.Restore(io.NopCloser(bytes.NewReader(sa))); err != nil {
		t.Fatal(err)
	}
	if sc, _ := persist(c); !bytes.Equal(sa, sc) {
		t.Fatalf("a restored replica writes a different snapshot:\n%s\n%s", sa, sc)
	}

	// A snapshot taken now and persisted after later writes.
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a.State().Each(func(img *catalog.Image) bool {
		upd := img.Clone()
		upd.Name = strp("changed")
		apply(t, a, a.AppliedIndex()+1, &UpdateImage{Image: upd, ExpectRevision: img.Revision})
		return true
	})
	apply(t, a, a.AppliedIndex()+1, &DeleteDoc{Kind: "task", ID: "t1"})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), sa) {
		t.Fatal("writes after Snapshot changed what it persisted")
	}
}

// TestReadsDuringWrites reads and snapshots while another goroutine
// writes (run with -race): every read sees one whole version.
func TestReadsDuringWrites(t *testing.T) {
	f := New()
	randomCatalog(t, f, 200, rand.New(rand.NewPCG(51, 52)))
	n := f.State().Count()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := f.State()
				for _, q := range []catalog.ListQuery{{}, {SortKey: "status"}, {SortKey: "name", Then: []catalog.SortSpec{{Key: "size"}}}} {
					if imgs, err := st.List(q); err != nil || len(imgs) < n {
						t.Errorf("list %+v: %d images, %v", q, len(imgs), err)
						return
					}
				}
				snap, _ := f.Snapshot()
				if err := snap.Persist(&memSink{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	idx := uint64(10_000)
	for i := range 300 {
		idx++
		img := newImage(fmt.Sprintf("w-%d", i), time.Unix(int64(i), 0).UTC())
		apply(t, f, idx, &CreateImage{Image: img})
		idx++
		upd := mustImage(t, f, img.ID)
		upd.Name = strp(fmt.Sprint(i))
		apply(t, f, idx, &UpdateImage{Image: upd, ExpectRevision: upd.Revision})
	}
	close(stop)
	wg.Wait()
}
