package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/p2pglance/p2pglance/internal/badgercompact"
	"github.com/p2pglance/p2pglance/internal/diskfree"
)

var _ Store = (*BadgerStore)(nil)

// BadgerStore is a Store backed by Badger v4. See the package
// documentation for its key layout and tuning.
type BadgerStore struct {
	db      *badger.DB
	compact *badgercompact.Compactor // compacts db after writes (no compactor goroutines)
	dir     string
	log     *slog.Logger
	inMem   bool
	segSize int64 // largest value written under one segment key
	reserve int64 // free bytes Put keeps on dir's file system (0: no check)

	// mu is held shared by every operation and exclusively by Close and by
	// the flush phase of Reclaim (Badger's DropPrefix refuses concurrent
	// writes).
	mu        sync.RWMutex
	closed    bool
	closing   atomic.Bool // tells a running Reclaim to stop early
	reclaimMu sync.Mutex  // one Reclaim at a time

	// writeMu is held shared around every write transaction and
	// exclusively by each value-log GC round: Badger v4.9.6's GC reads
	// memtable state that concurrent writes update without a lock (a data
	// race the race detector reports). Reads are not affected. Lock order:
	// mu, then a stripe, then writeMu.
	writeMu sync.RWMutex

	// stripes serialise the check-then-write of Put, Delete and the drop
	// of corrupt copies per digest, which keeps the counters exact.
	stripes [numStripes]sync.Mutex

	// vlogDirty records that the active value-log file may hold entries,
	// so Close must rotate it (see rotateValueLog). Badger starts a new,
	// empty file on every open.
	vlogDirty atomic.Bool

	chunks  atomic.Int64
	bytes   atomic.Int64
	corrupt atomic.Int64
	stored  atomic.Int64
}

// acquire takes the shared lock unless the store is closed. The returned
// function releases it.
func (s *BadgerStore) acquire() (func(), error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.mu.RUnlock, nil
}

func (s *BadgerStore) stripe(d Digest) *sync.Mutex { return &s.stripes[d[0]%numStripes] }

// Put implements Store. The chunk record and its segments are written in
// one transaction.
func (s *BadgerStore) Put(ctx context.Context, d Digest, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put chunk %s: %w", d, err)
	}
	if Sum(data) != d {
		return fmt.Errorf("put chunk %s: %w", d, ErrDigestMismatch)
	}
	release, err := s.acquire()
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", d, err)
	}
	defer release()
	mu := s.stripe(d)
	mu.Lock()
	defer mu.Unlock()
	present := false
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		_, err := txn.Get(metaKey(d))
		if err == nil {
			present = true
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := diskfree.Check(s.dir, s.reserve, int64(len(data))); err != nil {
			return err
		}
		m := chunkMeta{size: int64(len(data)), nseg: segments(int64(len(data)), s.segSize)}
		for i := range m.nseg {
			lo := int64(i) * s.segSize
			hi := min(lo+s.segSize, m.size)
			if err := txn.Set(segKey(d, i), data[lo:hi]); err != nil {
				return err
			}
		}
		return txn.Set(metaKey(d), m.encode())
	})
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", d, err)
	}
	if !present {
		s.compact.Wrote()
		s.vlogDirty.Store(true)
		s.chunks.Add(1)
		s.bytes.Add(int64(len(data)))
		s.stored.Add(1)
	}
	return nil
}

// Get implements Store. Any failure to read a segment whose chunk record
// exists (a missing segment, or Badger failing to read a damaged or
// truncated value-log entry, which it reports as an empty value) counts
// as corruption, like a digest mismatch. Before dropping a copy, Get reads
// it again with value-log GC excluded: Badger does not protect a point
// read from GC, so a read racing a GC round can follow a pointer into the
// file that round has just deleted.
func (s *BadgerStore) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", d, err)
	}
	release, err := s.acquire()
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", d, err)
	}
	defer release()
	buf, _, cause, err := s.read(d, buf)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", d, err)
	}
	if cause == nil {
		return buf, nil
	}
	mu := s.stripe(d)
	mu.Lock()
	defer mu.Unlock()
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	buf, version, cause, err := s.read(d, buf)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", d, err)
	}
	if cause == nil {
		return buf, nil
	}
	s.corrupt.Add(1)
	s.log.Warn("dropping corrupt chunk", "digest", d.String(), "cause", cause)
	if err := s.deleteLocked(d, version); err != nil {
		s.log.Error("drop corrupt chunk", "digest", d.String(), "err", err)
	}
	return nil, fmt.Errorf("get chunk %s: %w", d, ErrCorrupt)
}

// read reads and verifies chunk d into buf[:0]. It returns the version of
// the chunk record and, if the copy is corrupt, why (err is then nil).
func (s *BadgerStore) read(d Digest, buf []byte) (_ []byte, version uint64, cause, err error) {
	var m chunkMeta
	buf = buf[:0]
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(d))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		version = item.Version()
		if err := item.Value(func(v []byte) error {
			m, err = decodeMeta(v)
			return err
		}); err != nil {
			cause = err
			return nil
		}
		if m.size > maxChunkSize {
			cause = fmt.Errorf("chunk record claims %d bytes: %w", m.size, ErrCorrupt)
			return nil
		}
		if int64(cap(buf)) < m.size {
			buf = make([]byte, 0, m.size)
		}
		for i := range m.nseg {
			seg, err := txn.Get(segKey(d, i))
			if err == nil {
				err = seg.Value(func(v []byte) error {
					buf = append(buf, v...)
					return nil
				})
			}
			if err != nil {
				cause = err
				return nil
			}
		}
		return nil
	})
	if err == nil && cause == nil && (int64(len(buf)) != m.size || Sum(buf) != d) {
		cause = ErrDigestMismatch
	}
	return buf, version, cause, err
}

// deleteLocked deletes chunk d, if held, and updates the counters. With a
// non-zero version it only deletes the copy written at that version. The
// caller holds d's stripe lock, then writeMu shared (always in that order).
func (s *BadgerStore) deleteLocked(d Digest, version uint64) error {
	var (
		deleted bool
		counted = true // whether loadCounters/Put counted this record
		size    int64
	)
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(d))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if version != 0 && item.Version() != version {
			return nil
		}
		var keys [][]byte
		if err := item.Value(func(v []byte) error {
			m, err := decodeMeta(v)
			if err != nil {
				return err
			}
			size = m.size
			for i := range m.nseg {
				keys = append(keys, segKey(d, i))
			}
			return nil
		}); err != nil {
			// A damaged record: delete whatever segments exist.
			counted, keys = false, segmentKeys(txn, d)
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		deleted = true
		return txn.Delete(metaKey(d))
	})
	if err != nil {
		return err
	}
	if deleted {
		s.compact.Wrote()
	}
	if deleted && counted {
		s.chunks.Add(-1)
		s.bytes.Add(-size)
	}
	return nil
}

// Has implements Store.
func (s *BadgerStore) Has(ctx context.Context, d Digest) (bool, error) {
	_, err := s.Size(ctx, d)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("has chunk %s: %w", d, err)
	}
	return true, nil
}

// Size implements Store. It reads only the chunk record.
func (s *BadgerStore) Size(ctx context.Context, d Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("size chunk %s: %w", d, err)
	}
	release, err := s.acquire()
	if err != nil {
		return 0, fmt.Errorf("size chunk %s: %w", d, err)
	}
	defer release()
	var m chunkMeta
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(d))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			m, err = decodeMeta(v)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("size chunk %s: %w", d, err)
	}
	return m.size, nil
}

// Delete implements Store. Each chunk is deleted in its own transaction.
func (s *BadgerStore) Delete(ctx context.Context, ds ...Digest) error {
	release, err := s.acquire()
	if err != nil {
		return fmt.Errorf("delete chunks: %w", err)
	}
	defer release()
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		mu := s.stripe(d)
		mu.Lock()
		s.writeMu.RLock()
		err := s.deleteLocked(d, 0)
		s.writeMu.RUnlock()
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("delete chunk %s: %w", d, err)
		}
	}
	return nil
}

// Sync implements Store.
func (s *BadgerStore) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync chunk store: %w", err)
	}
	release, err := s.acquire()
	if err != nil {
		return fmt.Errorf("sync chunk store: %w", err)
	}
	defer release()
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("sync chunk store: %w", err)
	}
	return nil
}

// Stats implements Store. Chunks and Bytes are counters kept since open;
// DiskBytes walks the directory (0 in memory mode).
func (s *BadgerStore) Stats() Stats {
	st := Stats{
		Chunks:       s.chunks.Load(),
		Bytes:        s.bytes.Load(),
		CorruptFound: s.corrupt.Load(),
		Stored:       s.stored.Load(),
	}
	if !s.inMem {
		n, err := DirDiskUsage(s.dir)
		if err != nil {
			s.log.Warn("measure chunk store disk usage", "err", err)
		}
		st.DiskBytes = n
	}
	return st
}

// Close implements Store. On disk, if chunks were written since open, it
// first rotates the value log, so the next open finds an empty newest
// value-log file (see rotateValueLog).
func (s *BadgerStore) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("close chunk store: %w", ErrClosed)
	}
	s.closed = true
	var rerr error
	if !s.inMem && s.vlogDirty.Load() {
		rerr = s.rotateValueLog(false)
	}
	s.compact.Stop()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("close chunk store: %w", rerr)
	}
	return nil
}
