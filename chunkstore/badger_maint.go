package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// listEntry is one chunk seen by List.
type listEntry struct {
	d    Digest
	size int64
}

// List implements Store. It reads the chunk records (LSM tree only) in
// pages of listPage, so neither a read transaction nor the store lock is
// held while fn runs: fn may call back into the store.
func (s *BadgerStore) List(ctx context.Context, fn func(d Digest, size int64) error) error {
	var after []byte
	for {
		page, err := s.listPage(ctx, after)
		if err != nil {
			return fmt.Errorf("list chunks: %w", err)
		}
		for _, e := range page {
			if err := fn(e.d, e.size); err != nil {
				return err
			}
		}
		if len(page) < listPage {
			return nil
		}
		after = metaKey(page[len(page)-1].d)
	}
}

// listPage returns up to listPage chunks whose record key sorts after
// after (from the start if after is nil).
func (s *BadgerStore) listPage(ctx context.Context, after []byte) ([]listEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	page := make([]listEntry, 0, 64)
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: metaPrefix})
		defer it.Close()
		it.Rewind()
		if after != nil {
			it.Seek(after)
		}
		for ; it.Valid() && len(page) < listPage; it.Next() {
			item := it.Item()
			if after != nil && bytes.Equal(item.Key(), after) {
				continue
			}
			if len(page)%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			d, ok := digestFromMetaKey(item.Key())
			if !ok {
				continue
			}
			var m chunkMeta
			if err := item.Value(func(v []byte) error {
				var err error
				m, err = decodeMeta(v)
				return err
			}); err != nil {
				s.log.Warn("unreadable chunk record", "digest", d.String(), "err", err)
				continue
			}
			page = append(page, listEntry{d: d, size: m.size})
		}
		return nil
	})
	return page, err
}

// segmentKeys returns the keys of every stored segment of d.
func segmentKeys(txn *badger.Txn, d Digest) [][]byte {
	prefix := append(append([]byte{}, segPrefix...), d[:]...)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

// Reclaim implements Store. Deleting a chunk only writes tombstones; the
// bytes stay in their value-log file until value-log GC rewrites that
// file, and GC only picks files according to the discard statistics that
// LSM compactions produce when a tombstone meets the value it shadows.
// Reclaim therefore, with writes paused:
//
//  1. rotates the value log (rotateValueLog), so the file that was being
//     written, usually holding the newest and often the most dead data,
//     becomes eligible for GC, which never touches the active file;
//  2. drops the rotation fillers with DropPrefix, the only public Badger
//     call that flushes the memtables: it writes them out as level-0
//     tables and compacts level 0 into the base level, so tombstones meet
//     their values and the discard statistics are updated;
//  3. runs Flatten, compacting any remaining levels into one, for
//     tombstones and values that still sit on different levels;
//
// then, with reads and writes allowed again, runs value-log GC until
// Badger reports no file is at least half dead. Each GC round copies the
// live chunks of one file into the active file and deletes the old file;
// writes wait during a round (see BadgerStore.writeMu), reads do not. In memory mode
// only steps 2 and 3 run, which frees deleted chunks' memory.
func (s *BadgerStore) Reclaim(ctx context.Context) error {
	s.reclaimMu.Lock()
	defer s.reclaimMu.Unlock()
	if err := s.compactDeleted(ctx); err != nil {
		return fmt.Errorf("reclaim chunk store: %w", err)
	}
	if s.inMem {
		return nil
	}
	release, err := s.acquire()
	if err != nil {
		return fmt.Errorf("reclaim chunk store: %w", err)
	}
	defer release()
	for rewrites := 0; ; rewrites++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reclaim chunk store: %w", err)
		}
		if s.closing.Load() {
			return fmt.Errorf("reclaim chunk store: %w", ErrClosed)
		}
		s.writeMu.Lock()
		err := s.db.RunValueLogGC(gcDiscardRatio)
		s.writeMu.Unlock()
		if err == nil {
			s.vlogDirty.Store(true) // live chunks were copied into the active file
			s.compact.Wrote()
		}
		if errors.Is(err, badger.ErrNoRewrite) {
			s.log.Debug("value-log GC done", "files_rewritten", rewrites)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reclaim chunk store: value-log GC: %w", err)
		}
	}
}

// compactDeleted runs steps 1 to 3 of Reclaim under the exclusive lock.
func (s *BadgerStore) compactDeleted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.rotateValueLog(true); err != nil {
		return err
	}
	return s.compact.Exclusive(func() error {
		if err := s.db.DropPrefix(fillerPrefix); err != nil {
			return fmt.Errorf("flush memtables: %w", err)
		}
		if err := s.db.Flatten(2); err != nil {
			return fmt.Errorf("flatten LSM tree: %w", err)
		}
		return nil
	})
}

// rotateValueLog makes Badger start a new value-log file. Badger has no
// call for that, but it rotates after any write that takes the current
// file past ValueLogMaxEntries entries, so this writes
// valueLogMaxEntries+1 fillers just big enough to go to the value log
// (about 260 KiB) in one transaction. With keep the fillers stay, for
// Reclaim to drop; otherwise they are deleted (tombstones go to the LSM
// tree only, so the new file stays empty).
//
// Close rotates so that the newest value-log file is empty when the store
// is next opened: on open Badger scans the newest file and truncates it at
// the first entry failing its CRC, which would make every chunk written
// after a damaged one unreadable; older files are never scanned, and a
// damaged chunk in them is caught by the BLAKE3 check on Get alone.
//
// In memory mode there is no value log and one small filler is written,
// only so that Reclaim's DropPrefix has something to drop.
func (s *BadgerStore) rotateValueLog(keep bool) error {
	n, size := uint32(valueLogMaxEntries+1), valueThreshold
	if s.inMem {
		n, size = 1, 1
	}
	filler := make([]byte, size)
	// One transaction is one write request: Badger checks the entry count
	// after each request, so the rotation happens right after the fillers.
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range n {
			if err := txn.Set(fillerKey(i), filler); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write value-log fillers: %w", err)
	}
	s.compact.Wrote()
	s.vlogDirty.Store(false)
	if keep {
		return nil
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		for i := range n {
			if err := txn.Delete(fillerKey(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete value-log fillers: %w", err)
	}
	return nil
}
