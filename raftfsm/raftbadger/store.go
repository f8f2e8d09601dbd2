package raftbadger

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// InMemory keeps the whole store in memory and ignores the directory
	// passed to Open. Nothing survives Close. In this mode Badger keeps every
	// value inline and rejects values larger than 1 MiB, so a single encoded
	// log entry (or stable value) is limited to 1 MiB.
	InMemory bool

	// Logger receives Badger's warnings and errors and the store's own
	// recovery messages. Nil means slog.Default().
	Logger *slog.Logger

	// NoSync skips the fsync after each write. For tests and benchmarks
	// only: raft requires log entries to be durable when StoreLogs returns.
	NoSync bool
}

// ErrKeyNotFound is returned by Get for a key that was never set (or was set
// to nil). It is returned unwrapped and its message is exactly "not found",
// the string hashicorp/raft compares against to detect a missing key.
var ErrKeyNotFound = errors.New("not found")

// Badger tuning; see Open.
const (
	memTableSize     = 16 << 20
	numMemtables     = 3
	blockCacheSize   = 8 << 20
	valueThreshold   = 64 << 10
	inMemoryMaxValue = 1 << 20 // Badger's maximum ValueThreshold
	valueLogFileSize = 64 << 20
	numCompactors    = 2

	gcInterval     = 5 * time.Minute
	gcDiscardRatio = 0.5
	gcMaxRounds    = 16
)

// Store is a raft.LogStore and raft.StableStore backed by Badger. It is safe
// for concurrent use. The first and last log indexes are cached in memory
// and kept exact across StoreLogs, DeleteRange and reopening.
type Store struct {
	db     *badger.DB
	logger *slog.Logger

	// writeMu serialises log mutations (StoreLogs and DeleteRange).
	writeMu sync.Mutex
	// firstHint is a lower bound of the stored log indexes, persisted under
	// keyFirstHint so Open can seek past deleted keys. It is never lower in
	// memory than on disk. Guarded by writeMu.
	firstHint uint64
	// pending reports that keyPending exists on disk. Guarded by writeMu.
	pending bool
	// failed, once set, makes every later log mutation fail: an interrupted
	// split StoreLogs could not be rolled back, and only Open can recover
	// it. Guarded by writeMu.
	failed error

	mu          sync.RWMutex
	first, last uint64

	gcStop    chan struct{}
	gcDone    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir, finishes or rolls back
// any operation a crash interrupted, and loads the first and last log
// indexes.
//
// Badger is configured for a modest footprint: 16 MiB memtables (three of
// them at most), an 8 MiB block cache, two compactors, one version per key,
// no conflict detection (writes are serialised by the store) and no expvar
// metrics. Values of 64 KiB or more go to the value log (64 MiB files, which
// also caps the size of a single entry), smaller ones stay in the LSM tree.
// SyncWrites is on unless opts.NoSync is set. Badger logs warnings and
// errors to opts.Logger.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var bo badger.Options
	threshold := int64(valueThreshold)
	if opts.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
		// Badger keeps every value inline in memory mode and rejects values
		// above ValueThreshold, so allow the largest it accepts.
		threshold = inMemoryMaxValue
	} else {
		if dir == "" {
			return nil, errors.New("open store: empty directory")
		}
		bo = badger.DefaultOptions(dir)
	}
	bo = bo.WithSyncWrites(!opts.NoSync).
		WithLogger(badgerLogger{l: logger.With("component", "badger")}).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithBlockCacheSize(blockCacheSize).
		WithValueThreshold(threshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumVersionsToKeep(1).
		WithNumCompactors(numCompactors).
		WithDetectConflicts(false).
		WithMetricsEnabled(false)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}
	s := &Store{db: db, logger: logger}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if !opts.InMemory {
		s.gcStop = make(chan struct{})
		s.gcDone = make(chan struct{})
		go s.gcLoop(gcInterval)
	}
	return s, nil
}

// Close stops background work and closes the database. Further calls return
// the result of the first; no other method may be called after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.gcStop != nil {
			close(s.gcStop)
			<-s.gcDone
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close badger: %w", err)
		}
	})
	return s.closeErr
}

// load recovers an interrupted operation and loads the cached bounds.
func (s *Store) load() error {
	var pending, hint []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if pending, err = getValue(txn, keyPending); err != nil {
			return err
		}
		hint, err = getValue(txn, keyFirstHint)
		return err
	})
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	if hint != nil {
		if s.firstHint, err = decodeUint64(hint); err != nil {
			return fmt.Errorf("read first index hint: %w", err)
		}
	}
	if pending != nil {
		op, lo, hi, err := decodePending(pending)
		if err != nil {
			return fmt.Errorf("read pending marker: %w", err)
		}
		s.pending = true
		if op == opStoreLogs {
			s.logger.Warn("raftbadger: rolling back interrupted StoreLogs", "first", lo, "last", hi)
		} else {
			s.logger.Warn("raftbadger: completing interrupted DeleteRange", "first", lo, "last", hi)
		}
		if err := s.deleteKeys(lo, hi, 0); err != nil {
			return fmt.Errorf("recover interrupted operation: %w", err)
		}
	}
	first, last, err := s.scanBounds()
	if err != nil {
		return err
	}
	s.first, s.last = first, last
	return nil
}

// scanBounds reads the first and last log index from disk.
func (s *Store) scanBounds() (first, last uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		var ok bool
		var err error
		if first, ok, err = seekLog(txn, s.firstHint, false); err != nil || !ok {
			return err
		}
		last, _, err = seekLog(txn, math.MaxUint64, true)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("scan log bounds: %w", err)
	}
	return first, last, nil
}

// seekLog returns the smallest stored index >= from or, with reverse, the
// largest stored index <= from. ok is false if there is none.
func seekLog(txn *badger.Txn, from uint64, reverse bool) (idx uint64, ok bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLog}, Reverse: reverse})
	defer it.Close()
	it.Seek(logKey(from))
	if !it.Valid() {
		return 0, false, nil
	}
	idx, err = parseLogKey(it.Item().Key())
	if err != nil {
		return 0, false, err
	}
	return idx, true, nil
}

// getValue returns a copy of key's value, or nil if key is missing.
func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

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
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("store logs: nil entry at position %d", i)
		}
		if l.Index == 0 {
			return errors.New("store logs: index 0 is reserved for an empty log")
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		kvs[i] = kv{key: logKey(l.Index), val: encodeLog(l)}
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
	w := &batchWriter{db: s.db, split: split}
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
	w := &batchWriter{db: s.db, split: split}
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

// batchWriter writes through a Badger transaction. If split is set it
// commits and starts a new transaction whenever the current one is full;
// otherwise it returns badger.ErrTxnTooBig.
type batchWriter struct {
	db      *badger.DB
	split   bool
	txn     *badger.Txn
	n       int // writes in txn
	commits int // transactions committed
}

func (w *batchWriter) set(key, val []byte) error { return w.do(key, val, false) }

func (w *batchWriter) del(key []byte) error { return w.do(key, nil, true) }

func (w *batchWriter) do(key, val []byte, del bool) error {
	if w.txn == nil {
		w.txn, w.n = w.db.NewTransaction(true), 0
	}
	err := w.apply(key, val, del)
	if errors.Is(err, badger.ErrTxnTooBig) && w.split && w.n > 0 {
		if err := w.flush(); err != nil {
			return err
		}
		w.txn, w.n = w.db.NewTransaction(true), 0
		err = w.apply(key, val, del)
	}
	if err != nil {
		return err
	}
	w.n++
	return nil
}

func (w *batchWriter) apply(key, val []byte, del bool) error {
	if del {
		return w.txn.Delete(key)
	}
	return w.txn.Set(key, val)
}

// flush commits the current transaction, if it holds any write.
func (w *batchWriter) flush() error {
	txn := w.txn
	w.txn = nil
	if txn == nil {
		return nil
	}
	if w.n == 0 {
		txn.Discard()
		return nil
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	w.commits++
	return nil
}

func (w *batchWriter) discard() {
	if w.txn != nil {
		w.txn.Discard()
		w.txn = nil
	}
}

// Set implements raft.StableStore. Setting a nil value deletes the key, so
// that, as with raft.InmemStore, a later Get reports it as not found.
func (s *Store) Set(key []byte, val []byte) error {
	k := prefixed(prefixBytes, key)
	err := s.db.Update(func(txn *badger.Txn) error {
		if val == nil {
			return txn.Delete(k)
		}
		return txn.Set(k, bytes.Clone(val))
	})
	if err != nil {
		return fmt.Errorf("set key %q: %w", key, err)
	}
	return nil
}

// Get implements raft.StableStore. A missing key yields a nil value and
// ErrKeyNotFound (unwrapped, as raft matches its message); an empty value
// yields a non-nil empty slice.
func (s *Store) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = getValue(txn, prefixed(prefixBytes, key))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get key %q: %w", key, err)
	}
	if val == nil {
		return nil, ErrKeyNotFound
	}
	return val, nil
}

// SetUint64 implements raft.StableStore. Uint64 values live in their own
// namespace: Get(k) does not see SetUint64(k, v), as with raft.InmemStore.
func (s *Store) SetUint64(key []byte, val uint64) error {
	k := prefixed(prefixUint, key)
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(k, encodeUint64(val))
	})
	if err != nil {
		return fmt.Errorf("set key %q: %w", key, err)
	}
	return nil
}

// GetUint64 implements raft.StableStore. A missing key yields 0 and a nil
// error, as with raft.InmemStore.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		val, err = getValue(txn, prefixed(prefixUint, key))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get key %q: %w", key, err)
	}
	if val == nil {
		return 0, nil
	}
	v, err := decodeUint64(val)
	if err != nil {
		return 0, fmt.Errorf("get key %q: %w", key, err)
	}
	return v, nil
}

// gcLoop runs value-log garbage collection every interval until Close.
func (s *Store) gcLoop(interval time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			s.runValueLogGC()
		}
	}
}

// runValueLogGC rewrites value-log files that are at least half garbage,
// one file per round, until Badger finds nothing more to do.
func (s *Store) runValueLogGC() {
	for range gcMaxRounds {
		select {
		case <-s.gcStop:
			return
		default:
		}
		err := s.db.RunValueLogGC(gcDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return
		}
		if err != nil {
			s.logger.Warn("raftbadger: value log GC failed", "error", err)
			return
		}
	}
}
