package chunkstore

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/p2pglance/p2pglance/internal/badgercompact"
)

// Defaults used for zero BadgerOptions fields.
const (
	// DefaultValueLogFileSize is the default size at which a value-log file
	// is rotated: 16 full chunks. Value-log GC reclaims space one whole
	// file at a time and never touches the file being written, so smaller
	// files give back space sooner and waste less; larger files mean fewer
	// open files and memory maps (64 MiB is about 16k files per TiB).
	DefaultValueLogFileSize = 64 << 20
	// DefaultMemTableSize is the default memtable size on disk. Memtables
	// only hold keys, value pointers and chunks smaller than
	// valueThreshold, so a small one holds thousands of chunks (more than
	// ten GiB of 4 MiB chunks) before it is written out. Badger allocates a
	// whole memtable up front (an arena 1.3 times its size, for the
	// largest batch); untouched it costs no RSS, but the Go heap counts
	// it as live, and the GC lets as much garbage pile up (resident)
	// before it collects: on an idle replica, whose live heap is a few
	// MiB, the memtable is a large part of its RSS.
	DefaultMemTableSize = 1 << 20
	// DefaultInMemoryMemTableSize is the default memtable size in memory
	// mode, where chunk bytes live in the LSM tree: a transaction may use
	// 15% of a memtable, which must fit a whole 4 MiB chunk.
	DefaultInMemoryMemTableSize = 64 << 20
	// DefaultBlockCacheSize is the default Badger block cache size: none.
	// Blocks hold keys and value pointers only and are not compressed, so
	// a cache would only save re-parsing memory-mapped blocks, and it
	// costs a ristretto cache's megabyte of heap and a ticker.
	DefaultBlockCacheSize = 0
)

const (
	// valueThreshold is the size from which a value goes to the value log
	// instead of the LSM tree: every real chunk does, tiny tail chunks
	// stay next to their keys.
	valueThreshold = 1 << 10
	// inMemoryThreshold is the ValueThreshold in memory mode: Badger's
	// maximum, and the largest value it accepts there.
	inMemoryThreshold = 1 << 20
	// inMemorySegment is the largest value written in memory mode; bigger
	// chunks are split. It is below inMemoryThreshold because Badger
	// v4.9.6 panics in memory mode on a value of exactly the threshold.
	inMemorySegment = inMemoryThreshold / 2
	// valueLogMaxEntries rotates a value-log file after this many entries
	// (besides ValueLogFileSize). It is low so that Reclaim and Close can
	// force a rotation by writing valueLogMaxEntries+1 tiny fillers.
	valueLogMaxEntries = 256
	// maxChunkSize bounds the size a chunk record may claim before Get
	// allocates for it (Badger values are below 2 GiB anyway).
	maxChunkSize = 1 << 31
	// numStripes is the number of per-digest write locks.
	numStripes = 64
	// listPage is how many chunks List reads per read transaction.
	listPage = 1024
	// gcDiscardRatio is the fraction of a value-log file that must be dead
	// before value-log GC rewrites it.
	gcDiscardRatio = 0.5
)

// BadgerOptions configure OpenBadger. The zero value is a good default.
type BadgerOptions struct {
	// InMemory keeps everything in memory (dir must then be ""). Meant for
	// tests; Reclaim still compacts deleted chunks away.
	InMemory bool
	// SyncWrites fsyncs every Put and Delete. Without it, writes are
	// durable after Sync (or Close).
	SyncWrites bool
	// Logger receives Badger's warnings and errors and the store's own
	// messages; nil means slog.Default().
	Logger *slog.Logger
	// ValueLogFileSize is the value-log file rotation size in bytes
	// (0 = DefaultValueLogFileSize; Badger requires 1 MiB to 2 GiB).
	// Chunks larger than this are split into several values.
	ValueLogFileSize int64
	// MemTableSize is the memtable size in bytes (0 = DefaultMemTableSize,
	// or DefaultInMemoryMemTableSize with InMemory).
	MemTableSize int64
	// BlockCacheSize is the block cache size in bytes
	// (0 = DefaultBlockCacheSize, negative = no cache).
	BlockCacheSize int64
	// Reserve is the free space, in bytes, Put keeps on the store's file
	// system: a new chunk that would leave less is refused with
	// ErrNoSpace before Badger writes anything (Badger writes through
	// memory-mapped files: on a full file system the process dies of
	// SIGBUS). The reserve also leaves room for Badger's own flushes and
	// compactions. 0: no check; ignored with InMemory.
	Reserve int64
}

// OpenBadger opens (creating if needed) a BadgerStore in dir.
func OpenBadger(dir string, opts BadgerOptions) (*BadgerStore, error) {
	bo, err := badgerOptions(dir, opts)
	if err != nil {
		return nil, err
	}
	if !opts.InMemory {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create chunk store dir: %w", err)
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}
	s := &BadgerStore{
		db:      db,
		compact: badgercompact.Start(db, logger(opts)),
		dir:     dir,
		log:     logger(opts),
		inMem:   opts.InMemory,
		segSize: bo.ValueLogFileSize,
	}
	if !opts.InMemory {
		s.reserve = opts.Reserve
	}
	if opts.InMemory {
		s.segSize = inMemorySegment
	}
	if err := s.loadCounters(); err != nil {
		s.compact.Stop()
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func logger(opts BadgerOptions) *slog.Logger {
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return l.With("component", "chunkstore")
}

// badgerOptions translates opts into Badger options; see the package
// documentation for the reasons behind each choice.
func badgerOptions(dir string, opts BadgerOptions) (badger.Options, error) {
	if opts.InMemory && dir != "" {
		return badger.Options{}, fmt.Errorf("open chunk store: InMemory with dir %q: %w", dir, os.ErrInvalid)
	}
	if !opts.InMemory && dir == "" {
		return badger.Options{}, fmt.Errorf("open chunk store: empty dir: %w", os.ErrInvalid)
	}
	vlogSize := opts.ValueLogFileSize
	if vlogSize == 0 {
		vlogSize = DefaultValueLogFileSize
	}
	memSize := opts.MemTableSize
	if memSize == 0 {
		memSize = DefaultMemTableSize
		if opts.InMemory {
			memSize = DefaultInMemoryMemTableSize
		}
	}
	cache := opts.BlockCacheSize
	switch {
	case cache == 0:
		cache = DefaultBlockCacheSize
	case cache < 0:
		cache = 0
	}
	threshold := int64(valueThreshold)
	if opts.InMemory {
		threshold = inMemoryThreshold
	}
	bo := badgercompact.Options(badger.DefaultOptions(dir)).
		WithInMemory(opts.InMemory).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{logger(opts).With("component", "badger")}).
		WithNumVersionsToKeep(1).
		WithValueThreshold(threshold).
		WithValueLogFileSize(vlogSize).
		WithValueLogMaxEntries(valueLogMaxEntries).
		WithMemTableSize(memSize).
		WithNumMemtables(2).
		WithCompression(options.None).
		WithBlockCacheSize(cache).
		WithIndexCacheSize(0).
		WithDetectConflicts(false).
		WithMetricsEnabled(false)
	return bo, nil
}

// loadCounters initialises the chunk and byte counters from the chunk
// records, which live in the LSM tree (no value-log reads).
func (s *BadgerStore) loadCounters() error {
	var n, b int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: metaPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m chunkMeta
			err := it.Item().Value(func(v []byte) error {
				var err error
				m, err = decodeMeta(v)
				return err
			})
			if err != nil {
				s.log.Warn("unreadable chunk record", "key", string(it.Item().Key()), "err", err)
				continue
			}
			n++
			b += m.size
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count chunks: %w", err)
	}
	s.chunks.Store(n)
	s.bytes.Store(b)
	return nil
}
