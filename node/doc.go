// Package node wires one p2pglance agent together and does its work: it
// runs hashicorp/raft over the catalog FSM (raftfsm), stores chunks
// (chunkstore), gossips membership and chunk availability (gossip),
// serves the Glance API (api) and the internal peer API, and implements
// api.Backend: it proposes or forwards writes to the leader, streams
// uploads into replicated chunks, streams downloads from local or peer
// chunks, and collects garbage.
//
// Imports, stages, location imports and location pulls are the
// importer's (package node/importer), which node builds over small
// adapters (imports.go); Glance's data format rule is package
// node/imagecheck.
//
// Lifecycle: New opens stores and binds every listener (so tests learn
// the ports at once); Run serves until its context ends, then shuts
// everything down and returns.
package node
