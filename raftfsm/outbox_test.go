package raftfsm

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

func outboxTypes(t *testing.T, st *State) []string {
	t.Helper()
	var out []string
	for _, d := range st.Docs(catalog.OutboxKind) {
		e, err := catalog.EventFromDoc(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Type)
	}
	return out
}

func enableOutbox(t *testing.T, f *FSM, idx uint64) {
	t.Helper()
	if res := apply(t, f, idx, &PutDoc{Doc: &catalog.Doc{Kind: catalog.ConfigKind, ID: catalog.NotificationsConfigID, Body: json.RawMessage(`{}`)}, Create: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestOutboxEvents: with the outbox on, each command records Glance's
// events for it, in log order; internal changes record none; nothing is
// recorded while it is off.
func TestOutboxEvents(t *testing.T) {
	f := New()
	now := time.Unix(1700000000, 0).UTC()
	apply(t, f, 1, &CreateImage{Image: newImage("off", now)})
	if n := len(f.State().Docs(catalog.OutboxKind)); n != 0 {
		t.Fatalf("%d events while the outbox is off", n)
	}
	enableOutbox(t, f, 2)

	img := newImage("a", now)
	img.Locations = []catalog.Location{{URL: "http://user:secret@origin/a.img"}}
	apply(t, f, 3, &CreateImage{Image: img})
	saving := *img
	saving.Status, saving.Revision = catalog.StatusSaving, 3
	saving.Upload = &catalog.UploadLock{Node: "n1"}
	apply(t, f, 4, &UpdateImage{Image: &saving, ExpectRevision: 3})
	active := saving
	active.Status, active.Revision, active.Upload = catalog.StatusActive, 4, nil
	size := int64(10)
	active.Size = &size
	active.Manifest = &catalog.Manifest{Size: 10}
	apply(t, f, 5, &UpdateImage{Image: &active, ExpectRevision: 4})
	moved := active
	moved.Revision, moved.Placement = 5, []string{"n2"} // internal: no event
	apply(t, f, 6, &UpdateImage{Image: &moved, ExpectRevision: 5})
	named := moved
	named.Revision, named.Name = 6, strp("renamed")
	apply(t, f, 7, &UpdateImage{Image: &named, ExpectRevision: 6})
	apply(t, f, 8, &PutMember{Member: &catalog.Member{ImageID: "a", MemberID: "p2", Status: catalog.MemberPending}, Create: true})
	apply(t, f, 9, &PutMember{Member: &catalog.Member{ImageID: "a", MemberID: "p2", Status: catalog.MemberAccepted}, ExpectRevision: 8})
	apply(t, f, 10, &DeleteMember{ImageID: "a", MemberID: "p2"})
	task := &catalog.Task{ID: "t1", Type: catalog.TaskTypeAPIImageImport, Status: catalog.TaskPending}
	d, _ := task.Doc()
	apply(t, f, 11, &PutDoc{Doc: d, Create: true})
	task.Status = catalog.TaskProcessing
	d, _ = task.Doc()
	apply(t, f, 12, &PutDoc{Doc: d, ExpectRevision: 11})
	task.Status = catalog.TaskSuccess
	d, _ = task.Doc()
	apply(t, f, 13, &PutDoc{Doc: d, ExpectRevision: 12})
	apply(t, f, 14, &DeleteImage{ID: "a", DeletedAt: now.Add(time.Hour)})
	// A refused command records nothing.
	apply(t, f, 15, &DeleteImage{ID: "a"})

	want := []string{
		catalog.EventImageCreate,
		catalog.EventImagePrepare, catalog.EventImageUpdate,
		catalog.EventImageUpload, catalog.EventImageActivate, catalog.EventImageUpdate,
		catalog.EventImageUpdate,
		catalog.EventMemberCreate, catalog.EventMemberUpdate, catalog.EventMemberDelete,
		catalog.EventTaskCreate, catalog.EventTaskRun, catalog.EventTaskProcess, catalog.EventTaskSuccess,
		catalog.EventImageDelete,
	}
	if got := outboxTypes(t, f.State()); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	docs := f.State().Docs(catalog.OutboxKind)
	for _, d := range docs {
		if bytes.Contains(d.Body, []byte("secret")) || bytes.Contains(d.Body, []byte("manifest")) {
			t.Fatalf("event %s carries locations or the manifest: %s", d.ID, d.Body)
		}
	}
	last, _ := catalog.EventFromDoc(docs[len(docs)-1])
	if !last.Deleted || !last.Time.Equal(now.Add(time.Hour)) || *last.Image.Name != "renamed" {
		t.Fatalf("delete event %+v", last)
	}

	// Trimming removes the events up to the id given, on every replica
	// alike.
	apply(t, f, 16, &TrimOutbox{Through: docs[4].ID})
	if got := outboxTypes(t, f.State()); !slices.Equal(got, want[5:]) {
		t.Fatalf("after trim: %v", got)
	}

	// A snapshot carries the outbox: a replica restored from it publishes
	// the same events.
	g := New()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := outboxTypes(t, g.State()); !slices.Equal(got, want[5:]) {
		t.Fatalf("restored outbox: %v", got)
	}
}

// TestOutboxBounded: past MaxOutbox the oldest events go.
func TestOutboxBounded(t *testing.T) {
	f := New()
	enableOutbox(t, f, 1)
	now := time.Unix(1700000000, 0).UTC()
	idx := uint64(2)
	for i := range MaxOutbox + 5 {
		apply(t, f, idx, &CreateImage{Image: newImage(OutboxID(uint64(i), 0), now)})
		idx++
	}
	docs := f.State().Docs(catalog.OutboxKind)
	if len(docs) != MaxOutbox {
		t.Fatalf("outbox holds %d, want %d", len(docs), MaxOutbox)
	}
	if docs[0].ID != OutboxID(2+5, 0) {
		t.Fatalf("oldest kept %s, want %s", docs[0].ID, OutboxID(7, 0))
	}
	// The count stays right across trims.
	apply(t, f, idx, &TrimOutbox{Through: docs[99].ID})
	idx++
	apply(t, f, idx, &CreateImage{Image: newImage("one-more", now)})
	if n := len(f.State().Docs(catalog.OutboxKind)); n != MaxOutbox-100+1 {
		t.Fatalf("after a trim of 100 and one create: %d", n)
	}
}
