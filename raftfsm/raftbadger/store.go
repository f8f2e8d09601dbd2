package raftbadger

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/internal/badgercompact"
	"github.com/p2pglance/p2pglance/internal/diskfree"
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

	// Reserve is the free space, in bytes, StoreLogs keeps on the store's
	// file system: a batch that would leave less is refused (an error
	// wrapping ErrNoSpace) before Badger writes anything, as Badger
	// writes through memory-mapped files and a full file system kills
	// the process with SIGBUS. Raft answers a refused append with a
	// failure and retries; a leader steps down. Set and SetUint64 (a few
	// bytes each; Raft panics when they fail) are not checked: they live
	// on the reserve. 0: no check; ignored with InMemory.
	Reserve int64
}

// ErrNoSpace is wrapped by the error of a StoreLogs refused for lack of
// space (see Options.Reserve).
var ErrNoSpace = diskfree.ErrNoSpace

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
	// baseLevelSize keeps the tree at two levels (level 0 and the last)
	// up to 64 MiB of live log: a compaction (internal/badgercompact,
	// Badger's Flatten) then merges level 0 straight into the last level
	// instead of cascading through the levels between on every run.
	baseLevelSize = 64 << 20

	gcInterval     = 5 * time.Minute
	gcDiscardRatio = 0.5
	gcMaxRounds    = 16
)

// Store is a raft.LogStore and raft.StableStore backed by Badger. It is safe
// for concurrent use. The first and last log indexes are cached in memory
// and kept exact across StoreLogs, DeleteRange and reopening.
type Store struct {
	db      *badger.DB
	compact *badgercompact.Compactor // compacts db after writes (no compactor goroutines)
	logger  *slog.Logger
	dir     string
	reserve int64 // free bytes StoreLogs keeps on dir's file system (0: no check)

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
// them at most), an 8 MiB block cache, one version per key, no conflict
// detection (writes are serialised by the store) and no expvar metrics.
// Badger runs no compactor goroutines (they wake every 50 ms even when
// nothing is written); internal/badgercompact compacts after writes. Values of 64 KiB or more go to the value log (64 MiB files, which
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
	bo = badgercompact.Options(bo).WithSyncWrites(!opts.NoSync).
		WithLogger(badgerLogger{l: logger.With("component", "badger")}).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithBlockCacheSize(blockCacheSize).
		WithValueThreshold(threshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumVersionsToKeep(1).
		WithBaseLevelSize(baseLevelSize).
		WithDetectConflicts(false).
		WithMetricsEnabled(false)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}
	s := &Store{db: db, logger: logger, dir: dir, compact: badgercompact.Start(db, logger.With("component", "raftbadger"))}
	if !opts.InMemory {
		s.reserve = opts.Reserve
	}
	if err := s.load(); err != nil {
		s.compact.Stop()
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
		s.compact.Stop()
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
