package raftfsm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// snapshotVersion is written first in every snapshot.
const snapshotVersion = 1

type snapshotHeader struct {
	Version int    `json:"version"`
	Applied uint64 `json:"applied"`
}

// snapshotRecord is one line of a snapshot: exactly one field is set.
type snapshotRecord struct {
	Image     *catalog.Image  `json:"image,omitempty"`
	Tombstone *Tombstone      `json:"tombstone,omitempty"`
	Member    *catalog.Member `json:"member,omitempty"`
	Doc       *catalog.Doc    `json:"doc,omitempty"`
}

// fsmSnapshot is a point-in-time view of the catalog; Persist writes it
// out without blocking Apply.
type fsmSnapshot struct {
	v       *tables
	applied uint64
}

// Snapshot captures the catalog. The capture is the current published
// version, which no write changes, so it is cheap; the I/O happens in
// Persist.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{v: f.State().version(), applied: f.AppliedIndex()}, nil
}

// Persist writes the snapshot as JSON lines: a header, then every image,
// then every tombstone.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		if cerr := sink.Cancel(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return fmt.Errorf("persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	return nil
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(snapshotHeader{Version: snapshotVersion, Applied: s.applied}); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	var err error
	put := func(rec snapshotRecord) bool {
		if err = enc.Encode(rec); err != nil {
			err = fmt.Errorf("write record: %w", err)
		}
		return err == nil
	}
	// Every table in key order: the same catalog always writes the same
	// bytes.
	s.v.images[ixID].Ascend(func(r *imageRec) bool { return put(snapshotRecord{Image: decodeImage(r, s.v.dict)}) })
	if err == nil {
		s.v.tombs.Ascend(func(t Tombstone) bool { return put(snapshotRecord{Tombstone: &t}) })
	}
	if err == nil {
		s.v.members.Ascend(func(m *catalog.Member) bool { return put(snapshotRecord{Member: m}) })
	}
	if err == nil {
		s.v.docs.Ascend(func(d *catalog.Doc) bool { return put(snapshotRecord{Doc: d}) })
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Release is a no-op: the captured version is garbage-collected.
func (s *fsmSnapshot) Release() {}

// Restore replaces the catalog with the snapshot read from rc. The new
// state is built aside and swapped in, so readers never see a half state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st := NewState()
	dec := json.NewDecoder(bufio.NewReaderSize(rc, 256<<10))
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("restore snapshot header: %w", err)
	}
	if hdr.Version != snapshotVersion {
		return fmt.Errorf("restore snapshot version %d: %w", hdr.Version, ErrBadCommand)
	}
	for {
		var rec snapshotRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("restore snapshot record: %w", err)
		}
		st.restore(&rec)
	}
	st.publish()
	f.state.Store(st)
	f.ring.reset(hdr.Applied)
	f.markApplied(hdr.Applied)
	return nil
}

// restore adds one snapshot record to a state being built (not yet
// published). A record replaces an earlier one with the same key.
func (s *State) restore(rec *snapshotRecord) {
	switch {
	case rec.Image != nil:
		r := encodeImage(rec.Image, rec.Image.Revision, s.dict)
		if old, ok := s.w.images[ixID].Get(r); ok {
			s.removeRec(old)
		}
		s.insertRec(r)
	case rec.Tombstone != nil:
		s.w.tombs.ReplaceOrInsert(*rec.Tombstone)
		s.dirty |= dirtyTombs
	case rec.Member != nil:
		if old, ok := s.w.members.ReplaceOrInsert(rec.Member); ok {
			s.w.memberOf.Delete(old)
		}
		s.w.memberOf.ReplaceOrInsert(rec.Member)
		s.dirty |= dirtyMembers
	case rec.Doc != nil:
		s.w.docs.ReplaceOrInsert(rec.Doc)
		s.dirty |= dirtyDocs
	}
}
