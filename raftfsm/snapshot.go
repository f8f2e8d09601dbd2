package raftfsm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	memdb "github.com/hashicorp/go-memdb"
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
	txn     *memdb.Txn
	applied uint64
}

// Snapshot captures the catalog. The capture is an immutable memdb
// snapshot, so it is cheap; the I/O happens in Persist.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{txn: f.State().db.Txn(false), applied: f.AppliedIndex()}, nil
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
	for _, table := range []string{tableImages, tableTombstones, tableMembers, tableDocs} {
		it, err := s.txn.Get(table, "id")
		if err != nil {
			return fmt.Errorf("iterate %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			var rec snapshotRecord
			switch v := raw.(type) {
			case *catalog.Image:
				rec.Image = v
			case *Tombstone:
				rec.Tombstone = v
			case *catalog.Member:
				rec.Member = v
			case *catalog.Doc:
				rec.Doc = v
			}
			if err := enc.Encode(rec); err != nil {
				return fmt.Errorf("write record: %w", err)
			}
		}
	}
	return bw.Flush()
}

// Release is a no-op: the memdb snapshot is garbage-collected.
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
	txn := st.db.Txn(true)
	defer txn.Abort()
	for {
		var rec snapshotRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("restore snapshot record: %w", err)
		}
		switch {
		case rec.Image != nil:
			err = txn.Insert(tableImages, rec.Image)
		case rec.Tombstone != nil:
			err = txn.Insert(tableTombstones, rec.Tombstone)
		case rec.Member != nil:
			err = txn.Insert(tableMembers, rec.Member)
		case rec.Doc != nil:
			err = txn.Insert(tableDocs, rec.Doc)
		}
		if err != nil {
			return fmt.Errorf("restore snapshot insert: %w", err)
		}
	}
	txn.Commit()
	f.state.Store(st)
	f.ring.reset(hdr.Applied)
	f.markApplied(hdr.Applied)
	return nil
}
