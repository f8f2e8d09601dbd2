package raftfsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

func strp(s string) *string { return &s }

func apply(t *testing.T, f *FSM, idx uint64, cmd any) *Result {
	t.Helper()
	data, err := Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: idx, Data: data, Type: raft.LogCommand}).(*Result)
}

func newImage(id string, at time.Time) *catalog.Image {
	return &catalog.Image{ID: id, Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared, CreatedAt: at, UpdatedAt: at, Tags: []string{}}
}

func TestApplyLifecycle(t *testing.T) {
	f := New()
	var changes []Change
	f.SetObserver(func(c Change) { changes = append(changes, c) })
	now := time.Unix(1700000000, 0).UTC()

	res := apply(t, f, 1, &CreateImage{Image: newImage("a", now)})
	if res.Err != nil || res.Image.Revision != 1 {
		t.Fatalf("create: %+v", res)
	}
	if res := apply(t, f, 2, &CreateImage{Image: newImage("a", now)}); !errors.Is(res.Err, catalog.ErrExists) {
		t.Fatalf("duplicate create: %v", res.Err)
	}
	upd := res.Image.Clone()
	upd.Name = strp("one")
	if res := apply(t, f, 3, &UpdateImage{Image: upd, ExpectRevision: 1}); res.Err != nil || res.Image.Revision != 3 {
		t.Fatalf("update: %+v", res)
	}
	// A second writer that read revision 1 loses.
	upd2 := upd.Clone()
	upd2.Name = strp("two")
	if res := apply(t, f, 4, &UpdateImage{Image: upd2, ExpectRevision: 1}); !errors.Is(res.Err, catalog.ErrConflict) {
		t.Fatalf("stale update: %v", res.Err)
	}
	got, _ := f.State().Image("a")
	if *got.Name != "one" {
		t.Fatalf("name = %q after refused update", *got.Name)
	}
	if res := apply(t, f, 5, &DeleteImage{ID: "a", DeletedAt: now}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, err := f.State().Image("a"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if res := apply(t, f, 6, &CreateImage{Image: newImage("a", now)}); !errors.Is(res.Err, catalog.ErrExists) {
		t.Fatalf("id reuse after delete: %v", res.Err)
	}
	if res := apply(t, f, 7, nil); res.Err != nil || res.Index != 7 {
		t.Fatalf("noop: %+v", res)
	}
	if f.AppliedIndex() != 7 {
		t.Fatalf("applied = %d", f.AppliedIndex())
	}
	if len(changes) != 3 || changes[2].Image != nil || changes[2].Prev == nil || changes[1].Prev.Revision != 1 {
		t.Fatalf("changes = %+v", changes)
	}
}

func TestUnknownCommand(t *testing.T) {
	f := New()
	// An unknown command with the ignore bit is skipped.
	r := f.Apply(&raft.Log{Index: 1, Data: []byte{byte(IgnoreUnknownFlag | 0x33), '{', '}'}}).(*Result)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("unknown command without the ignore bit did not panic")
		}
	}()
	f.Apply(&raft.Log{Index: 2, Data: []byte{0x33}})
}

func TestWaitApplied(t *testing.T) {
	f := New()
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), 2) }()
	apply(t, f, 1, nil)
	apply(t, f, 2, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitApplied(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// randomCatalog fills an FSM with n images with random attributes.
func randomCatalog(t testing.TB, f *FSM, n int, rng *rand.Rand) {
	base := time.Unix(1700000000, 0)
	owners := []string{"p1", "p2", "p3"}
	formats := []string{"raw", "qcow2", "iso"}
	for i := range n {
		img := newImage(fmt.Sprintf("%08d-0000-0000-0000-000000000000", rng.IntN(1<<30)), base.Add(time.Duration(rng.IntN(n/2+1))*time.Second))
		img.Owner = &owners[rng.IntN(len(owners))]
		if rng.IntN(4) > 0 {
			img.Name = strp(fmt.Sprintf("name-%d", rng.IntN(20)))
		}
		img.DiskFormat = &formats[rng.IntN(len(formats))]
		if rng.IntN(2) == 0 {
			sz := int64(rng.IntN(1000))
			img.Size = &sz
			img.Status = catalog.StatusActive
		}
		img.UpdatedAt = img.CreatedAt.Add(time.Duration(rng.IntN(100)) * time.Second)
		data, _ := Encode(&CreateImage{Image: img})
		f.Apply(&raft.Log{Index: uint64(i + 1), Data: data})
	}
}

// bruteList is the reference answer for List: filter, sort, paginate.
func bruteList(st *State, q catalog.ListQuery) []*catalog.Image {
	var all []*catalog.Image
	st.Each(func(img *catalog.Image) bool { all = append(all, img); return true })
	key := q.SortKey
	if key == "" {
		key = "created_at"
	}
	slices.SortFunc(all, func(a, b *catalog.Image) int {
		c := bytes.Compare(SortIndexKey(key, a), SortIndexKey(key, b))
		if q.Desc {
			return -c
		}
		return c
	})
	start := 0
	if q.Marker != "" {
		for i, img := range all {
			if img.ID == q.Marker {
				start = i + 1
			}
		}
	}
	var out []*catalog.Image
	for _, img := range all[start:] {
		if q.IndexField != "" && !slices.Contains(filterValues(q.IndexField, img), q.IndexValue) {
			continue
		}
		if q.Match != nil && !q.Match(img) {
			continue
		}
		out = append(out, img)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out
}

func ids(imgs []*catalog.Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.ID
	}
	return out
}

func TestListMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := New()
	randomCatalog(t, f, 600, rng)
	st := f.State()
	var all []*catalog.Image
	st.Each(func(img *catalog.Image) bool { all = append(all, img); return true })
	for i := range 400 {
		q := catalog.ListQuery{SortKey: catalog.SortKeys[rng.IntN(len(catalog.SortKeys))], Desc: rng.IntN(2) == 0, Limit: 1 + rng.IntN(40)}
		if rng.IntN(2) == 0 {
			q.Marker = all[rng.IntN(len(all))].ID
		}
		switch rng.IntN(4) {
		case 0:
			q.SortKey = "created_at"
			q.IndexField, q.IndexValue = "owner", []string{"p1", "p2", "p3"}[rng.IntN(3)]
		case 1:
			q.SortKey = "created_at"
			q.IndexField, q.IndexValue = "disk_format", "qcow2"
		case 2:
			q.Match = func(img *catalog.Image) bool { return img.Status == catalog.StatusActive }
		}
		got, err := st.List(q)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteList(st, q)
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("query %d %+v:\n got %v\nwant %v", i, q, ids(got), ids(want))
		}
	}
	if _, err := st.List(catalog.ListQuery{Marker: "missing"}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing marker: %v", err)
	}
}

func TestListPagesCoverEverything(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := New()
	randomCatalog(t, f, 300, rng)
	for _, desc := range []bool{false, true} {
		seen := map[string]bool{}
		q := catalog.ListQuery{SortKey: "name", Desc: desc, Limit: 7}
		for {
			page, err := f.State().List(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range page {
				if seen[img.ID] {
					t.Fatalf("image %s listed twice", img.ID)
				}
				seen[img.ID] = true
			}
			if len(page) < q.Limit {
				break
			}
			q.Marker = page[len(page)-1].ID
		}
		if len(seen) != f.State().Count() {
			t.Fatalf("pages covered %d of %d images", len(seen), f.State().Count())
		}
	}
}

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestSnapshotRestore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	f := New()
	randomCatalog(t, f, 200, rng)
	var victim string
	f.State().Each(func(img *catalog.Image) bool { victim = img.ID; return false })
	apply(t, f, 1000, &DeleteImage{ID: victim, DeletedAt: time.Unix(1, 0)})

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the capture must not leak into the snapshot.
	apply(t, f, 1001, &CreateImage{Image: newImage("late", time.Unix(5, 0))})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if g.AppliedIndex() != 1000 {
		t.Fatalf("restored applied index %d", g.AppliedIndex())
	}
	if !g.State().Tombstoned(victim) {
		t.Fatal("tombstone lost in snapshot")
	}
	if _, err := g.State().Image("late"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatal("image created after the snapshot leaked into it")
	}
	want, _ := f.State().List(catalog.ListQuery{})
	got, _ := g.State().List(catalog.ListQuery{})
	if !slices.Equal(ids(got), ids(want)[:0:0]) && len(got) != f.State().Count()-1 {
		t.Fatalf("restored %d images, want %d", len(got), f.State().Count()-1)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("{\"version\": 99}\n")))); err == nil {
		t.Fatal("restore accepted an unknown snapshot version")
	}
}

func BenchmarkList25(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		f := New()
		randomCatalog(b, f, n, rand.New(rand.NewPCG(7, 8)))
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := f.State().List(catalog.ListQuery{Desc: true, Limit: 25}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/owner", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := f.State().List(catalog.ListQuery{Desc: true, Limit: 25, IndexField: "owner", IndexValue: "p2"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
