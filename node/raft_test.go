package node

import (
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/raftfsm"
)

// A forwarded create or update answers with the image its command stored,
// built from the command itself: looking it up in the replica afterwards
// could find nothing (deleted meanwhile: the API then dereferenced nil) or
// a later write's version.
func TestCommittedImage(t *testing.T) {
	name := "x"
	img := &raftfsm.Image{ID: "3f1b4cb1-cdc0-4e0b-a8eb-d024fcdc09b0", Name: &name, Status: raftfsm.StatusQueued,
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
