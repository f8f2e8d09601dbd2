// Package raftfsm replicates p2pglance's image catalog: the commands that
// change the records of package catalog (images, members, documents), the
// deterministic hashicorp/raft FSM that applies those commands, snapshots,
// and the in-memory catalog that answers reads, lists, filters and
// pagination from the local replica: compact image records (record.go)
// under copy-on-write B-trees (google/btree), one per sort key and filter
// index (index.go, state.go, list.go).
//
// Commands are one type byte followed by a JSON body. Apply never chooses
// IDs or timestamps: the proposer does. Every change records the Raft log
// index that made it as the image's Revision; an update carries the
// revision it was computed from and fails with ErrConflict if the image
// has changed since, so concurrent writers never silently overwrite each
// other.
//
// The package imports only catalog, the standard library, hashicorp/raft
// and google/btree (the Badger log store lives in raftbadger).
package raftfsm
