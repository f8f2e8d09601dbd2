// Package transfer is how a node's chunks move: the upload ingest
// pipeline, the download stream and the fetch of a chunk from its
// holders, the one replica fill (upload replicas, copy-image to a zone,
// repair), replica placement and holder ranking, origin protection,
// peer statistics, bandwidth limits and upload slots, the chunk buffer
// pool, and the serving side of the peer chunk routes (GET, PUT and
// missing). A [Transfer] is built by [New] from a [Config] and [Deps];
// package node owns one per node and wires it.
//
// # Files
//
//   - ingest.go: [Transfer.Ingest] — an upload stream cut into chunks,
//     hashed (BLAKE3 per chunk, md5 and sha512 over the stream), stored,
//     pushed to R-1 peers and checked durable on each.
//   - stream.go: [Transfer.Open] — an image's bytes in order, a window of
//     chunk fetches running ahead.
//   - fetch.go: [Transfer.FetchChunk], [Transfer.TryFetchChunk] and
//     [Transfer.FetchFromHolders] — a verified chunk from the local store
//     or the best holder; busy holders skipped, lying or stalling ones
//     demoted.
//   - fill.go: the replica fill ([Transfer.FillLocal], and within
//     Ingest and CopyToZone): ask the target what it lacks, send it, ask
//     again.
//   - zone.go: [Transfer.CopyToZone], [Transfer.ZoneHolds],
//     [Transfer.PlaceInZone] — copies on a node of a zone (stores).
//   - placement.go: [Transfer.PickReplicas], [SpreadPick] (zones, then
//     racks) and [Transfer.RankHolders] (which holder to ask first).
//   - origin.go: origin protection as a holder (refusals and the copies
//     they name).
//   - serve.go: [Transfer.ServeChunk], [Transfer.PutChunk] and
//     [Transfer.Lacking], what node's peer.Server answers with.
//   - limits.go, buffer.go: the token buckets, pooled chunk buffers.
//
// The decisions themselves — holder ranking, per-peer load and
// demotion, the fetch round and its busy hints, upload slots, origin
// protection's state, back-offs, replica spread — live in the pure
// package [policy] (no I/O, time and randomness passed in), which
// node's prefetcher (rarest-first) and the fleet simulator (package
// sim) use too.
//
// # Interfaces
//
// Transfer declares what it needs and nothing more: a chunkstore.Store
// (the node's chunks), a [Cluster] (self, live members with zone, rack
// and RTT, which nodes hold a chunk, and announcing what this node
// holds — gossip's members and node/tracker in production), a [Catalog] (an image as this node's
// replica has it, for origin protection), [Peers] (the peer protocol's
// client, *peer.Client), a [Protector] (keeps chunks of data in progress
// from garbage collection) and [Events] (a corrupt copy dropped, a chunk
// cached). It imports catalog, chunkstore and peer; never node, api,
// raftfsm or gossip.
//
// # Invariants
//
//   - No unverified byte is ever returned: a chunk read locally is
//     verified by the store (a corrupt copy is dropped and reported), a
//     chunk from a peer is checked against its BLAKE3 digest before it is
//     kept, served or streamed; a peer that sent bad bytes is demoted.
//   - Durable before active: Ingest returns a placement only once every
//     node in it has reported, after an fsync, that it holds every chunk
//     (Lacking); the caller commits the manifest after that. Every chunk
//     stored or pushed for an image in progress is protected
//     (Protector) until the caller commits or gives up.
//   - Origin protection: a durable holder serves each chunk of an image
//     once, then sends requesters to the cached copies it knows of; a
//     requester sent away for longer than a second asks as a last
//     resort, which is always served (origin.go).
//   - A node at its upload slot limit refuses at once (busy) with the
//     nodes that hold the chunk, never queues; a requester tries those,
//     then waits briefly when every holder is busy.
package transfer
