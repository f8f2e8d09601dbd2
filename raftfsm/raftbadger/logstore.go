package raftbadger

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/internal/diskfree"
)

// FirstIndex implements raft.LogStore. It returns 0 for an empty log.
func (s *Store) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first, nil
}

// LastIndex implements raft.LogStore. It returns 0 for an empty log.
func (s *Store) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, nil
}

// GetLog implements raft.LogStore. It returns raft.ErrLogNotFound, unwrapped,
// if there is no entry at index.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = getValue(txn, logKey(index))
		return err
	})
	if err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	if val == nil {
		return raft.ErrLogNotFound
	}
	return decodeLog(index, val, log)
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements raft.LogStore. The batch is durable when StoreLogs
// returns and is all-or-nothing, also across crashes (see the package
// documentation for how batches larger than one Badger transaction are
// handled).
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	kvs := make([]kv, len(logs))
	lo, hi := uint64(math.MaxUint64), uint64(0)
	need := int64(0)
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("store logs: nil entry at position %d", i)
		}
		if l.Index == 0 {
			return errors.New("store logs: index 0 is reserved for an empty log")
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		kvs[i] = kv{key: logKey(l.Index), val: encodeLog(l)}
		need += int64(len(kvs[i].key) + len(kvs[i].val))
	}
	if err := diskfree.Check(s.dir, s.reserve, need); err != nil {
		return fmt.Errorf("store logs: %w", err)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("store logs: %w", s.failed)
	}
	err := s.storeLogs(kvs, lo, hi, false)
	if errors.Is(err, badger.ErrTxnTooBig) {
		err = s.storeLogs(kvs, lo, hi, true)
	}
	if err != nil {
		return fmt.Errorf("store logs: %w", err)
	}
	s.firstHint = min(s.firstHint, lo)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == 0 || lo < s.first {
		s.first = lo
	}
	s.last = max(s.last, hi)
	return nil
}

type kv struct {
	key, val []byte
}

// storeLogs writes kvs. Unless split is set they go into one transaction
// and badger.ErrTxnTooBig means nothing was written. With split set, a
// marker makes the multi-transaction write recoverable, and a failure after
// the first commit is rolled back. Called with writeMu held.
func (s *Store) storeLogs(kvs []kv, lo, hi uint64, split bool) (err error) {
	w := &batchWriter{db: s.db, wrote: s.compact.Wrote, split: split}
	defer w.discard()
	defer func() {
		if err != nil && w.commits > 0 {
			err = s.rollback(lo, hi, err)
		}
	}()
	if split {
		if err := w.set(keyPending, encodePending(opStoreLogs, lo, hi)); err != nil {
			return err
		}
	}
	if lo < s.firstHint {
		if err := w.set(keyFirstHint, encodeUint64(lo)); err != nil {
			return err
		}
	}
	for _, e := range kvs {
		if err := w.set(e.key, e.val); err != nil {
			return err
		}
	}
	if split {
		if err := w.del(keyPending); err != nil {
			return err
		}
	}
	return w.flush()
}

// rollback undoes a partially committed split StoreLogs over [lo, hi] after
// cause made it fail. Called with writeMu held.
func (s *Store) rollback(lo, hi uint64, cause error) error {
	s.pending = true
	err := s.deleteKeys(lo, hi, 0)
	if err == nil {
		var first, last uint64
		if first, last, err = s.scanBounds(); err == nil {
			s.mu.Lock()
			s.first, s.last = first, last
			s.mu.Unlock()
			return cause
		}
	}
	s.failed = fmt.Errorf("roll back partial StoreLogs [%d, %d], reopen the store: %w", lo, hi, err)
	s.logger.Error("raftbadger: store unusable until reopened", "error", s.failed)
	return errors.Join(cause, s.failed)
}

// DeleteRange implements raft.LogStore. It removes the entries with indexes
// in [minIdx, maxIdx] (inclusive) durably and all-or-nothing, also across
// crashes.
func (s *Store) DeleteRange(minIdx, maxIdx uint64) error {
	if minIdx > maxIdx {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("delete range: %w", s.failed)
	}
	s.mu.RLock()
	first, last := s.first, s.last
	s.mu.RUnlock()
	lo, hi := max(minIdx, first), min(maxIdx, last)
	if first == 0 || lo > hi {
		return nil
	}
	var hint uint64
	if lo == first && hi < math.MaxUint64 {
		hint = hi + 1 // no key remains at or below hi
	}

	// Publish the shrunk bounds before deleting, so that a reader never
	// learns of an index that is about to disappear. For a gap-free log
	// they are exact; otherwise they are corrected below.
	switch {
	case lo == first && hi == last:
		s.setBounds(0, 0)
	case lo == first:
		s.setBounds(hi+1, last)
	case hi == last:
		s.setBounds(first, lo-1)
	}

	if err := s.deleteKeys(lo, hi, hint); err != nil {
		if f, l, scanErr := s.scanBounds(); scanErr == nil {
			s.setBounds(f, l)
		}
		return fmt.Errorf("delete range: %w", err)
	}
	if hint != 0 {
		s.firstHint = hint
	}

	switch {
	case lo == first && hi == last:
	case lo == first:
		if err := s.db.View(func(txn *badger.Txn) error {
			next, _, err := seekLog(txn, hi+1, false)
			if err == nil {
				s.setBounds(next, last)
			}
			return err
		}); err != nil {
			return fmt.Errorf("find first index: %w", err)
		}
	case hi == last:
		if err := s.db.View(func(txn *badger.Txn) error {
			prev, _, err := seekLog(txn, lo-1, true)
			if err == nil {
				s.setBounds(first, prev)
			}
			return err
		}); err != nil {
			return fmt.Errorf("find last index: %w", err)
		}
	}
	return nil
}

func (s *Store) setBounds(first, last uint64) {
	s.mu.Lock()
	s.first, s.last = first, last
	s.mu.Unlock()
}

// deleteKeys deletes every stored log key in [lo, hi], clears the pending
// marker if there is one, and, if hint is non-zero, records it as the new
// first index hint. It is all-or-nothing across crashes: when one
// transaction is not enough, a marker makes Open finish the job. Called with
// writeMu held (or from Open).
func (s *Store) deleteKeys(lo, hi, hint uint64) error {
	split := hi-lo >= uint64(s.db.MaxBatchCount())
	err := s.deleteKeysTxn(lo, hi, hint, split)
	if !split && errors.Is(err, badger.ErrTxnTooBig) {
		err = s.deleteKeysTxn(lo, hi, hint, true)
	}
	if err != nil {
		return err
	}
	s.pending = false
	return nil
}

func (s *Store) deleteKeysTxn(lo, hi, hint uint64, split bool) (err error) {
	w := &batchWriter{db: s.db, wrote: s.compact.Wrote, split: split}
	defer w.discard()
	defer func() {
		if err != nil && w.commits > 0 {
			// The marker is on disk and Open would finish this deletion,
			// which could then remove entries stored after it.
			s.failed = fmt.Errorf("partial DeleteRange [%d, %d], reopen the store: %w", lo, hi, err)
			s.pending = true
		}
	}()
	if split {
		if err := w.set(keyPending, encodePending(opDeleteRange, lo, hi)); err != nil {
			return err
		}
	}
	rtxn := s.db.NewTransaction(false)
	defer rtxn.Discard()
	it := rtxn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLog}})
	defer it.Close()
	end := logKey(hi)
	for it.Seek(logKey(lo)); it.Valid(); it.Next() {
		k := it.Item().KeyCopy(nil)
		if bytes.Compare(k, end) > 0 {
			break
		}
		if err := w.del(k); err != nil {
			return err
		}
	}
	if hint != 0 {
		if err := w.set(keyFirstHint, encodeUint64(hint)); err != nil {
			return err
		}
	}
	if split || s.pending {
		if err := w.del(keyPending); err != nil {
			return err
		}
	}
	return w.flush()
}
