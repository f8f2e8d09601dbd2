package node

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/transfer"
	"github.com/p2pglance/p2pglance/peer"
)

// promMetrics are the node's Prometheus metrics, served at GET /metrics:
// the API's requests (api.RequestObserver), catalog writes, leader
// changes, and at each scrape the node's counters and state
// (nodeCollector). Each node has its own registry: a test runs several
// nodes in one process.
type promMetrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // route, method, code
	duration      *prometheus.HistogramVec // route, method
	responseBytes *prometheus.CounterVec   // route
	inFlight      prometheus.Gauge
	transfers     *prometheus.GaugeVec     // direction: upload, download
	writes        *prometheus.HistogramVec // kind: write, barrier
	leaderChanges prometheus.Counter
}

const namespace = "p2pglance"

// newPromMetrics makes the registry; collectNode adds what reads the
// node's parts, once they are wired.
func newPromMetrics() *promMetrics {
	m := &promMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "api", Name: "requests_total",
			Help: "Glance API requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Time to answer a Glance API request, body transfer included, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 600},
		}, []string{"route", "method"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "api", Name: "response_bytes_total",
			Help: "Body bytes the Glance API answered, by route template.",
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "api", Name: "requests_in_flight",
			Help: "Glance API requests being served.",
		}),
		transfers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "api", Name: "image_transfers_in_flight",
			Help: "Image data uploads (upload, stage) and downloads being served.",
		}, []string{"direction"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "catalog", Name: "write_duration_seconds",
			Help:    "Time from proposing a catalog write on this node (kind write, forwarded to the leader or not) or a read barrier (barrier) to its application here; on the leader, from receiving a forwarded write to its application (forwarded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"kind"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "raft", Name: "leader_changes_total",
			Help: "Times this voter saw a new Raft leader.",
		}),
	}
	m.transfers.WithLabelValues("upload")
	m.transfers.WithLabelValues("download")
	m.reg.MustRegister(m.requests, m.duration, m.responseBytes, m.inFlight, m.transfers, m.writes, m.leaderChanges,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// collectNode registers the collector of n's counters and state.
func (m *promMetrics) collectNode(n *Node) { m.reg.MustRegister(&nodeCollector{n: n}) }

// handler serves the registry in Prometheus' text (or negotiated) format.
func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var _ api.RequestObserver = (*promMetrics)(nil)

// transferDirection tells which image data transfer a request is, or "".
func transferDirection(route, method string) string {
	switch {
	case route == api.RouteImageFile && method == http.MethodGet:
		return "download"
	case (route == api.RouteImageFile || route == api.RouteImageStage) && method == http.MethodPut:
		return "upload"
	}
	return ""
}

// RequestStarted implements api.RequestObserver.
func (m *promMetrics) RequestStarted(route, method string) {
	m.inFlight.Inc()
	if d := transferDirection(route, method); d != "" {
		m.transfers.WithLabelValues(d).Inc()
	}
}

// RequestDone implements api.RequestObserver.
func (m *promMetrics) RequestDone(route, method string, status int, written int64, took time.Duration) {
	m.inFlight.Dec()
	if d := transferDirection(route, method); d != "" {
		m.transfers.WithLabelValues(d).Dec()
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(took.Seconds())
	if written > 0 {
		m.responseBytes.WithLabelValues(route).Add(float64(written))
	}
}

// Kinds of catalog writes timed (p2pglance_catalog_write_duration_seconds).
const (
	writeLocal     = "write"     // proposed on this node, forwarded to the leader or not
	writeBarrier   = "barrier"   // a read barrier proposed on this node
	writeForwarded = "forwarded" // on the leader: a write another node forwarded, committed and applied
)

// observeWrite records a catalog write's (or barrier's) latency.
func (m *promMetrics) observeWrite(kind string, took time.Duration) {
	m.writes.WithLabelValues(kind).Observe(took.Seconds())
}

// watchLeader counts this voter's leader changes, and calls changed on
// each: a Raft observer whose filter does the work and sends nothing, so
// no goroutine has to drain it.
func (m *promMetrics) watchLeader(r *raft.Raft, changed func()) {
	r.RegisterObserver(raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" {
			m.leaderChanges.Inc()
			changed()
		}
		return false
	}))
}

// nodeCollector reads the node's counters and state at each scrape.
type nodeCollector struct{ n *Node }

// Describe sends every metric the collector may send (not by collecting:
// registration comes before the node's parts are all wired).
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range nodeDescs {
		ch <- d
	}
}

func desc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
}

var (
	descReadBytes       = desc("chunk", "read_bytes_total", "Chunk bytes this node read for its own use (downloads, prefetch, copies, heals), by source: the local store or a peer in the same rack, the same zone or another zone.", "source")
	descOriginBytes     = desc("origin", "read_bytes_total", "Bytes read from remote origins: web-download and glance-download sources, http(s) image locations.")
	descServedBytes     = desc("peer", "served_bytes_total", "Chunk bytes this node served to peers.")
	descServedChunks    = desc("peer", "served_chunks_total", "Chunks this node served to peers.")
	descVerifyFailures  = desc("chunk", "verification_failures_total", "Chunks that failed their BLAKE3 check: a local copy (dropped) or a peer's answer (the peer demoted and another asked).", "source")
	descBusy            = desc("peer", "busy_refusals_total", "Chunk requests this node refused for want of a free upload slot.")
	descStalls          = desc("peer", "stalled_transfers_total", "Peer chunk transfers abandoned for making no progress (the peer demoted).")
	descCacheHits       = desc("cache", "hits_total", "Chunk reads this node answered from its own store.")
	descCacheMisses     = desc("cache", "misses_total", "Chunk reads this node had to fetch from a peer.")
	descEvictedChunks   = desc("cache", "evicted_chunks_total", "Cached chunks evicted (cache delete, clear, prune, or over the budget).")
	descEvictedBytes    = desc("cache", "evicted_bytes_total", "Bytes of cached chunks evicted.")
	descStoreBytes      = desc("store", "bytes", "Bytes of chunks in this node's store: pinned (durable copies) or cached (evictable). Refreshed at most every 5s.", "kind")
	descStoreBudget     = desc("store", "cache_budget_bytes", "Cache budget (--cache-budget); 0: unlimited.")
	descStoreChunks     = desc("store", "chunks", "Chunks in this node's store.")
	descStoreDisk       = desc("store", "disk_bytes", "Disk space the chunk store's files take.")
	descRole            = desc("raft", "role", "1 for this node's role: leader, voter (follower or candidate) or replica (outside Raft, pulling the log from peers).", "role")
	descTerm            = desc("raft", "term", "Raft's current term (voters).")
	descCommit          = desc("raft", "commit_index", "Raft's commit index (voters); on a replica the highest applied index its upstream answered.")
	descApplied         = desc("catalog", "applied_index", "Last catalog log entry this node applied.")
	descForwardedIn     = desc("raft", "forwarded_writes_received_total", "Catalog writes other nodes forwarded to this one as leader.")
	descForwardedOut    = desc("raft", "forwarded_writes_sent_total", "Catalog writes (and read barriers) this node forwarded to the leader.")
	descLogPolls        = desc("catalog", "log_polls_served_total", "Log polls this node answered for replicas downstream of it.")
	descCheckpoints     = desc("catalog", "checkpoint_installs_total", "Certified catalog checkpoints this replica installed from a peer.")
	descMembers         = desc("gossip", "members", "Cluster members as gossip sees them, by state.", "state")
	descPrefetchJobs    = desc("prefetch", "jobs", "Prefetch jobs in the catalog, by state.", "state")
	descPrefetchChunks  = desc("prefetch", "node_chunks", "This node's progress on each prefetch job it is running: chunks done and in all (the job's image: GET /p2p/v1/prefetch/JOB).", "job", "kind")
	descRepairs         = desc("repair", "images_total", "Images whose lost durable copies the leader placed anew.")
	descHealed          = desc("repair", "healed_chunks_total", "Durable chunks this node lacked (lost or corrupt) and fetched again.")
	descGCDeleted       = desc("gc", "deleted_chunks_total", "Chunks deleted by garbage collection.")
	descNetBytes        = desc("network", "bytes_total", "Bytes on this node's internal connections, TLS included, by channel (peer HTTP, Raft) and direction.", "channel", "direction")
	descAuthRejected    = desc("security", "rejected_requests_total", "Internal requests and Raft connections refused for failed cluster authentication.", "channel")
	descNotifPublished  = desc("notifications", "published_total", "Notifications this node published and the broker confirmed (the leader publishes the catalog's, each node its own image.send).")
	descNotifFailures   = desc("notifications", "failures_total", "Publish attempts that failed (retried).")
	descNotifDropped    = desc("notifications", "dropped_total", "image.send notifications dropped for want of room while the broker was unreachable.")
	descNotifOutbox     = desc("notifications", "outbox", "Events in the catalog's outbox, not yet published.")
	descReady           = desc("", "ready", "1 when GET /p2p/v1/ready answers ready.")
	descNodeInfo        = desc("", "node_info", "Constant 1, labelled with this node's id, zone and rack.", "node", "zone", "rack")
	descCatalogLagNodes = desc("catalog", "lag_entries", "Catalog entries this node is behind the commit index it knows of.")
)

// nodeDescs are the collector's metrics.
var nodeDescs = []*prometheus.Desc{
	descNotifPublished, descNotifFailures, descNotifDropped, descNotifOutbox, descReadBytes, descOriginBytes, descServedBytes, descServedChunks, descVerifyFailures, descBusy, descStalls, descCacheHits, descCacheMisses, descEvictedChunks, descEvictedBytes, descStoreBytes, descStoreBudget, descStoreChunks, descStoreDisk, descRole, descTerm, descCommit, descApplied, descForwardedIn, descForwardedOut, descLogPolls, descCheckpoints, descMembers, descPrefetchJobs, descPrefetchChunks, descRepairs, descHealed, descGCDeleted, descNetBytes, descAuthRejected, descReady, descNodeInfo, descCatalogLagNodes,
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	x := n.xfer.Counters()
	for i, name := range transfer.SourceNames {
		counter(descReadBytes, x.ReadBytes[i], name)
	}
	counter(descOriginBytes, n.imports.OriginBytes())
	counter(descServedBytes, x.ServedBytes)
	counter(descServedChunks, x.ServedChunks)
	counter(descVerifyFailures, x.CorruptLocal, "local")
	counter(descVerifyFailures, x.CorruptPeer, "peer")
	counter(descBusy, x.BusyRefusals)
	counter(descStalls, x.Stalls)
	// A hit is a chunk read from the local store; a miss one fetched
	// from a peer.
	counter(descCacheHits, x.LocalChunks)
	counter(descCacheMisses, x.FetchedChunks)
	counter(descEvictedChunks, n.cache.evictedChunks.Load())
	counter(descEvictedBytes, n.cache.evictedBytes.Load())
	st := n.chunks.Stats()
	gauge(descStoreChunks, float64(st.Chunks))
	gauge(descStoreDisk, float64(st.DiskBytes))
	if u, ok := c.storeUsage(); ok {
		gauge(descStoreBytes, float64(u.PinnedBytes), "pinned")
		gauge(descStoreBytes, float64(u.CacheBytes), "cached")
	}
	gauge(descStoreBudget, float64(n.cfg.CacheBudget))

	rd := n.health.Readiness(context.Background())
	for _, role := range []string{"leader", "voter", "replica"} {
		v := 0.0
		if rd.Role == role {
			v = 1
		}
		gauge(descRole, v, role)
	}
	if n.raft != nil && !n.follower.active.Load() {
		gauge(descTerm, float64(n.raft.CurrentTerm()))
	}
	gauge(descCommit, float64(rd.CommitIndex))
	gauge(descApplied, float64(rd.AppliedIndex))
	gauge(descCatalogLagNodes, float64(rd.Lag))
	ready := 0.0
	if rd.Ready {
		ready = 1
	}
	gauge(descReady, ready)
	counter(descForwardedIn, n.metrics.forwardedIn.Load())
	counter(descForwardedOut, n.replica.forwarded.Load())
	counter(descLogPolls, n.metrics.logPolls.Load())
	counter(descCheckpoints, n.follower.installs.Load())

	alive, suspect, dead := n.gossip.MemberStates()
	gauge(descMembers, float64(alive), "alive")
	gauge(descMembers, float64(suspect), "suspect")
	gauge(descMembers, float64(dead), "dead")

	states := map[string]int{"pending": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
	if jobs, err := n.prefetcher.Prefetches(context.Background()); err == nil {
		for _, j := range jobs {
			states[j.State]++
		}
	}
	for s, v := range states {
		gauge(descPrefetchJobs, float64(v), s)
	}
	for _, r := range n.prefetcher.localRuns() {
		gauge(descPrefetchChunks, float64(r.ChunksDone), r.job, "done")
		gauge(descPrefetchChunks, float64(r.ChunksTotal), r.job, "total")
	}

	counter(descRepairs, n.metrics.repairs.Load())
	counter(descHealed, n.metrics.healed.Load())
	counter(descGCDeleted, n.metrics.gcDeleted.Load())
	counter(descNetBytes, n.metrics.peerNet.sent.Load()+n.metrics.peerDialed.sent.Load(), "peer", "sent")
	counter(descNetBytes, n.metrics.peerNet.received.Load()+n.metrics.peerDialed.received.Load(), "peer", "received")
	counter(descNetBytes, n.metrics.raftNet.sent.Load(), "raft", "sent")
	counter(descNetBytes, n.metrics.raftNet.received.Load(), "raft", "received")
	counter(descAuthRejected, n.metrics.authRejected.Load(), "peer")
	counter(descAuthRejected, n.metrics.raftRejected.Load(), "raft")
	gauge(descNodeInfo, 1, n.id, n.cfg.Zone, n.cfg.Rack)
	gauge(descNotifOutbox, float64(len(n.fsm.State().Docs(catalog.OutboxKind))))
	if nt := n.notifier; nt != nil {
		counter(descNotifPublished, nt.published.Load())
		counter(descNotifFailures, nt.failures.Load())
		counter(descNotifDropped, nt.dropped.Load())
	}
}

// storeUsage returns the store's pinned and cached bytes.
func (c *nodeCollector) storeUsage() (peer.Usage, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := c.n.usage(ctx)
	return u, err == nil
}
