package node

import (
	"sync"
	"sync/atomic"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// buffer is one chunk-sized byte slice from the pool.
type buffer struct{ b []byte }

// bufferPool recycles chunk-sized buffers so uploads and downloads do not
// allocate a fresh 4 MiB slice per chunk.
type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	bp := &bufferPool{}
	bp.p.New = func() any { return &buffer{b: make([]byte, size)} }
	return bp
}

func (bp *bufferPool) get() *buffer { return bp.p.Get().(*buffer) }

func (bp *bufferPool) put(b *buffer) {
	b.b = b.b[:cap(b.b)]
	bp.p.Put(b)
}

// metrics are the node's counters.
type metrics struct {
	corruptLocal   atomic.Int64 // local copies found corrupt and dropped
	corruptPeer    atomic.Int64 // chunks a peer sent that failed verification
	servedChunks   atomic.Int64 // chunks served to peers
	servedBytes    atomic.Int64
	fetchedChunks  atomic.Int64 // chunks fetched from peers
	fetchedBytes   atomic.Int64
	gcDeleted      atomic.Int64 // chunks deleted by garbage collection
	busyRefusals   atomic.Int64 // peer chunk requests refused: no free upload slot
	busySkips      atomic.Int64 // holders skipped because they answered busy
	originRefusals atomic.Int64 // chunk requests a durable holder sent to cached copies
	originSkips    atomic.Int64 // durable holders that sent this node to cached copies
	lastResort     atomic.Int64 // bytes served to peers that asked as a last resort
	stalls         atomic.Int64 // peer transfers abandoned for making no progress
	repairs        atomic.Int64 // images whose placement the leader repaired
	healed         atomic.Int64 // missing durable chunks fetched again (healer)
	authRejected   atomic.Int64 // internal HTTP requests refused: no valid cluster authentication
	raftRejected   atomic.Int64 // inbound Raft connections refused: failed TLS or secret handshake
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
}

// Metrics returns the node's counters.
func (n *Node) Metrics() Metrics {
	st := n.chunks.Stats()
	return Metrics{
		CorruptLocal: n.metrics.corruptLocal.Load(), CorruptPeer: n.metrics.corruptPeer.Load(),
		ServedChunks: n.metrics.servedChunks.Load(), ServedBytes: n.metrics.servedBytes.Load(),
		FetchedChunks: n.metrics.fetchedChunks.Load(), FetchedBytes: n.metrics.fetchedBytes.Load(),
		GCDeleted:    n.metrics.gcDeleted.Load(),
		BusyRefusals: n.metrics.busyRefusals.Load(), BusySkips: n.metrics.busySkips.Load(),
		OriginRefusals: n.metrics.originRefusals.Load(), OriginSkips: n.metrics.originSkips.Load(),
		LastResortBytes: n.metrics.lastResort.Load(),
		Stalls:          n.metrics.stalls.Load(),
		Repairs:         n.metrics.repairs.Load(),
		StoredChunks:    st.Chunks, StoredBytes: st.Bytes, StoreCorruptFound: st.CorruptFound, DiskBytes: st.DiskBytes,
		Healed:       n.metrics.healed.Load(),
		AuthRejected: n.metrics.authRejected.Load(), RaftRejected: n.metrics.raftRejected.Load(),
	}
}

// protect records d as part of an upload of image in progress.
func (n *Node) protect(image string, d chunkstore.Digest) { n.inflight.protect(image, d) }

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
