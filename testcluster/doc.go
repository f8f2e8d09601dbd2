// Package testcluster starts real p2pglance nodes — real Raft, Badger,
// memberlist and HTTP on loopback — several in one process, for tests and
// benchmarks. Nodes get temporary directories and ephemeral ports; a
// cluster can stop, restart and corrupt its nodes. Everything is torn
// down by t.Cleanup.
package testcluster
