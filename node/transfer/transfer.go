package transfer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/transfer/policy"
	"github.com/p2pglance/p2pglance/peer"
)

// Config tunes a Transfer. Zero values are taken as they come: the node
// applies its defaults before it builds one.
type Config struct {
	// ChunkSize is the size of image chunks (and of pooled buffers).
	ChunkSize int
	// Replicas is the number of durable copies of every chunk.
	Replicas int
	// FetchWindow is how many chunks a download keeps in flight.
	FetchWindow int
	// UploadBandwidth and DownloadBandwidth cap, in bytes per second, the
	// chunk bytes served to peers and fetched from peers (0: unlimited).
	UploadBandwidth, DownloadBandwidth int64
	// UploadSlots bounds concurrent chunk uploads to peers.
	UploadSlots int
	// StallTimeout abandons a peer transfer that delivers no byte for
	// that long.
	StallTimeout time.Duration
	// NoCache stops the node from keeping chunks it fetched from peers.
	NoCache bool
	// Logger receives the component's log lines.
	Logger *slog.Logger
}

// Member is one node of the cluster as transfer sees it.
type Member struct {
	ID       string
	PeerAddr string // the node's peer API (host:port); "" if unknown
	Zone     string
	Rack     string
	Alive    bool
	RTT      time.Duration // latest probe round trip; 0 if unknown or self
}

// Cluster is the node's view of the cluster: who is alive and where
// (gossip), and which nodes hold which chunk (the image's trackers,
// node/tracker).
type Cluster interface {
	// Self is this node's id.
	Self() string
	// Members lists every known node, this one included.
	Members() []Member
	// Member returns one node by id.
	Member(id string) (Member, bool)
	// Holders names the nodes announcing chunk idx of an image.
	Holders(imageID string, idx int) []string
	// Announce tells the cluster this node holds chunks have of an image
	// of total chunks.
	Announce(imageID string, total int, have []int)
}

// Catalog is the catalog read origin protection needs.
type Catalog interface {
	// Image returns the image as this node's replica has it.
	Image(id string) (*catalog.Image, error)
}

// Peers is the client of other nodes' peer API (*peer.Client).
type Peers interface {
	// GetChunk streams a chunk from the node at addr (a refusal is a
	// *peer.BusyError).
	GetChunk(ctx context.Context, addr string, req peer.ChunkRequest) (io.ReadCloser, error)
	// PutChunk pushes a chunk to the node at addr.
	PutChunk(ctx context.Context, addr string, put peer.ChunkPut, data []byte) error
	// Missing asks the node at addr which chunks it lacks, held durably.
	Missing(ctx context.Context, addr string, req peer.MissingRequest) ([]string, error)
}

var _ Peers = (*peer.Client)(nil)

// Protector keeps the chunks of data still arriving (an upload, copy or
// replication in progress) from garbage collection.
type Protector interface {
	// Protect records chunk d as part of data of imageID in progress.
	Protect(imageID string, d chunkstore.Digest)
}

// Events are what transfer tells its owner about, to act on.
type Events interface {
	// CorruptDropped says a local copy failed verification and was
	// dropped: a durable copy may need fetching again.
	CorruptDropped()
	// Cached says a chunk of size bytes fetched from a peer was kept.
	Cached(size int64)
}

// Deps are what a Transfer works through.
type Deps struct {
	Store     chunkstore.Store
	Cluster   Cluster
	Catalog   Catalog
	Peers     Peers
	Protector Protector
	Events    Events
}

// Transfer moves a node's chunks: uploads in, downloads out, replicas
// between nodes, and the serving side of the peer chunk routes.
type Transfer struct {
	cfg     Config
	log     *slog.Logger
	chunks  chunkstore.Store
	cluster Cluster
	catalog Catalog
	peers   Peers
	protect Protector
	events  Events

	bufs    *bufferPool
	stats   policy.Stats[string] // this node's view of each peer as a chunk source
	origin  policy.Origin[chunkstore.Digest, string]
	metrics counters

	upLimit, downLimit *rateLimiter
	upSlots            *policy.Slots
}

// New builds a Transfer over deps.
func New(cfg Config, deps Deps) *Transfer {
	return &Transfer{
		cfg:       cfg,
		log:       cfg.Logger,
		chunks:    deps.Store,
		cluster:   deps.Cluster,
		catalog:   deps.Catalog,
		peers:     deps.Peers,
		protect:   deps.Protector,
		events:    deps.Events,
		bufs:      newBufferPool(cfg.ChunkSize),
		upLimit:   newRateLimiter(cfg.UploadBandwidth, cfg.ChunkSize),
		downLimit: newRateLimiter(cfg.DownloadBandwidth, cfg.ChunkSize),
		upSlots:   policy.NewSlots(cfg.UploadSlots),
	}
}

// self is this node's id.
func (t *Transfer) self() string { return t.cluster.Self() }

// Errors.
var (
	// ErrAllBusy is TryFetchChunk's answer when every holder of the chunk
	// is at its upload limit.
	ErrAllBusy = errors.New("every holder of the chunk is busy")
	// ErrBadRange is Open's answer to a range beyond the image.
	ErrBadRange = errors.New("range beyond the image")

	// errStalled is a peer transfer the stall watchdog abandoned.
	errStalled = errors.New("peer transfer stalled")
	// errBadPeerData marks a peer that sent bytes not matching the digest.
	errBadPeerData = errors.New("peer sent data that does not match its digest")
)

// counters are the component's metrics.
type counters struct {
	corruptLocal   atomic.Int64
	corruptPeer    atomic.Int64
	servedChunks   atomic.Int64
	servedBytes    atomic.Int64
	fetchedChunks  atomic.Int64
	fetchedBytes   atomic.Int64
	busyRefusals   atomic.Int64
	busySkips      atomic.Int64
	originRefusals atomic.Int64
	originSkips    atomic.Int64
	lastResort     atomic.Int64
	stalls         atomic.Int64
	// readBytes counts the bytes of chunks read for this node's own use
	// (downloads, prefetch, copies), by where they came from: the local
	// store, or a peer by its Proximity (same rack, same zone, other).
	readBytes [numSources]atomic.Int64
	// localChunks counts the chunks read from the local store.
	localChunks atomic.Int64
}

// The sources of Counters.ReadBytes.
const (
	SourceLocal = iota // the local chunk store
	SourceRack         // a peer in the same rack
	SourceZone         // a peer in the same zone, another rack
	SourceOther        // a peer in another zone
	numSources
)

// SourceNames names the sources of Counters.ReadBytes, by index.
var SourceNames = [numSources]string{"local", "peer_rack", "peer_zone", "peer_other"}

// Counters is a snapshot of a Transfer's metrics.
type Counters struct {
	CorruptLocal   int64 // local copies found corrupt and dropped
	CorruptPeer    int64 // chunks a peer sent that failed verification
	ServedChunks   int64 // chunks served to peers
	ServedBytes    int64
	FetchedChunks  int64 // chunks fetched from peers
	FetchedBytes   int64
	BusyRefusals   int64 // peer chunk requests refused: no free upload slot
	BusySkips      int64 // holders skipped because they answered busy
	OriginRefusals int64 // chunk requests a durable holder sent to cached copies
	OriginSkips    int64 // durable holders that sent this node to cached copies
	LastResort     int64 // bytes served to peers that asked as a last resort
	Stalls         int64 // peer transfers abandoned for making no progress
	// ReadBytes counts the chunk bytes read for this node's own use, by
	// source (SourceLocal ...; SourceNames).
	ReadBytes [numSources]int64
	// LocalChunks counts the chunks read from the local store.
	LocalChunks int64
}

// Counters returns the component's metrics.
func (t *Transfer) Counters() Counters {
	m := &t.metrics
	c := Counters{
		CorruptLocal: m.corruptLocal.Load(), CorruptPeer: m.corruptPeer.Load(),
		ServedChunks: m.servedChunks.Load(), ServedBytes: m.servedBytes.Load(),
		FetchedChunks: m.fetchedChunks.Load(), FetchedBytes: m.fetchedBytes.Load(),
		BusyRefusals: m.busyRefusals.Load(), BusySkips: m.busySkips.Load(),
		OriginRefusals: m.originRefusals.Load(), OriginSkips: m.originSkips.Load(),
		LastResort: m.lastResort.Load(), Stalls: m.stalls.Load(),
		LocalChunks: m.localChunks.Load(),
	}
	for i := range m.readBytes {
		c.ReadBytes[i] = m.readBytes[i].Load()
	}
	return c
}
