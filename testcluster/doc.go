// Package testcluster starts real p2pglance nodes — real Raft, Badger,
// memberlist and HTTP on loopback — several in one process, for tests and
// benchmarks. Nodes get temporary directories and ephemeral ports; a
// cluster can stop, restart and corrupt its nodes, and partition them.
// Everything is torn down by t.Cleanup.
//
// Every node runs with node/nodetest's short timers (nodetest.Timing) and
// on the cluster's nodetest.Network, through node.WithNetwork: Partition
// and Heal cut and restore its links. InMemory and WithPeerTransport set
// the node's other test seams (see node/nodetest's documentation).
//
// It drives nodes through node's exported API and, like any client, over
// HTTP. Besides node it imports only node/nodetest (the test seams above)
// and chunkstoretest (to damage a stopped node's chunks on disk); it must
// not import api, raftfsm, chunkstore or gossip to reach into a node (its
// tests may use their exported types to check answers). Production code
// must never import it.
package testcluster
