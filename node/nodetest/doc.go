// Package nodetest holds what tests and benchmarks plug into a node and
// production never does; testcluster and the benchmark's fleet import it.
//
//   - Timing returns Raft and gossip timers short enough that nodes on one
//     host notice a failed node and elect a new leader within a second or
//     two (node.Config.Timing; production keeps the defaults).
//   - Network is a loopback network between the nodes of one process
//     whose links can be cut: Partition splits it into groups that cannot
//     reach each other, Heal joins it again. Network.Node(id) is that
//     node's view, passed to node.New with the node.WithNetwork option.
//
// # Test seams
//
// Production settings live in node.Config and gossip.Config. The hooks
// that let tests change how a node works live outside them:
//
//   - node.New(cfg, opts ...node.Option): node.WithNetwork(nw) carries the
//     node's traffic with other nodes over nw (node.Network: Listen and
//     DialContext for the internal HTTP and Raft ports, PeerTransport for
//     its requests to peers, GossipTransport for memberlist); the default
//     is the host's network. node.InMemory() keeps the stores in memory.
//   - gossip.New(cfg, opts ...gossip.Option): gossip.WithTransport wraps
//     memberlist's transport (node passes Network.GossipTransport).
//   - testcluster wires them: every cluster has one Network, its Partition
//     and Heal methods cut and restore links, testcluster.InMemory and
//     testcluster.WithPeerTransport set the other hooks, and every node
//     runs with Timing.
//
// A Network's view of one node cuts every node-to-node path: accepted
// connections from a cut-off node are closed at once (internal HTTP and
// Raft listeners), dials to it fail as a refused dial would (so callers
// know nothing was sent), requests to it fail before they are sent,
// gossip packets to or from it are dropped, and connections already open
// across a new partition are closed. The Glance API stays reachable.
//
// # Dependencies
//
// nodetest imports node and gossip (for the types of their hooks),
// hashicorp/memberlist and the standard library, but not testing, so the
// benchmark binary can use Timing. The p2pglance binary and every
// production package must never import it.
package nodetest
