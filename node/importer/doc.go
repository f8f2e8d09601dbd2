// Package importer runs a node's imports: Glance's interoperable image
// import (glance-direct with its stage, web-download, glance-download,
// copy-image), location imports, and the pull of an image whose data is
// still only at its http(s) location. It also recovers, after a restart
// or a node's death, the imports, stages, uploads and pulls left half
// done.
//
// What it owns, file by file:
//   - importer.go: the Importer, its Config, its Run-bounded lifetime (Go,
//     Track) and the import methods it offers.
//   - task.go: how every import-like task starts (record the task, then
//     take the image's import lock, then run in the background), moves to
//     processing, and ends in success or failure (image requeued, stores
//     listed as failed).
//   - import.go, fetch.go, copy.go: the interoperable import methods: the
//     data fetched (web-download, glance-download) or taken from the stage
//     (glance-direct), checked as Glance checks it (package imagecheck),
//     copied to the requested stores (zones), committed.
//   - stage.go: staging data for glance-direct.
//   - locations.go: location imports (HEAD and activate, or read at once
//     with EagerLocations).
//   - pull.go, pull_origin.go: the cluster-wide pull lock, reading an
//     origin once for the whole cluster, and verifying what it serves.
//   - recover.go: the recovery pass over work whose node stopped.
//   - client.go: the one HTTP client every request to an origin or a
//     remote Glance goes through: the import filter (package urlfilter)
//     on the URL, every redirect and the address dialled; credentials
//     kept at their origin; an idle timeout; remote failures reported to
//     tasks without remote details.
//
// The importer does no I/O of its own besides HTTP to origins and remote
// Glances. It works through three narrow interfaces it declares (deps.go)
// and the node implements: Catalog (reads from the local replica, image
// and document writes through Raft, a read barrier), Data (ingest a
// stream into replicated chunks, fetch a verified chunk, copy an image's
// chunks to a zone, garbage-collection protection) and Cluster (this
// node's id, who is alive, leadership, zones). It imports catalog,
// imageformat, node/imagecheck and node/importer/urlfilter, never node,
// api, chunkstore, gossip or raftfsm, so its tests run on fakes.
//
// Lifecycle: New builds it; Run accepts work until its context ends, then
// refuses new work and waits for the running work, whose context ends
// with Run's.
package importer
