package raftfsm

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
)

// The notification outbox. While the document (ConfigKind,
// NotificationsConfigID) exists, applying a command that succeeds also
// records the Glance events it means as documents of kind OutboxKind, in
// the same apply: every replica holds the same outbox (it is in snapshots
// and checkpoints like any document), so whichever voter leads publishes
// what is left of it, and a leader change or a broker outage loses
// nothing. The leader trims what the broker confirmed with TrimOutbox.
// The events are computed here, from the command and the catalog before
// and after it, so they are the same on every node.

// CmdTrimOutbox deletes the outbox events up to one id. An FSM that does
// not know it skips it (it records no events either).
const CmdTrimOutbox CommandType = 11 | IgnoreUnknownFlag

// TrimOutbox deletes every outbox event whose id is Through or before it
// (ids order events).
type TrimOutbox struct {
	Through string `json:"through"`
}

// MaxOutbox is the most events the outbox keeps: past it the oldest go (a
// broker down for a long time, or no node configured to publish).
const MaxOutbox = 10000

// OutboxID is the document id of the n-th event of the entry at log
// index idx: ids sort in log order.
func OutboxID(idx uint64, n int) string { return fmt.Sprintf("%016x.%02d", idx, n) }

// notificationsOn reports whether the outbox is on in t.
func (t *tables) notificationsOn() bool {
	return t.docs.Has(&catalog.Doc{Kind: catalog.ConfigKind, ID: catalog.NotificationsConfigID})
}

// eventImage is the image as an event carries it: without its data's
// layout, placement, upload lock, staging or locations (which may hold
// credentials, and which Glance's notifications leave out).
func eventImage(img *catalog.Image) *catalog.Image {
	if img == nil {
		return nil
	}
	cp := *img
	cp.Manifest, cp.Placement, cp.ShortPlacement, cp.Upload = nil, nil, false, nil
	cp.Staging, cp.StagingPlacement, cp.Locations = nil, nil, nil
	cp.Tags = slices.Clone(img.Tags)
	cp.Properties = maps.Clone(img.Properties)
	return &cp
}

// shownChanged reports whether what a notification shows of an image
// differs between a and b (an internal change — placement, an upload
// lock, a pull — is no image.update).
func shownChanged(a, b *catalog.Image) bool {
	x, y := eventImage(a), eventImage(b)
	x.Revision, y.Revision, x.UpdatedAt = 0, 0, y.UpdatedAt
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) != string(by)
}

// dataArrived reports whether an update is an image's data arriving: it
// was being uploaded or imported and is now active.
func dataArrived(prev, img *catalog.Image) bool {
	if img.Status != catalog.StatusActive {
		return false
	}
	switch prev.Status {
	case catalog.StatusQueued, catalog.StatusSaving, catalog.StatusUploading, catalog.StatusImporting:
		return true
	}
	return false
}

// eventsOf returns the events of a command that succeeded with res;
// before is the catalog as it was before the command.
func eventsOf(before *tables, cmd any, res *Result) []catalog.Event {
	switch c := cmd.(type) {
	case *CreateImage:
		return []catalog.Event{{Type: catalog.EventImageCreate, Image: eventImage(res.Image), Time: res.Image.CreatedAt}}
	case *UpdateImage:
		prev, img := res.prev, res.Image
		var evs []catalog.Event
		ev := func(t string) catalog.Event {
			return catalog.Event{Type: t, Image: eventImage(img), Time: img.UpdatedAt}
		}
		if img.Status == catalog.StatusSaving && prev.Status != catalog.StatusSaving {
			evs = append(evs, ev(catalog.EventImagePrepare))
		}
		if dataArrived(prev, img) {
			evs = append(evs, ev(catalog.EventImageUpload), ev(catalog.EventImageActivate))
		}
		if shownChanged(prev, img) {
			evs = append(evs, ev(catalog.EventImageUpdate))
		}
		return evs
	case *DeleteImage:
		return []catalog.Event{{Type: catalog.EventImageDelete, Image: eventImage(res.prev), Time: c.DeletedAt, Deleted: true}}
	case *PutMember:
		t := catalog.EventMemberUpdate
		if c.Create {
			t = catalog.EventMemberCreate
		}
		m := *res.Member
		return []catalog.Event{{Type: t, Member: &m, Time: m.UpdatedAt}}
	case *DeleteMember:
		m, ok := before.members.Get(&catalog.Member{ImageID: c.ImageID, MemberID: c.MemberID})
		if !ok {
			return nil
		}
		cp := *m
		return []catalog.Event{{Type: catalog.EventMemberDelete, Member: &cp, Deleted: true}}
	case *PutDoc:
		if c.Doc == nil || c.Doc.Kind != catalog.TaskKind {
			return nil
		}
		return taskEvents(before, c, res)
	case *DeleteDoc:
		if c.Kind != catalog.TaskKind {
			return nil
		}
		d, ok := before.docs.Get(&catalog.Doc{Kind: c.Kind, ID: c.ID})
		if !ok {
			return nil
		}
		t, err := catalog.TaskFromDoc(d)
		if err != nil {
			return nil
		}
		return []catalog.Event{{Type: catalog.EventTaskDelete, Task: t, Deleted: true}}
	}
	return nil
}

// taskEvents are the events of a task document written: created, started
// (Glance's task.run then task.processing), finished.
func taskEvents(before *tables, c *PutDoc, res *Result) []catalog.Event {
	t, err := catalog.TaskFromDoc(res.Doc)
	if err != nil {
		return nil
	}
	ev := func(typ string) catalog.Event { return catalog.Event{Type: typ, Task: t, Time: t.UpdatedAt} }
	prevStatus := ""
	if old, ok := before.docs.Get(&catalog.Doc{Kind: c.Doc.Kind, ID: c.Doc.ID}); ok {
		if pt, err := catalog.TaskFromDoc(old); err == nil {
			prevStatus = pt.Status
		}
	}
	var evs []catalog.Event
	if c.Create {
		evs = append(evs, ev(catalog.EventTaskCreate))
	}
	if t.Status == prevStatus {
		return evs
	}
	switch t.Status {
	case catalog.TaskProcessing:
		evs = append(evs, ev(catalog.EventTaskRun), ev(catalog.EventTaskProcess))
	case catalog.TaskSuccess:
		evs = append(evs, ev(catalog.EventTaskSuccess))
	case catalog.TaskFailure:
		evs = append(evs, ev(catalog.EventTaskFailure))
	}
	return evs
}

// recordEvents adds the events of a command applied at idx to the outbox,
// dropping the oldest past MaxOutbox.
func (s *State) recordEvents(idx uint64, evs []catalog.Event) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.outboxLenLocked()
	for i, e := range evs {
		body, err := json.Marshal(e)
		if err != nil {
			continue // a catalog value always encodes
		}
		s.w.docs.ReplaceOrInsert(&catalog.Doc{Kind: catalog.OutboxKind, ID: OutboxID(idx, i), Body: body, Revision: idx})
	}
	s.outboxN = n + len(evs)
	for ; s.outboxN > MaxOutbox; s.outboxN-- {
		first := s.firstOutboxLocked()
		if first == nil {
			break
		}
		s.w.docs.Delete(first)
	}
	s.dirty |= dirtyDocs
	s.publish()
}

// outboxLenLocked returns the outbox's length before this write,
// counted once per State (the writer holds mu).
func (s *State) outboxLenLocked() int {
	if s.outboxCounted {
		return s.outboxN
	}
	s.outboxCounted = true
	n := 0
	s.w.docs.AscendGreaterOrEqual(&catalog.Doc{Kind: catalog.OutboxKind}, func(d *catalog.Doc) bool {
		if d.Kind != catalog.OutboxKind {
			return false
		}
		n++
		return true
	})
	return n
}

// firstOutboxLocked returns the oldest outbox event, or nil.
func (s *State) firstOutboxLocked() *catalog.Doc {
	var first *catalog.Doc
	s.w.docs.AscendGreaterOrEqual(&catalog.Doc{Kind: catalog.OutboxKind}, func(d *catalog.Doc) bool {
		if d.Kind == catalog.OutboxKind {
			first = d
		}
		return false
	})
	return first
}

// trimOutbox deletes the outbox events up to and including through.
func (s *State) trimOutbox(c *TrimOutbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []*catalog.Doc
	s.w.docs.AscendGreaterOrEqual(&catalog.Doc{Kind: catalog.OutboxKind}, func(d *catalog.Doc) bool {
		if d.Kind != catalog.OutboxKind || d.ID > c.Through {
			return false
		}
		gone = append(gone, d)
		return true
	})
	for _, d := range gone {
		s.w.docs.Delete(d)
	}
	if s.outboxCounted {
		s.outboxN -= len(gone)
	}
	if len(gone) > 0 {
		s.dirty |= dirtyDocs
		s.publish()
	}
}
