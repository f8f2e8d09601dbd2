package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/internal/reqid"
	"github.com/p2pglance/p2pglance/metadefs"
	"github.com/p2pglance/p2pglance/node/importer"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
	"github.com/p2pglance/p2pglance/node/tracker"
	"github.com/p2pglance/p2pglance/node/transfer"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
	"github.com/p2pglance/p2pglance/raftfsm/raftbadger"
)

// Node is one p2pglance agent.
type Node struct {
	cfg      Config
	id       string
	log      *slog.Logger
	net      Network // node-to-node traffic (hostNetwork unless WithNetwork)
	inMemory bool    // the InMemory option

	fsm      *raftfsm.FSM
	replica  *replica       // the catalog as the API and the node's parts read and write it
	members  *membership    // joins, voters, rejoining lost gossip members
	holdings *holdings      // what this node tells its images' trackers it holds
	view     *clusterView   // the cluster as this node sees it
	upkeep   *upkeep        // start-up catch-up, the leader's periodic duties
	follower *follower      // a replica's pull of the log (follower.go)
	ckpt     *checkpoints   // certified catalog checkpoints (checkpoints.go)
	feed     *catalogServer // feeds downstream replicas (catalog_serve.go)
	// raft is nil on a node that restarted as a replica; on one that
	// became a replica at its first join it is shut down.
	raft      *raft.Raft
	logStore  *raftbadger.Store
	transport *raft.NetworkTransport
	chunks    chunkstore.Store
	gossip    *gossip.Gossip

	// Who holds which chunk (node/tracker, wired in holdings.go), and
	// gossip's members with the trackers' holders as the jobs read them.
	tracker *tracker.Service
	cluster nodeCluster

	apiLn, peerLn net.Listener
	apiSrv        *http.Server
	peerSrv       *http.Server
	metricsLn     net.Listener // --metrics-addr; nil: metrics on the API port
	metricsSrv    *http.Server
	client        *http.Client // node-to-node HTTP, under peerClient
	peerClient    *peer.Client // the internal API of other nodes

	prom       *promMetrics // GET /metrics (metrics.go)
	usageCache usageCache   // the store usage, reused briefly (usage.go)
	health     *health      // /healthcheck and /p2p/v1/ready (health.go)
	notifier   *notifier    // Glance's notifications; nil unless configured (notifications.go)

	sec     *security // cluster secret and TLS (security.go)
	metrics metrics
	xfer    *transfer.Transfer // how chunks move (package node/transfer; wired in transfer.go)

	inflight *inflightSet // chunks of uploads in progress, kept from GC and eviction

	// The background jobs (jobs.go wires them).
	prefetcher *prefetcher // pre-seeding jobs (api.Prefetcher)
	cache      *cache      // the Glance cache API and eviction (api.Cache)
	collector  *collector  // garbage collection
	healer     *healer     // restores missing chunks of this node's durable copies
	repairer   *repairer   // gives images with lost durable holders new ones

	// cachedSinceEvict counts bytes cached since the last budget check.
	cachedSinceEvict atomic.Int64
	ready            atomic.Bool // the replica has caught up with the leader once since start
	started          time.Time   // when New ran
	changes          *changeQueue
	locked           *imageIndex // images with an upload lock (imageindex.go)
	placed           *imageIndex // images by durable holder, and short placements (imageindex.go)
	closeErr         error

	imports      *importer.Importer // imports, stages and location pulls, bounded by Run's context
	importFilter *urlfilter.Policy  // which URLs imports and locations may read (import_config.go)
}

// New builds a node: it opens the stores, binds every listener and
// starts Raft and gossip. Call Run to serve; Run shuts it all down.
// Production passes no options (they are test seams).
func New(cfg Config, opts ...Option) (*Node, error) {
	o := options{net: hostNetwork{}}
	for _, opt := range opts {
		opt(&o)
	}
	cfg.applyDefaults()
	if err := cfg.validate(!o.inMemory); err != nil {
		return nil, fmt.Errorf("node config: %w", err)
	}
	n := &Node{
		started:  time.Now(),
		cfg:      cfg,
		net:      o.net,
		inMemory: o.inMemory,
		fsm:      raftfsm.New(),
		inflight: newInflightSet(),
		changes:  newChangeQueue(),
		follower: newFollower(),
	}
	n.replica = &replica{fsm: n.fsm, follower: n.follower, writeTimeout: cfg.WriteTimeout, peerAddr: func(id string) string { return n.view.peerAddr(id) }}
	sec, err := newSecurity(cfg, cfg.Logger, &n.metrics.authRejected)
	if err != nil {
		return nil, fmt.Errorf("node config: %w", err)
	}
	n.sec = sec
	if n.importFilter, err = n.newImportFilter(); err != nil {
		return nil, fmt.Errorf("node config: %w", err)
	}
	own := &http.Transport{DialContext: countDial(n.net.DialContext, &n.metrics.peerDialed), MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, TLSClientConfig: sec.peerClientTLS}
	n.client = &http.Client{Transport: n.net.PeerTransport(own)}
	if err := n.open(); err != nil {
		n.closeAll()
		return nil, err
	}
	n.imports = n.newImporter()
	return n, nil
}

// open does New's work; on error the caller releases what was opened.
func (n *Node) open() error {
	cfg := n.cfg
	var err error
	if !n.inMemory {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	if n.id, err = loadNodeID(cfg, n.inMemory); err != nil {
		return err
	}
	n.log = slog.New(reqid.Handler(cfg.Logger.Handler())).With("node", n.id)
	n.sec.log = n.log
	n.sec.warnExposed()
	n.peerClient = n.sec.peerClient(n.client, n.id)
	n.locked = newImageIndex(n.fsm, lockedKeys)
	n.placed = newImageIndex(n.fsm, placedKeys)
	if n.notifier, err = n.newNotifier(); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	n.fsm.SetObserver(func(c raftfsm.Change) {
		n.locked.note(c)
		n.placed.note(c)
		n.changes.push(c)
		n.notifier.kick()
	})

	n.chunks, err = chunkstore.OpenBadger(n.dataPath("chunks"), chunkstore.BadgerOptions{InMemory: n.inMemory, Logger: n.log, Reserve: max(n.cfg.DiskReserve, 0)})
	if err != nil {
		return fmt.Errorf("open chunk store: %w", err)
	}
	if n.apiLn, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return fmt.Errorf("listen api: %w", err)
	}
	if cfg.MetricsAddr != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("listen metrics: %w", err)
		}
	}
	if n.peerLn, err = n.net.Listen("tcp", cfg.PeerAddr); err != nil {
		return fmt.Errorf("listen peer: %w", err)
	}
	n.peerLn = countListener(n.peerLn, &n.metrics.peerNet)
	if n.sec.apiTLS != nil {
		n.apiLn = tls.NewListener(n.apiLn, n.sec.apiTLS)
	}
	if n.sec.peerServerTLS != nil {
		n.peerLn = tls.NewListener(n.peerLn, n.sec.peerServerTLS)
	}
	if err := n.startCatalog(); err != nil {
		return err
	}
	n.replica.raft, n.replica.forward = n.raft, n.peerClient
	n.prom, n.health = newPromMetrics(), &health{n: n}
	n.replica.observe = n.prom.observeWrite
	if n.raft != nil {
		n.prom.watchLeader(n.raft, n.notifier.kick)
	}
	n.tracker = n.newTracker()
	gossipKey, gossipPrevious := n.sec.gossipKeys()
	n.gossip, err = gossip.New(gossip.Config{
		Meta: gossip.Meta{
			ID: n.id, APIAddr: n.apiLn.Addr().String(), PeerAddr: n.peerLn.Addr().String(),
			RaftAddr: n.RaftAddr(), Zone: cfg.Zone, Rack: cfg.Rack, Labels: cfg.Labels,
			Boot: n.started.UnixNano(),
		},
		BindAddr:    cfg.GossipAddr,
		SecretKey:   gossipKey,
		PreviousKey: gossipPrevious,
		Logger:      n.log,
		Timing:      cfg.Timing.Gossip,
		OnChange:    n.tracker.MembershipChanged,
	}, gossip.WithTransport(n.net.GossipTransport))
	if err != nil {
		return fmt.Errorf("start gossip: %w", err)
	}
	n.follower.gossip, n.follower.client = n.gossip, n.peerClient
	n.feed = &catalogServer{
		fsm: n.fsm, ckpt: n.ckpt, follower: n.follower, raft: n.raft, heartbeat: cfg.Timing.HeartbeatTimeout,
		peerAddr: func(id string) string { return n.view.peerAddr(id) }, pollers: make(chan struct{}, maxLogPollers),
		polls: &n.metrics.logPolls, served: &n.metrics.ckptServed, servedSize: &n.metrics.ckptBytes,
	}
	n.view = &clusterView{self: n.id, raft: n.raft, follower: n.follower, applied: n.fsm.AppliedIndex, gossip: n.gossip, client: n.peerClient, localUsage: n.usage}
	n.cluster = nodeCluster{Gossip: n.gossip, t: n.tracker}
	n.holdings = &holdings{chunks: n.chunks, tracker: n.tracker, fsm: n.fsm}
	n.members = &membership{
		self: n.id, raftAddr: n.RaftAddr(), join: cfg.Join, voters: cfg.Voters, rejoinEvery: cfg.Timing.RejoinInterval,
		raft: n.raft, gossip: n.gossip, client: n.peerClient, log: n.log,
		follower: n.follower, becomeReplica: n.becomeReplica,
	}
	n.xfer = n.newTransfer()
	n.wireJobs()
	n.upkeep = &upkeep{
		self: n.id, started: n.started, uploadGrace: cfg.UploadGrace, repairGrace: cfg.RepairGrace,
		replica: n.replica, eachLocked: func(fn func(*catalog.Image) bool) { n.locked.each(lockedKey, fn) }, gossip: n.gossip, ready: &n.ready, log: n.log,
		kickGC: n.kickGC, announceAll: n.holdings.announceAll, repair: n.repairer.pass,
	}
	n.prom.collectNode(n)
	apiCfg := api.Config{
		Backend: n, Cache: n.cache, Prefetcher: n.prefetcher, Logger: n.log, Auth: cfg.Auth, Keystone: cfg.Keystone, MaxImageSize: cfg.MaxImageSize,
		LinearizableReads:     cfg.LinearizableReads,
		MaxConcurrentRequests: cfg.MaxConcurrentRequests, TransferIdleTimeout: cfg.TransferIdleTimeout,
		AllowURL:   func(u string) bool { return n.importFilter.CheckURI(u) == nil },
		Extensions: []api.Extension{metadefs.New(n.replica, n.log)},
		Observer:   n.prom, Health: n.health, HealthcheckDisableFile: cfg.HealthcheckDisableFile, Fleet: fleet{n},
	}
	if n.notifier != nil {
		apiCfg.ImageSent = func(_ context.Context, img *catalog.Image, project, user string, sent, want int64) {
			n.notifier.imageSent(img, project, user, sent, want)
		}
	}
	if n.metricsLn == nil {
		apiCfg.Metrics = n.prom.handler()
	} else {
		n.metricsSrv = &http.Server{Handler: n.prom.handler(), ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.KeepAliveTimeout, MaxHeaderBytes: maxHeaderBytes}
	}
	apiSrv, err := api.New(apiCfg)
	if err != nil {
		return fmt.Errorf("build api: %w", err)
	}
	n.apiSrv = &http.Server{Handler: apiSrv, ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.KeepAliveTimeout, MaxHeaderBytes: maxHeaderBytes}
	n.peerSrv = &http.Server{Handler: countRoutes(n.sec.guardPeer(n.peerRoutes()), &n.metrics.peerRoutes), ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.KeepAliveTimeout, MaxHeaderBytes: maxHeaderBytes}
	return nil
}

// loadNodeID returns the configured id, or the one saved in the data
// directory, or a new one (saved unless the node is in memory).
func loadNodeID(cfg Config, inMemory bool) (string, error) {
	if cfg.NodeID != "" {
		return cfg.NodeID, nil
	}
	if inMemory {
		return uuid.NewString(), nil
	}
	path := filepath.Join(cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := uuid.NewString()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("save node id: %w", err)
	}
	return id, nil
}

// dataPath is a path under the data directory ("" in memory mode).
func (n *Node) dataPath(name string) string {
	if n.inMemory {
		return ""
	}
	return filepath.Join(n.cfg.DataDir, name)
}

// ID returns the node's id.
func (n *Node) ID() string { return n.id }

// APIAddr returns the bound Glance API address.
func (n *Node) APIAddr() string { return n.apiLn.Addr().String() }

// MetricsAddr returns the address serving GET /metrics: the metrics
// listener's (Config.MetricsAddr), or the API's.
func (n *Node) MetricsAddr() string {
	if n.metricsLn != nil {
		return n.metricsLn.Addr().String()
	}
	return n.APIAddr()
}

// PeerAddr returns the bound internal HTTP address.
func (n *Node) PeerAddr() string { return n.peerLn.Addr().String() }

// GossipAddr returns the bound memberlist address.
func (n *Node) GossipAddr() string { return n.gossip.Addr() }

// RaftAddr returns the Raft transport address ("" on a replica that
// restarted: it has none).
func (n *Node) RaftAddr() string {
	if n.transport == nil {
		return ""
	}
	return string(n.transport.LocalAddr())
}

// Run serves until ctx ends, then shuts the node down. It returns the
// first error of any of its servers or loops.
func (n *Node) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	serve := func(srv *http.Server, ln net.Listener) func() error {
		return func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
			return nil
		}
	}
	g.Go(serve(n.apiSrv, n.apiLn))
	g.Go(serve(n.peerSrv, n.peerLn))
	servers := []*http.Server{n.apiSrv, n.peerSrv}
	if n.metricsSrv != nil {
		g.Go(serve(n.metricsSrv, n.metricsLn))
		servers = append(servers, n.metricsSrv)
	}
	if len(n.cfg.Join) > 0 {
		n.sec.warnInsecure()
	}
	g.Go(func() error { return n.members.joinCluster(gctx) })
	g.Go(func() error { n.watchChanges(gctx); return nil })
	g.Go(func() error { n.follower.run(gctx); return nil })
	g.Go(func() error { n.ckpt.run(gctx); return nil })
	g.Go(func() error { n.collector.run(gctx); return nil })
	g.Go(func() error { n.upkeep.leaderLoop(gctx); return nil })
	g.Go(func() error { n.prefetcher.run(gctx); return nil })
	g.Go(func() error { n.upkeep.recoverUploads(gctx); return nil })
	g.Go(func() error { n.imports.Run(gctx); return nil })
	g.Go(func() error { n.members.rejoinLoop(gctx); return nil })
	g.Go(func() error { n.healer.run(gctx); return nil })
	g.Go(func() error { n.tracker.Run(gctx); return nil })
	if n.notifier != nil {
		g.Go(func() error { n.notifier.run(gctx); return nil })
	}
	g.Go(func() error {
		<-gctx.Done()
		// Let requests in flight finish for a moment, then cut them.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range servers {
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
			}
		}
		return nil
	})
	err := g.Wait()
	n.shutdown()
	if err != nil {
		return err
	}
	return n.closeErr
}

// shutdown leaves gossip and stops Raft and the stores.
func (n *Node) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n.gossip != nil {
		_ = n.gossip.Leave(ctx)
	}
	n.closeAll()
}

// closeAll releases whatever New managed to open.
func (n *Node) closeAll() {
	var errs []error
	if n.gossip != nil {
		errs = append(errs, n.gossip.Shutdown())
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.transport != nil {
		// Close releases only the listener: pooled connections to peers
		// stay open, and so do the peers' goroutines reading them.
		n.transport.CloseStreams()
		errs = append(errs, n.transport.Close())
	}
	if n.logStore != nil {
		errs = append(errs, n.logStore.Close())
	}
	if n.chunks != nil {
		errs = append(errs, n.chunks.Close())
	}
	for _, ln := range []net.Listener{n.apiLn, n.peerLn, n.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	n.client.CloseIdleConnections()
	n.closeErr = errors.Join(errs...)
}
