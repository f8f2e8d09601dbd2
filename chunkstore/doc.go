// Package chunkstore stores image chunks on a p2pglance node.
//
// Images are cut into chunks of up to 4 MiB, each named by its BLAKE3-256
// digest (Digest). A Store holds a node's copies; every implementation
// verifies the digest when a chunk is written and again whenever it is
// read, so corrupt bytes are never handed out: a copy that fails
// verification is deleted and reported as ErrCorrupt, and the caller
// fetches a good copy from a peer.
//
// There are two implementations: BadgerStore, the real one, built on
// Badger v4, and MemStore, a map for tests. Package chunkstoretest holds
// the conformance suite both pass.
//
// # Key layout
//
// A BadgerStore keeps three kinds of keys:
//
//	"m/" + digest               chunk record: uint64 size, uint32 segment count
//	"c/" + digest + uint32 i    segment i of the chunk's bytes
//	"r/" + uint32 n             transient value-log rotation fillers
//
// The record is small and lives in the LSM tree, so Has, Size, List and
// the counters opened at start-up never touch chunk bytes. On disk a chunk
// is one segment (only chunks larger than the value-log file size are
// split); in memory mode, where Badger refuses values over 1 MiB, chunks
// are split into 512 KiB segments. A record and its segments are written
// and deleted in one transaction.
//
// # Badger options
//
// The options (see OpenBadger) are tuned for 4 MiB values and a modest
// memory footprint:
//
//   - ValueThreshold 1 KiB: every real chunk goes to the value log, which
//     is append-only and not rewritten by LSM compactions; the LSM tree
//     only holds keys, value pointers and records, so it stays tiny.
//   - MemTableSize 1 MiB, NumMemtables 2: memtables hold keys and
//     pointers only, so small ones hold many thousands of chunks
//     (Badger's default is five of 64 MiB, allocated up front and counted
//     by the Go heap, whose garbage may grow as large; see
//     DefaultMemTableSize).
//   - BlockCacheSize 0, IndexCacheSize 0, Compression none: tables hold
//     no chunk bytes, so there is little to cache (Badger reads blocks
//     straight from its memory-mapped tables; a block cache would cost a
//     megabyte of heap and a ticker); chunk bytes are usually compressed
//     images already and the value log is never compressed anyway.
//   - ValueLogFileSize 64 MiB: space is reclaimed a whole value-log file
//     at a time, so moderately small files free space sooner; see
//     DefaultValueLogFileSize.
//   - ValueLogMaxEntries 256: lets the store force a value-log rotation
//     cheaply (see Reclaim and Close).
//   - NumVersionsToKeep 1, DetectConflicts false: chunks are immutable and
//     content-addressed; the store serialises check-then-write per digest
//     itself, so Badger's conflict tracking would be wasted work.
//   - NumCompactors 0: Badger's compactors wake every 50 ms forever;
//     instead internal/badgercompact compacts after writes, when Badger
//     scores a level as due, so an idle store costs no CPU. Compactions
//     are rare with so small an LSM tree.
//   - VerifyValueChecksum off: Get already verifies BLAKE3 over the whole
//     chunk, so an extra CRC pass over 4 MiB would add nothing.
//   - MetricsEnabled false: avoids Badger's process-global expvar state.
//   - Logger: Badger's warnings and errors go to slog; its chatty INFO
//     and DEBUG lines are dropped.
//
// # Corruption
//
// Badger checks value-log CRCs only when it scans a file: on open (the
// newest file only, which it truncates at the first bad entry) and during
// value-log GC (which stops at the first bad entry, keeps what it moved and
// deletes the file). Either way, chunks after a damaged one lose their
// bytes too; Get then finds them missing, reports ErrCorrupt and drops
// their records, so peers re-replicate them. To keep the open-time case
// from happening, Close rotates the value log so that the newest file is
// empty (see BadgerStore.Close).
//
// # Reclaiming space
//
// Deleting a chunk only writes tombstones. BadgerStore.Reclaim documents
// the sequence that really returns the space to the file system; without
// it the value-log files keep dead chunks indefinitely.
//
// # Dependencies
//
// chunkstore imports only the standard library, Badger, BLAKE3 and the
// shared store helpers under internal (free space, compaction). It must
// not import any other p2pglance package: it knows chunks and digests, not
// images, peers or HTTP, so that node, api and the tests can all use it.
package chunkstore
