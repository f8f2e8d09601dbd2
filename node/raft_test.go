package node

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// A forwarded create or update answers with the image its command stored,
// built from the command itself: looking it up in the replica afterwards
// could find nothing (deleted meanwhile: the API then dereferenced nil) or
// a later write's version.
func TestCommittedImage(t *testing.T) {
	name := "x"
	img := &catalog.Image{ID: "3f1b4cb1-cdc0-4e0b-a8eb-d024fcdc09b0", Name: &name, Status: catalog.StatusQueued,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Properties: map[string]string{"k": "v"}, Revision: 3}
	for _, cmd := range []any{&raftfsm.CreateImage{Image: img}, &raftfsm.UpdateImage{Image: img, ExpectRevision: 3}} {
		got := committedImage(cmd, 42)
		if got == nil || got == img || got.ID != img.ID || got.Revision != 42 || *got.Name != name || !got.CreatedAt.Equal(img.CreatedAt) || got.Properties["k"] != "v" {
			t.Fatalf("%T: committed image %+v, want a copy of %+v at revision 42", cmd, got, img)
		}
	}
	if img.Revision != 3 {
		t.Fatalf("the proposed image was changed: revision %d", img.Revision)
	}
	if got := committedImage(&raftfsm.DeleteImage{ID: img.ID}, 42); got != nil {
		t.Fatalf("a delete stores no image, got %+v", got)
	}
	if got := committedImage(nil, 42); got != nil {
		t.Fatalf("a no-op stores no image, got %+v", got)
	}
}

// TestFillCommitted: a forwarded write's result (no object in the
// leader's answer) gets the member or document the command stored, at
// the commit's revision, without looking at the replica.
func TestFillCommitted(t *testing.T) {
	at := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	m := &catalog.Member{ImageID: "img", MemberID: "p2", Status: "pending", CreatedAt: at, UpdatedAt: at, Revision: 7}
	res := &raftfsm.Result{Index: 42}
	fillCommitted(res, &raftfsm.PutMember{Member: m})
	if got := res.Member; got == nil || got == m || got.Revision != 42 || got.Status != "pending" || !got.CreatedAt.Equal(at) || got.MemberID != "p2" {
		t.Fatalf("filled member %+v from %+v", got, m)
	}
	d := &catalog.Doc{Kind: "task", ID: "t1", Body: json.RawMessage(`{"a":1}`), CreatedAt: at}
	res = &raftfsm.Result{Index: 43}
	fillCommitted(res, &raftfsm.PutDoc{Doc: d})
	if got := res.Doc; got == nil || got.Revision != 43 || got.ID != "t1" || string(got.Body) != `{"a":1}` {
		t.Fatalf("filled doc %+v", got)
	}
	// A result that carries the stored object keeps it.
	stored := &catalog.Member{ImageID: "img", MemberID: "p2", Status: "accepted", Revision: 44}
	res = &raftfsm.Result{Index: 44, Member: stored}
	fillCommitted(res, &raftfsm.PutMember{Member: m})
	if res.Member != stored {
		t.Fatalf("a local result's member was replaced: %+v", res.Member)
	}
}
