// Package gossip tells the nodes of a p2pglance cluster about each other:
// who is a member, who is alive, where each one is (zone, rack) and how
// to reach it, and the round-trip time to each.
//
// It is built on hashicorp/memberlist (SWIM membership, failure detection,
// piggybacked gossip and periodic TCP push/pull). Each node publishes a small
// JSON [Meta] record as its memberlist node metadata, including its boot
// time ([Meta.Boot]), so the others can tell a restart from a node that
// merely stayed up.
//
// # What gossip does not carry
//
// Nothing but the member list and each member's metadata: no user
// messages and no push/pull state of its own (delegate.go). Which node
// holds which chunk used to travel here, every node keeping every other
// node's bitmaps and every push/pull carrying all of them, O(N × images
// held) per node; it is now kept by a few trackers per image (package
// node/tracker, over the peer protocol), which read the member list and
// boot times from here. A message or push/pull state an older node still
// sends is ignored.
//
// [Config.OnChange] is called (coalesced, on its own goroutine) when a
// member joins, fails, leaves or changes its metadata; node/tracker
// reacts to it.
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
// go-sockaddr (memberlist's, for the address to advertise). Its surface
// is in strings and small records (node ids, addresses, Meta) so that it
// never imports chunkstore, raftfsm, api or node; node adapts it.
package gossip
