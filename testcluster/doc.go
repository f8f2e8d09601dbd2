// Package testcluster starts real p2pglance nodes — real Raft, Badger,
// memberlist and HTTP on loopback — several in one process, for tests and
// benchmarks. Nodes get temporary directories and ephemeral ports; a
// cluster can stop, restart and corrupt its nodes. Everything is torn
// down by t.Cleanup.
//
// It drives nodes through node's exported API and, like any client, over
// HTTP. Besides node it imports only chunkstoretest (to damage a stopped
// node's chunks on disk); it must not import api, raftfsm, chunkstore or
// gossip to reach into a node (its tests may use their exported types to
// check answers). Production code must never import it.
package testcluster
