package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/p2pglance/p2pglance/api/keystone"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// Defaults.
const (
	DefaultChunkSize = 4 << 20
	// DefaultDiskReserve is the free space kept on the data directory's
	// file system (Config.DiskReserve).
	DefaultDiskReserve = 256 << 20
	DefaultReplicas    = 3
	// DefaultUploadSlots is small on purpose: a node serving two chunks
	// at a time gives each half its bandwidth, so a fetched chunk becomes
	// a source for others sooner than with many slow transfers (the
	// fleet benchmark: p50 0.99x of S/B with 2 slots, 1.37x with 8).
	DefaultUploadSlots = 2
	DefaultVoters      = 3
	// DefaultCheckpointEvery keeps the log a node holds for the replicas
	// downstream of it to a few thousand entries.
	DefaultCheckpointEvery = 2048
)

// Config configures a Node. Zero values take the defaults in
// applyDefaults; Validate reports what cannot be defaulted.
type Config struct {
	// NodeID names the node in Raft and gossip. Empty: read from
	// DataDir/node-id, or generated and saved there on first start.
	NodeID string
	// DataDir holds the chunk store, the Raft log and snapshots.
	DataDir string
	// APIAddr is the Glance API listen address (host:port; port 0 picks one).
	APIAddr string
	// PeerAddr is the internal HTTP listen address (forwarded writes,
	// joins, chunk transfer).
	PeerAddr string
	// RaftAddr is the Raft TCP transport address.
	RaftAddr string
	// GossipAddr is the memberlist address (TCP and UDP).
	GossipAddr string
	// Join lists peer addresses (PeerAddr of any existing node) to join.
	// Empty on a node's first start: it bootstraps a new cluster.
	Join []string
	// Zone and Rack label where the node is.
	Zone, Rack string
	// Labels are extra key/value labels (prefetch jobs can target them).
	Labels map[string]string
	// Replicas is the number of durable copies of every chunk.
	Replicas int
	// Voters is the number of Raft voters; later nodes join as replicas,
	// outside Raft, pulling the committed log from their peers.
	Voters int
	// CheckpointEvery is how many log entries the leader lets pass
	// between catalog checkpoints (0: DefaultCheckpointEvery); a replica
	// further behind than its upstream's log installs one.
	CheckpointEvery int
	// FanoutDegree is how many replicas one replica feeds in its rack
	// (and how many racks or zones a head feeds) in the log's
	// distribution tree (0: node/fanout's default).
	FanoutDegree int
	// Auth is the API auth mode ("noauth" or "keystone").
	Auth string
	// Keystone configures token validation when Auth is "keystone".
	Keystone keystone.Config
	// ChunkSize is the size of image chunks.
	ChunkSize int
	// FetchWindow is how many chunks a download keeps in flight.
	FetchWindow int
	// UploadBandwidth and DownloadBandwidth cap, in bytes per second, the
	// chunk bytes this node serves to peers and fetches from peers (0:
	// unlimited).
	UploadBandwidth, DownloadBandwidth int64
	// UploadSlots bounds concurrent chunk uploads to peers; a peer asking
	// when every slot is taken is told "busy" at once, with the nodes
	// known to hold the chunk, and goes elsewhere (0: DefaultUploadSlots).
	UploadSlots int
	// StallTimeout abandons a peer transfer that delivers no byte for
	// that long (0: 5s).
	StallTimeout time.Duration
	// NoCache stops a node from keeping chunks it fetched from peers.
	NoCache bool
	// CacheBudget is how many bytes of cached chunks (those the node
	// does not hold as a durable copy) POST /v2/cache/prune leaves; 0 is
	// unlimited.
	CacheBudget int64
	// CachePrefetchInterval is Glance's cache_prefetcher_interval: images
	// queued with PUT /v2/cache/{id} are listed as queued until the next
	// prefetch pass, which runs that long after the first of them was
	// queued (0: 5m, Glance's default; negative: at once).
	CachePrefetchInterval time.Duration
	// ShowMultipleLocations and ShowImageDirectURL are Glance's
	// show_multiple_locations and show_image_direct_url: image JSON
	// shows "locations" (and PATCH may change them), and "direct_url".
	ShowMultipleLocations, ShowImageDirectURL bool
	// Timing tunes Raft's and gossip's timers: how quickly a failed node
	// is noticed and a new leader elected (zero fields: defaults for a
	// LAN).
	Timing Timing
	// WriteTimeout bounds how long a write waits for the leader (0: 10s):
	// a node that cannot reach one (no quorum, or on the minority side of
	// a partition) then refuses the write with 503.
	WriteTimeout time.Duration
	// DiskReserve is the free space, in bytes, the node keeps on its data
	// directory's file system: a chunk write that would leave less is
	// refused (uploads answer 413, as Glance does when its store is full),
	// and a Raft log write that would leave less than a quarter of it (the
	// catalog keeps working on a disk full of chunks), because the stores
	// write through memory-mapped files and a full disk would kill the
	// process. 0: DefaultDiskReserve; negative: no check.
	DiskReserve int64
	// GCInterval is how often garbage collection runs (0: 1 minute).
	GCInterval time.Duration
	// OrphanGrace protects chunks pushed or stored for data whose image
	// shows no sign of it arriving (0: 2 minutes; tests shorten it).
	OrphanGrace time.Duration
	// RepairGrace is how long a durable holder may be gone before the
	// leader has its images copied elsewhere (0: 5 minutes).
	RepairGrace time.Duration
	// UploadGrace is how long an uploading node may be gone before the
	// leader returns its image to queued (0: 30s).
	UploadGrace time.Duration
	// MaxConcurrentRequests bounds the API requests served at once (0:
	// the api package's default; negative: no bound).
	MaxConcurrentRequests int
	// TransferIdleTimeout ends an API body read or response write that
	// makes no progress for that long (0: the api default).
	TransferIdleTimeout time.Duration
	// HeaderTimeout is how long a client (API or peer) may take to send a
	// request's headers before its connection is closed (slowloris); 0:
	// 30s.
	HeaderTimeout time.Duration
	// KeepAliveTimeout closes a kept-alive connection idle that long
	// between requests; 0: 2 minutes.
	KeepAliveTimeout time.Duration
	// MetricsAddr, when set, serves GET /metrics (Prometheus) on its own
	// listener instead of the API port.
	MetricsAddr string
	// HealthcheckDisableFile: while this file exists, GET /healthcheck
	// answers 503 "DISABLED BY FILE" (draining a node from its load
	// balancer; oslo.middleware's disable_by_file_path). "": none.
	HealthcheckDisableFile string
	// NotificationTransportURL, when set, publishes Glance's
	// notifications to this RabbitMQ (oslo.messaging's transport URL,
	// rabbit://USER:PASS@HOST:PORT/VHOST); NotificationTopics are the
	// topics (empty: "notifications"); NotificationPublisherID the
	// publisher_id (empty: "image.HOSTNAME"); NotificationDurable makes
	// the exchange and queues durable (oslo's amqp_durable_queues);
	// DisabledNotifications lists event types or groups not sent
	// (Glance's disabled_notifications).
	NotificationTransportURL string
	NotificationTopics       []string
	NotificationPublisherID  string
	NotificationDurable      bool
	DisabledNotifications    []string
	// MaxImageSize caps one image's data (0: 1 TiB).
	MaxImageSize int64
	// LinearizableReads makes every API read pass a read barrier first
	// (api.Config.LinearizableReads).
	LinearizableReads bool
	// EagerLocations makes adding an http(s) location read the origin at
	// once (as a web-download does) instead of on the image's first
	// download.
	EagerLocations bool
	// LocationPullTimeout bounds one pull of an image from its location,
	// including the wait for another node's pull (0: 1 hour).
	LocationPullTimeout time.Duration
	// ImportFilter is Glance's [import_filtering_opts] for every URL the
	// cluster reads for a user (web-download, import tasks, http(s)
	// locations) and every redirect: nil lists take Glance's defaults
	// (schemes http and https, ports 80 and 443), empty ones are empty.
	// On top, unless a URL's host is in ImportFilter.AllowedHosts, no
	// internal address (loopback, link-local, private, unique-local,
	// multicast, ...) and no address of a node of the cluster is
	// connected to; see package node/importer/urlfilter.
	ImportFilter urlfilter.Rules
	// ImportIdleTimeout fails a web-download, glance-download or location
	// read whose remote sends no byte for that long (0: 60s, as the API's
	// TransferIdleTimeout; negative: none).
	ImportIdleTimeout time.Duration
	// QuotaImageCount, QuotaImageSizeTotal and QuotaStageTotal are the
	// per-project limits Glance calls image_count_total, image_size_total
	// and image_stage_total (sizes in bytes); 0 means unlimited.
	QuotaImageCount, QuotaImageSizeTotal, QuotaStageTotal int64
	// GlanceDownloadEndpoints maps a region name to the Glance endpoint
	// (e.g. http://glance.r2:9292) that glance-download imports from; the
	// method is enabled when it is not empty.
	GlanceDownloadEndpoints map[string]string
	// GlanceDownloadProperties are the prefixes of the custom
	// properties a glance-download copies from the remote image
	// (Glance's [glance_download_properties] extra_properties); nil:
	// Glance's default, DefaultGlanceDownloadProperties.
	GlanceDownloadProperties []string
	// SnapshotThreshold and TrailingLogs tune Raft snapshots (0: 4096
	// each); tests lower them to exercise snapshot install and restore.
	SnapshotThreshold, TrailingLogs uint64
	// ClusterSecret, when set (at least 16 bytes, the same on every
	// node), authenticates all node-to-node traffic: internal HTTP
	// requests and answers are signed, Raft connections start with a
	// mutual handshake, gossip is encrypted; a node without it is
	// refused. Empty: none of that (a warning is logged once when the
	// node is part of a cluster), and Validate refuses a peer, Raft or
	// gossip address beyond loopback unless mutual peer TLS
	// authenticates it or Insecure is set.
	ClusterSecret string
	// ClusterSecretPrevious, set while the cluster secret is rotated,
	// is the secret being replaced: the node accepts requests, answers,
	// Raft connections and gossip under either secret, and signs with
	// both (gossip is sent under the previous one until every member
	// holds the current one), so nodes restarted one by one with the
	// new secret as ClusterSecret and the old as ClusterSecretPrevious,
	// then once more without it, never refuse each other.
	ClusterSecretPrevious string
	// TLSCert and TLSKey (PEM files) serve the Glance API over HTTPS.
	TLSCert, TLSKey string
	// PeerTLSCert and PeerTLSKey (PEM files) serve the internal HTTP
	// API and Raft over TLS and are the node's client certificate
	// towards peers; PeerTLSCA (PEM) is the CA peers' certificates must
	// chain to, checked both ways (mutual TLS). Every node of a cluster
	// must use peer TLS or none; peer TLS without a CA is refused.
	PeerTLSCert, PeerTLSKey, PeerTLSCA string
	// Insecure lets a node start whose peer, Raft or gossip address is
	// not loopback with neither a cluster secret nor mutual peer TLS:
	// anyone who reaches those ports is then a member. It is logged as
	// a warning at start and again when the node joins or is joined.
	Insecure bool
	// Logger receives the node's logs; nil discards.
	Logger *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:9292"
	}
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Voters <= 0 {
		c.Voters = DefaultVoters
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = DefaultCheckpointEvery
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 5 * time.Second
	}
	if c.UploadSlots <= 0 {
		c.UploadSlots = DefaultUploadSlots
	}
	if c.FetchWindow <= 0 {
		c.FetchWindow = 4
	}
	if c.CachePrefetchInterval == 0 {
		c.CachePrefetchInterval = 5 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.RepairGrace <= 0 {
		c.RepairGrace = 5 * time.Minute
	}
	if c.UploadGrace <= 0 {
		c.UploadGrace = 30 * time.Second
	}
	if c.MaxImageSize <= 0 {
		c.MaxImageSize = 1 << 40
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = 30 * time.Second
	}
	if c.KeepAliveTimeout <= 0 {
		c.KeepAliveTimeout = 2 * time.Minute
	}
	if c.LocationPullTimeout <= 0 {
		c.LocationPullTimeout = time.Hour
	}
	if c.OrphanGrace <= 0 {
		c.OrphanGrace = orphanGrace
	}
	if c.DiskReserve == 0 {
		c.DiskReserve = DefaultDiskReserve
	}
	if c.GCInterval <= 0 {
		c.GCInterval = time.Minute
	}
	if c.Auth == "" {
		c.Auth = "noauth"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Timing.applyDefaults()
}

// Validate reports configuration errors.
func (c *Config) Validate() error { return c.validate(true) }

// validate is Validate; a node with in-memory stores (the InMemory
// option) needs no data directory.
func (c *Config) validate(needDataDir bool) error {
	var errs []error
	if c.DataDir == "" && needDataDir {
		errs = append(errs, errors.New("data dir is required"))
	}
	for name, addr := range map[string]string{"peer": c.PeerAddr, "raft": c.RaftAddr, "gossip": c.GossipAddr} {
		if addr == "" {
			errs = append(errs, fmt.Errorf("%s address is required", name))
		}
	}
	if c.NodeID != "" && !validNodeID(c.NodeID) {
		errs = append(errs, fmt.Errorf("node id %q: want 1 to %d printable characters without spaces", c.NodeID, gossip.MaxNodeIDLen))
	}
	if c.ChunkSize > 64<<20 {
		errs = append(errs, fmt.Errorf("chunk size %d is over 64 MiB", c.ChunkSize))
	}
	if c.Voters%2 == 0 {
		errs = append(errs, fmt.Errorf("voters must be odd, got %d", c.Voters))
	}
	if c.CacheBudget < 0 {
		errs = append(errs, fmt.Errorf("cache budget must not be negative, got %d", c.CacheBudget))
	}
	errs = append(errs, c.validateImport()...)
	errs = append(errs, c.validateSecurity()...)
	return errors.Join(errs...)
}
