package raftfsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

func TestMembersAndDocs(t *testing.T) {
	f := New()
	now := time.Unix(1700000000, 0).UTC()
	apply(t, f, 1, &CreateImage{Image: newImage("img", now)})
	m := &catalog.Member{ImageID: "img", MemberID: "p2", Status: catalog.MemberPending, CreatedAt: now, UpdatedAt: now}
	if r := apply(t, f, 2, &PutMember{Member: m, Create: true}); r.Err != nil || r.Member.Revision != 2 {
		t.Fatalf("add member: %+v", r)
	}
	if r := apply(t, f, 3, &PutMember{Member: m, Create: true}); !errors.Is(r.Err, catalog.ErrExists) {
		t.Fatalf("duplicate member: %v", r.Err)
	}
	if r := apply(t, f, 4, &PutMember{Member: &catalog.Member{ImageID: "nope", MemberID: "p2"}, Create: true}); !errors.Is(r.Err, catalog.ErrNotFound) {
		t.Fatalf("member of a missing image: %v", r.Err)
	}
	acc := *m
	acc.Status = catalog.MemberAccepted
	if r := apply(t, f, 5, &PutMember{Member: &acc, ExpectRevision: 1}); !errors.Is(r.Err, catalog.ErrConflict) {
		t.Fatalf("stale member update: %v", r.Err)
	}
	if r := apply(t, f, 6, &PutMember{Member: &acc, ExpectRevision: 2}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := f.State().Memberships("p2"); got["img"] == nil || got["img"].Status != catalog.MemberAccepted {
		t.Fatalf("memberships of p2: %v", got)
	}
	doc := &catalog.Doc{Kind: "task", ID: "t1", Body: json.RawMessage(`{"a": 1}`)}
	if r := apply(t, f, 7, &PutDoc{Doc: doc, Create: true}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(t, f, 8, &PutDoc{Doc: &catalog.Doc{Kind: "task", ID: "t2"}}); !errors.Is(r.Err, catalog.ErrNotFound) {
		t.Fatalf("replace of a missing doc: %v", r.Err)
	}
	apply(t, f, 9, &PutDoc{Doc: &catalog.Doc{Kind: "taskx", ID: "t3"}, Create: true})
	if docs := f.State().Docs("task"); len(docs) != 1 || docs[0].ID != "t1" {
		t.Fatalf("docs of kind task: %v", docs)
	}

	// Snapshot and restore keep members and documents.
	snap, _ := f.Snapshot()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if _, err := g.State().Member("img", "p2"); err != nil {
		t.Fatalf("member lost in snapshot: %v", err)
	}
	if _, err := g.State().Doc("task", "t1"); err != nil {
		t.Fatalf("doc lost in snapshot: %v", err)
	}

	// Deleting the image removes its members.
	apply(t, f, 10, &DeleteImage{ID: "img", DeletedAt: now})
	if ms := f.State().Members("img"); len(ms) != 0 {
		t.Fatalf("members outlived their image: %v", ms)
	}
	if r := apply(t, f, 11, &DeleteDoc{Kind: "task", ID: "t1"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, err := f.State().Doc("task", "t1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted doc: %v", err)
	}
}
