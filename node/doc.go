// Package node wires one p2pglance agent together and does its work: it
// runs hashicorp/raft over the catalog FSM (raftfsm), stores chunks
// (chunkstore), gossips membership (gossip), tells each image's
// trackers what it holds and asks them who holds what (node/tracker),
// serves the Glance API (api) and the internal peer API (peer: node is
// its Server and speaks to other nodes through its Client), and
// implements api.Backend: it proposes or forwards writes to the leader,
// and commits uploads.
//
// How chunks move — the upload ingest, the download stream, the fetch
// from holders, the one replica fill that serves upload, copy-image and
// repair, placement, origin protection, limits, and the serving side of
// the peer chunk routes — is package node/transfer's: node builds one
// Transfer over small adapters (transfer.go: gossip as its cluster view,
// the replica's catalog, GC protection, heal and cache-budget events),
// delegates OpenImage and the peer chunk routes to it, and commits what
// its Ingest returns (upload.go).
//
// The background jobs are components with their own files, each
// declaring the narrow dependencies it needs, which jobs.go wires over
// the node: the prefetcher runs pre-seeding jobs (api.Prefetcher), the
// cache serves Glance's cache API and evicts cached chunks (api.Cache),
// the collector deletes garbage chunks, the healer restores missing
// chunks of this node's durable copies and the repairer gives images
// whose durable holders are lost new ones. Their loops run under Run's
// context.
//
// Imports, stages, location imports and location pulls are the
// importer's (package node/importer), which node builds over small
// adapters (imports.go); Glance's data format rule is package
// node/imagecheck.
//
// Lifecycle: New opens stores and binds every listener (so tests learn
// the ports at once); Run serves until its context ends, then shuts
// everything down and returns.
//
// # Test seams
//
// Config holds production settings only; Config.Timing holds the Raft
// and gossip timers, with defaults for a LAN, which tests shorten by
// setting them. What only tests and benchmarks change comes in as an
// Option to New, never through Config, and production passes none:
//
//   - WithNetwork(nw) carries the node's traffic with other nodes over a
//     Network (network.go): the internal HTTP and Raft listeners, dials to
//     peers, the peer HTTP transport and gossip's memberlist transport.
//     Production uses the host's network (hostNetwork).
//   - InMemory() keeps the chunk store and the Raft log and snapshots in
//     memory.
//
// The implementations live in node/nodetest (Network, whose links tests
// cut to partition a cluster, and Timing, short timers for nodes on one
// host); testcluster wires them into every cluster it starts. gossip has
// the matching seam, gossip.WithTransport.
package node
