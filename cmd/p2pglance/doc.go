// Command p2pglance is the p2pglance agent and its tools: one binary that
// runs on every hypervisor.
//
//	p2pglance agent [flags]     run a node (Glance v2 API, catalog replica, chunk store)
//	p2pglance metadefs load     import metadata definitions (Glance's JSON files) through a node's API
//	p2pglance fetch             download an image to a local file, verified and resumable
//	p2pglance prefetch          put an image on many nodes and follow the job's progress
//	p2pglance version           print the version
//
// main parses flags into node.Config and runs the node under
// signal.NotifyContext, exiting non-zero on error; flags live only in this
// package. The client commands (metadefs load, fetch, prefetch) speak to a node
// over its HTTP API (prefetch reads its job with catalog's Prefetch types).
//
// Nothing imports this package. It must not hold node behaviour (that
// lives in node) and must not reach into raftfsm, chunkstore, gossip or
// clusterauth, which node wires together.
package main
