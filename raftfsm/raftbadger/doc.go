// Package raftbadger implements the hashicorp/raft LogStore and StableStore
// interfaces on top of Badger v4.
//
// A single Badger database holds four key spaces, distinguished by a one-byte
// prefix:
//
//   - 'l' + 8-byte big-endian index: raft log entries, so Badger's sorted key
//     order is log order and FirstIndex/LastIndex are single seeks;
//   - 's' + key: byte values written with Set;
//   - 'u' + key: uint64 values written with SetUint64 (a separate namespace,
//     exactly like raft.InmemStore);
//   - 'm' + name: internal metadata (an in-flight operation marker and a
//     lower bound for the first index).
//
// # Semantics
//
// The store mirrors raft.InmemStore wherever raft relies on behaviour:
// FirstIndex and LastIndex return 0 on an empty log; GetLog of a missing index
// returns raft.ErrLogNotFound (unwrapped, raft compares with ==); Get of a
// missing key returns a nil value and ErrKeyNotFound, whose message is
// exactly "not found" because raft compares err.Error() with that string;
// GetUint64 of a missing key returns 0 and a nil error.
//
// # Durability and atomicity
//
// Writes use Badger's SyncWrites, so StoreLogs, DeleteRange, Set and
// SetUint64 return only after the data is fsynced (unless Options.NoSync is
// set, which is meant for tests and benchmarks only).
//
// StoreLogs and DeleteRange are all-or-nothing across crashes. A batch that
// fits into one Badger transaction is committed as such. A batch too big for
// one transaction (Badger caps a transaction at 15% of the memtable size) is
// split into several transactions; the first one also records a marker naming
// the index range and the last one removes it. If the process dies in
// between, Open finds the marker and rolls an interrupted StoreLogs back
// (deleting the batch's index range) or rolls an interrupted DeleteRange
// forward (finishing the deletion). The one caveat: if an interrupted split
// StoreLogs overwrote entries that already existed, the roll-back deletes
// them instead of restoring the old values. Raft never does this; it always
// truncates conflicting entries with DeleteRange before appending.
//
// If a split operation fails at run time (rather than by a crash), StoreLogs
// rolls back what it committed and returns the error. Should that roll-back,
// or a split DeleteRange, fail half-way, the store refuses further log
// mutations until it is reopened, so that Open's recovery cannot remove
// entries written afterwards.
//
// DeleteRange shrinks the cached bounds before deleting, so FirstIndex and
// LastIndex never name an entry that is already gone.
//
// # Space reclamation
//
// DeleteRange writes Badger tombstones; entries stored inline in the LSM tree
// (values smaller than 64 KiB) are reclaimed by LSM compaction, which runs
// after writes once Badger scores it as due (internal/badgercompact).
// Larger entries live in the value log, which Badger only shrinks through
// value-log garbage collection, so an on-disk Store runs DB.RunValueLogGC
// (discard ratio 0.5) every five minutes in a background goroutine until it
// finds nothing more to rewrite. A persisted lower bound on the first index
// lets Open skip the tombstones that compaction has not yet dropped.
//
// # Dependencies
//
// raftbadger imports only the standard library, Badger and hashicorp/raft.
// It stores opaque Raft log entries and must not import raftfsm or any
// other p2pglance package.
package raftbadger
