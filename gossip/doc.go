// Package gossip tells the nodes of a p2pglance cluster about each other and
// about which chunks of which image every node holds.
//
// It is built on hashicorp/memberlist (SWIM membership, failure detection,
// piggybacked gossip and periodic TCP push/pull). Each node publishes a small
// JSON [Meta] record as its memberlist node metadata, and keeps, for every
// node and every image, a bitmap with one bit per chunk.
//
// # Availability bitmaps
//
// A bitmap is split into segments of [SegmentChunks] chunks (512 bytes), so an
// update for any segment fits comfortably in one UDP gossip packet even with
// encryption and maximum-length identifiers. Bit i of a segment lives in byte
// i/8, bit i%8 (least significant bit first).
//
// Every local change gets a version from a per-node hybrid clock
// (max(last+1, unix nanoseconds)), so versions grow monotonically even across
// restarts of the same node id. A receiver applies an update for
// (origin, image, segment) only if it is newer than what it already has, so
// reordered or duplicated messages never regress state. Withdrawals are
// image-level tombstones carrying a version: they drop every older segment.
//
// # Wire format
//
// Gossip messages (memberlist user messages), all integers unsigned varints,
// strings as varint length followed by bytes:
//
//	segment:  0x01 origin image version total segment enc [bits]
//	withdraw: 0x02 origin image version
//
// enc is 0 for raw bits (exactly ceil(n/8) bytes follow, n = number of chunks
// in that segment) or 1 when every chunk of the segment is held (no bytes
// follow). Updates that a node applies are re-queued on its own
// TransmitLimitedQueue, so they spread epidemically; a newer update for the
// same (origin, image, segment) — or a newer withdrawal of the image —
// invalidates an older queued one.
//
// The push/pull state (LocalState / MergeRemoteState) is a deterministic,
// sorted dump of everything the node knows about every live origin:
//
//	0x01 sender nOrigins { origin watermark nImages { image floor total nSegs { segment version enc [bits] } } }
//
// The watermark of an origin section says "this section is complete for every
// version up to here": the receiver forgets items of that origin at or below
// the watermark that the section does not contain, and from then on ignores
// updates at or below it. For the sender's own section the watermark is its
// current version, which is how a node that missed broadcasts, joined late,
// or restarted converges.
//
// Holdings of a node are forgotten as soon as memberlist reports it dead or
// left, and [Gossip.Holders] only ever returns live nodes.
//
// # Encryption and key rotation
//
// With [Config.SecretKey] every message is encrypted and authenticated
// by memberlist's keyring. While a key is rotated out ([Config.PreviousKey])
// a node accepts both keys and announces, in its metadata, short ids of
// the keys it holds; it sends under the previous key until every other
// member holds the new one (keys.go), so nodes restarted one by one onto
// a new key, then again without the old, never send what another member
// cannot decrypt.
//
// # Idle cost
//
// An idle node sends and receives a few memberlist packets a second
// (probes, acks). Two memberlist defaults made each cost far more than
// its bytes: its UDP transport reads every packet into a fresh 64 KiB
// buffer, and compression builds a fresh 64 KiB LZW table for every
// message. New binds its own transport (nettransport.go: memberlist's,
// but packets are copied out of one reused buffer at their size) and
// turns compression off (a node still reads compressed messages).
//
// # Test seams
//
// [Config] holds production settings only ([Config.Timing] tunes
// memberlist's timers). Tests pass [WithTransport] to [New] to run gossip
// over a network whose links they can cut: New binds the UDP and TCP
// transport itself and hands it to the wrapper (node/nodetest drops
// packets and refuses streams between partitioned nodes).
//
// # Dependencies
//
// gossip imports only the standard library, hashicorp/memberlist and
// go-sockaddr (memberlist's, for the address to advertise). Its
// surface is in strings (node ids, image ids, hex digests) so that it
// never imports chunkstore, raftfsm, api or node; node adapts it.
package gossip
