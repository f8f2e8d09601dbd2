package node

import (
	"sync"
	"sync/atomic"

	"github.com/p2pglance/p2pglance/raftfsm"
)

// metrics are the node's counters beyond the data plane's
// (transfer.Counters).
type metrics struct {
	gcDeleted    atomic.Int64 // chunks deleted by garbage collection
	repairs      atomic.Int64 // images whose placement the leader repaired
	healed       atomic.Int64 // missing durable chunks fetched again (healer)
	authRejected atomic.Int64 // internal HTTP requests refused: no valid cluster authentication
	raftRejected atomic.Int64 // inbound Raft connections refused: failed TLS or secret handshake
	logPolls     atomic.Int64 // log polls answered for downstream replicas
	ckptServed   atomic.Int64 // checkpoints served to downstream replicas
	ckptBytes    atomic.Int64 // ... and their bytes
	forwardedIn  atomic.Int64 // writes other nodes forwarded to this one (as leader)
	peerNet      netBytes     // bytes on internal HTTP connections accepted (netcount.go)
	peerDialed   netBytes     // ... and dialed
	peerRoutes   routeBytes   // internal HTTP requests answered, by route
	raftNet      netBytes     // bytes on Raft connections, accepted and dialed
}

// Metrics is a snapshot of a node's counters.
type Metrics struct {
	CorruptLocal, CorruptPeer    int64
	ServedChunks, ServedBytes    int64
	FetchedChunks, FetchedBytes  int64
	GCDeleted                    int64
	BusyRefusals, BusySkips      int64
	OriginRefusals, OriginSkips  int64
	LastResortBytes              int64
	Stalls, Repairs              int64
	StoredChunks, StoredBytes    int64
	StoreCorruptFound, DiskBytes int64
	// Healed counts durable chunks this node lacked (lost or found
	// corrupt) and fetched again from other holders.
	Healed int64
	// AuthRejected counts internal HTTP requests refused for lack of
	// valid cluster authentication; RaftRejected inbound Raft
	// connections that failed their TLS or cluster-secret handshake.
	AuthRejected, RaftRejected int64
	// LogPollsServed counts the log polls this node answered for the
	// replicas downstream of it; CheckpointsServed and
	// CheckpointBytesServed the certified checkpoints it sent them.
	LogPollsServed, CheckpointsServed, CheckpointBytesServed int64
	// CheckpointInstalls counts the certified checkpoints this replica
	// installed from a peer; CheckpointsCertified its own captures that
	// matched the certified digest, CheckpointsDiverged those that did
	// not.
	CheckpointInstalls, CheckpointsCertified, CheckpointsDiverged int64
	// CatchUps counts this replica's forwarded writes whose answer
	// carried the entries up to the write (applied at once).
	CatchUps int64
	// RevisionWaits counts the requests that carried a catalog revision
	// (X-P2pglance-Revision, the p2pglance-rev cookie) this node had not
	// applied yet and waited for it; Barriers the read barriers this
	// node proposed (a no-op through the leader: Sync).
	RevisionWaits, Barriers int64
	// PeerSentBytes and PeerReceivedBytes count what this node wrote to
	// and read from its internal HTTP connections (requests it served
	// and requests it sent: joins, forwarded writes, chunks), RaftSentBytes
	// and RaftReceivedBytes the same on its Raft connections; bytes on
	// the wire, TLS included, since the node started. Gossip is not
	// counted.
	PeerSentBytes, PeerReceivedBytes int64
	RaftSentBytes, RaftReceivedBytes int64
	// PeerDialedSentBytes is the part of PeerSentBytes sent on the
	// connections this node dialed (its own requests); PeerServed the
	// internal HTTP requests it answered, per route, with their answers'
	// body bytes (the rest of PeerSentBytes is headers and TLS).
	PeerDialedSentBytes int64
	PeerServed          []RouteBytes
}

// Metrics returns the node's counters.
func (n *Node) Metrics() Metrics {
	st := n.chunks.Stats()
	x := n.xfer.Counters()
	return Metrics{
		CorruptLocal: x.CorruptLocal, CorruptPeer: x.CorruptPeer,
		ServedChunks: x.ServedChunks, ServedBytes: x.ServedBytes,
		FetchedChunks: x.FetchedChunks, FetchedBytes: x.FetchedBytes,
		GCDeleted:    n.metrics.gcDeleted.Load(),
		BusyRefusals: x.BusyRefusals, BusySkips: x.BusySkips,
		OriginRefusals: x.OriginRefusals, OriginSkips: x.OriginSkips,
		LastResortBytes: x.LastResort,
		Stalls:          x.Stalls,
		Repairs:         n.metrics.repairs.Load(),
		StoredChunks:    st.Chunks, StoredBytes: st.Bytes, StoreCorruptFound: st.CorruptFound, DiskBytes: st.DiskBytes,
		Healed:       n.metrics.healed.Load(),
		AuthRejected: n.metrics.authRejected.Load(), RaftRejected: n.metrics.raftRejected.Load(),
		RevisionWaits: n.replica.revisionWaits.Load(), Barriers: n.replica.barriers.Load(),
		LogPollsServed: n.metrics.logPolls.Load(), CheckpointsServed: n.metrics.ckptServed.Load(), CheckpointBytesServed: n.metrics.ckptBytes.Load(),
		CheckpointInstalls: n.follower.installs.Load(), CheckpointsCertified: n.ckpt.certified.Load(), CheckpointsDiverged: n.ckpt.diverged.Load(),
		CatchUps:            n.follower.catchUps.Load(),
		PeerSentBytes:       n.metrics.peerNet.sent.Load() + n.metrics.peerDialed.sent.Load(),
		PeerReceivedBytes:   n.metrics.peerNet.received.Load() + n.metrics.peerDialed.received.Load(),
		PeerDialedSentBytes: n.metrics.peerDialed.sent.Load(), PeerServed: n.metrics.peerRoutes.snapshot(),
		RaftSentBytes: n.metrics.raftNet.sent.Load(), RaftReceivedBytes: n.metrics.raftNet.received.Load(),
	}
}

// unprotect forgets the upload of image.
func (n *Node) unprotect(image string) { n.inflight.unprotect(image) }

// changeQueue buffers FSM changes for the node's watcher: Apply pushes
// without blocking, the watcher drains.
type changeQueue struct {
	mu     sync.Mutex
	items  []raftfsm.Change
	signal chan struct{}
}

func newChangeQueue() *changeQueue { return &changeQueue{signal: make(chan struct{}, 1)} }

func (q *changeQueue) push(c raftfsm.Change) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *changeQueue) drain() []raftfsm.Change {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}
