// Package tracker finds who holds which chunk of an image without every
// node knowing everything.
//
// Each image has a few trackers (Config.Trackers, 3 by default): the
// live nodes with the highest rendezvous score HRW(image, node) in the
// gossip member list (hrw.go), which every node computes alike with no
// coordination. A node that joins or leaves changes the trackers of
// only the images whose top k it enters or leaves, about k/N of them.
//
// A [Service] plays three parts on every node:
//
//   - Holder (local.go, announce.go). [Service.Announce],
//     [Service.AnnounceAll] and [Service.Withdraw] change what the node
//     holds; within FlushDelay the changed images are sent to each of
//     their trackers, one batch per tracker (peer.Holdings over the
//     peer protocol), each image's whole bitmap replacing what the
//     tracker had. Per image and tracker the node remembers which
//     version the tracker acknowledged, and that tracker's boot time
//     (gossip metadata): when the member list changes the node
//     re-checks every image's trackers and sends each new tracker, or
//     tracker that restarted, what it lacks. A tracker that fails is
//     backed off (0.5 s doubling to 30 s) and its images stay pending.
//     Every Refresh everything is sent again (a repair of anything
//     missed).
//   - Tracker (table.go). [Service.Record] applies a holder's batch;
//     a batch from the holder's earlier boot is dropped, one from a
//     newer boot replaces all it said before, per image an older
//     version never overwrites a newer one. A holder gossip reports
//     failed, left or restarted is forgotten at once; an entry not
//     heard of for 3 Refresh expires; images this node no longer
//     tracks (a node that outranks it joined) are dropped Settle after
//     the change. [Service.Answer] lists an image's holders with their
//     bitmaps: holders gossip knows dead left out, then the asker's
//     rack, its zone, the others (holders of every chunk first within
//     each), at most the query's limit and peer.MaxHoldersBitmapBytes
//     of bitmaps. An answer is marked partial when this node may not
//     know every holder: it is not one of the image's trackers in its
//     own view, or may have taken the image over lately (it started, or
//     a node that ranks among the image's trackers joined or left,
//     within Settle).
//   - Asker (lookup.go). [Service.Holders] answers "who holds chunk i"
//     from the trackers' answer for the image, kept for LookupTTL (one
//     lookup in flight per image; at most 4,096 answers kept, expired
//     ones dropped every 10 LookupTTL or 10 s). A lookup
//     asks the nearest tracker (itself, its rack, its zone, then RTT)
//     and, if that one fails or answers partial, the next; holders named
//     by two trackers keep the newer of what they said.
//     [Service.FullHolders] asks afresh for holders of every chunk.
//
// Costs, per node, do not grow with the cluster for a fixed number of
// images per node: it keeps its own holdings (its images × k
// acknowledgements), the entries of the images it tracks (about k × the
// images each node holds, on average), and at most 4,096 answers; it
// sends each change to k trackers. What grows with N is only the member
// list, which gossip keeps anyway, and the CPU of computing an image's
// trackers from it (N hashes, done when an image changes and, for every
// held image, when the member list changes).
//
// # Dependencies
//
// tracker imports only the standard library and peer (the wire types
// and the Peers its client implements). The member list comes through
// [Cluster] (node adapts gossip), so it never imports gossip or node.
package tracker
