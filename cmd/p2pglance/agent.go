package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// processFlags are the agent's flags that set up the process rather than
// the node.
type processFlags struct {
	logLevel    string
	logFormat   string
	memoryLimit int64 // bytes; 0: none
}

// agentFlags parses the agent's flags into a node.Config. Every flag can
// also be set by the environment variable P2PGLANCE_<FLAG> (upper case,
// dashes as underscores); a flag on the command line wins.
func agentFlags(args []string, stderr io.Writer) (*node.Config, processFlags, error) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &node.Config{}
	var proc processFlags
	var join, glanceEndpoints, secretFile, previousFile string
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory for the chunk store, Raft log and snapshots, and node id")
	fs.StringVar(&cfg.NodeID, "node-id", "", "node id (default: generated on first start and kept in the data dir)")
	fs.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:9292", "Glance v2 API listen address")
	fs.StringVar(&cfg.PeerAddr, "peer-addr", "127.0.0.1:9492", "internal HTTP address: joins, forwarded writes, chunk transfer between nodes")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:9592", "Raft transport address (TCP)")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", "127.0.0.1:9692", "gossip (memberlist) address, TCP and UDP")
	fs.StringVar(&join, "join", "", "comma-separated peer addresses (--peer-addr) of existing nodes to join; empty on the first node")
	fs.StringVar(&cfg.Zone, "zone", "", "zone label of this node (copies spread over zones; reads prefer the same zone)")
	fs.StringVar(&cfg.Rack, "rack", "", "rack label of this node")
	fs.IntVar(&cfg.Replicas, "replicas", node.DefaultReplicas, "durable copies of every chunk (R = min(replicas, live nodes))")
	fs.IntVar(&cfg.Voters, "voters", node.DefaultVoters, "Raft voters (odd); nodes joining after that many voters are replicas: outside Raft, they pull the committed catalog log from their peers")
	fs.IntVar(&cfg.CheckpointEvery, "checkpoint-every", node.DefaultCheckpointEvery, "log entries between catalog checkpoints (a replica further behind than its upstream's log installs one from a peer)")
	fs.IntVar(&cfg.FanoutDegree, "fanout-degree", 0, "replicas one replica feeds in its rack (and racks or zones a head feeds) in the log's distribution tree (0: 8)")
	fs.StringVar(&cfg.Auth, "auth", "noauth", "API auth mode: noauth (trust X-Project-Id/X-Roles headers; none = admin) or keystone (validate X-Auth-Token with Keystone v3; see --keystone-*)")
	fs.StringVar(&cfg.Keystone.URL, "keystone-url", "", "Keystone endpoint for --auth keystone, e.g. http://keystone:5000 (also named in 401 WWW-Authenticate)")
	fs.StringVar(&cfg.Keystone.User, "keystone-user", "glance", "service user that validates tokens (needs the admin or service role)")
	fs.StringVar(&cfg.Keystone.Password, "keystone-password", "", "password of --keystone-user (prefer the environment: P2PGLANCE_KEYSTONE_PASSWORD)")
	fs.StringVar(&cfg.Keystone.Project, "keystone-project", "service", "project the service user's token is scoped to")
	fs.StringVar(&cfg.Keystone.UserDomain, "keystone-user-domain", "default", "domain id of --keystone-user")
	fs.StringVar(&cfg.Keystone.ProjectDomain, "keystone-project-domain", "default", "domain id of --keystone-project")
	fs.DurationVar(&cfg.Keystone.CacheTTL, "keystone-cache-ttl", 5*time.Minute, "longest a validated token is trusted without asking Keystone again (never past its expiry; a revoked token works at most this long)")
	fs.IntVar(&cfg.ChunkSize, "chunk-size", node.DefaultChunkSize, "chunk size in bytes for new uploads")
	fs.IntVar(&cfg.FetchWindow, "fetch-window", 4, "chunks a download keeps in flight")
	fs.BoolVar(&cfg.NoCache, "no-cache", false, "do not keep chunks fetched from peers")
	fs.DurationVar(&cfg.CachePrefetchInterval, "cache-prefetch-interval", 5*time.Minute, "how long an image queued for this node's cache (PUT /v2/cache/{id}) waits, listed as queued, for the prefetch pass that fetches it (Glance's cache_prefetcher_interval); negative: at once")
	fs.Int64Var(&cfg.CacheBudget, "cache-budget", 0, "bytes of cached chunks (not held as durable copies) that POST /v2/cache/prune keeps, least recently used evicted first; 0 = unlimited")
	fs.BoolVar(&cfg.LinearizableReads, "linearizable-reads", false, "every API read first passes a read barrier through the Raft leader: every client sees every acknowledged write through any node, even without the p2pglance-rev cookie that gives cookie-keeping clients their own writes by default; one Raft round trip per read")
	fs.BoolVar(&cfg.EagerLocations, "eager-locations", false, "read an http(s) location into the cluster when it is added, instead of on the image's first download")
	fs.BoolVar(&cfg.ShowMultipleLocations, "show-multiple-locations", false, "show image locations in image JSON and allow PATCH of /locations (Glance's show_multiple_locations)")
	fs.BoolVar(&cfg.ShowImageDirectURL, "show-image-direct-url", false, "show direct_url (the first location) in image JSON (Glance's show_image_direct_url)")
	fs.Int64Var(&cfg.MaxImageSize, "max-image-size", 1<<40, "largest image accepted, in bytes")
	fs.Int64Var(&cfg.QuotaImageCount, "quota-image-count", 0, "images per project (image_count_total); 0 = unlimited")
	fs.Int64Var(&cfg.QuotaImageSizeTotal, "quota-image-size-total", 0, "bytes of image data per project (image_size_total); 0 = unlimited")
	fs.Int64Var(&cfg.QuotaStageTotal, "quota-stage-total", 0, "bytes of staged import data per project (image_stage_total); 0 = unlimited")
	fs.Var(listFlag{&cfg.GlanceDownloadProperties}, "glance-download-properties", "`prefixes` of the custom properties a glance-download copies from the remote image, comma-separated (Glance's [glance_download_properties] extra_properties; default hw_,trait:,os_distro,os_secure_boot,os_type)")
	fs.StringVar(&glanceEndpoints, "glance-download-endpoints", "", "regions the glance-download import method may fetch from, e.g. 'RegionOne=http://glance1:9292,RegionTwo=https://glance2'; empty disables the method; these origins pass the import filter, what they redirect to does not")
	cfg.ImportFilter = node.DefaultImportFilter()
	fs.Var(listFlag{&cfg.ImportFilter.AllowedSchemes}, "import-allowed-schemes", "URL `schemes` that web-download, import tasks and http(s) locations (and redirects) may use, comma-separated (Glance's [import_filtering_opts] allowed_schemes); when not empty --import-disallowed-schemes is ignored; only http and https are ever read")
	fs.Var(listFlag{&cfg.ImportFilter.DisallowedSchemes}, "import-disallowed-schemes", "URL `schemes` refused, comma-separated; used only when --import-allowed-schemes is empty")
	fs.Var(listFlag{&cfg.ImportFilter.AllowedHosts}, "import-allowed-hosts", "the only `hosts` (names or IP addresses, comma-separated) imports and locations may read from; when not empty --import-disallowed-hosts is ignored. A listed host is also exempt from the refusal of loopback, link-local (169.254.169.254 included), private, unique-local, multicast and other internal addresses and of the cluster's own node addresses, a node's listening address excepted")
	fs.Var(listFlag{&cfg.ImportFilter.DisallowedHosts}, "import-disallowed-hosts", "`hosts` refused, comma-separated, compared with the URL's host as written (not resolved); used only when --import-allowed-hosts is empty")
	fs.Var(listFlag{&cfg.ImportFilter.InternalHosts}, "import-internal-hosts", "`hosts` (names or IP addresses, comma-separated) exempt from the refusal of loopback, private and other internal addresses, without refusing other hosts as --import-allowed-hosts does: an explicit opt-out for a mirror on an internal network (logged as a warning at start); a node's listening address stays refused")
	fs.Var(portsFlag{&cfg.ImportFilter.AllowedPorts}, "import-allowed-ports", "`ports` a URL may name, comma-separated (a URL without a port passes); empty: any port but --import-disallowed-ports")
	fs.Var(portsFlag{&cfg.ImportFilter.DisallowedPorts}, "import-disallowed-ports", "`ports` refused, comma-separated; used only when --import-allowed-ports is empty")
	fs.DurationVar(&cfg.ImportIdleTimeout, "import-idle-timeout", 0, "fail a web-download, glance-download or location read whose remote sends nothing for this long (0: 60s)")
	fs.IntVar(&cfg.MaxConcurrentRequests, "max-concurrent-requests", 0, "API requests served at once before answering 503 (0: 1024; negative: no bound)")
	fs.DurationVar(&cfg.TransferIdleTimeout, "transfer-idle-timeout", 0, "end an API body read or response write idle this long (0: 60s)")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", 0, "close a connection whose request headers take longer than this (0: 30s)")
	fs.DurationVar(&cfg.KeepAliveTimeout, "keepalive-timeout", 0, "close a kept-alive connection idle this long between requests (0: 2m)")
	fs.Int64Var(&cfg.UploadBandwidth, "upload-bandwidth", 0, "bytes per second this node serves to peers (0: unlimited)")
	fs.Int64Var(&cfg.DownloadBandwidth, "download-bandwidth", 0, "bytes per second this node fetches from peers (0: unlimited)")
	fs.IntVar(&cfg.UploadSlots, "upload-slots", node.DefaultUploadSlots, "concurrent chunk uploads to peers; more requests are told busy (with the peers known to have the chunk) and go elsewhere")
	fs.Int64Var(&cfg.DiskReserve, "disk-reserve", node.DefaultDiskReserve, "bytes kept free on the data directory's file system: chunk writes that would leave less are refused (uploads answer 413 'Image storage media is full'), Raft log writes that would leave less than a quarter of it too (the node then lags until space returns); negative: no check")
	fs.DurationVar(&cfg.RepairGrace, "repair-grace", 5*time.Minute, "how long a durable holder may be gone before its images are copied elsewhere")
	fs.DurationVar(&cfg.Timing.Gossip.GossipInterval, "gossip-interval", 0, "how often gossip sends what it has queued (membership changes, chunk holdings) to 3 random nodes; nothing is sent when nothing is queued, but every node wakes up: shorter spreads news faster and costs an idle node more CPU (0: 500ms)")
	fs.DurationVar(&cfg.Timing.Gossip.ProbeInterval, "gossip-probe-interval", 0, "how often gossip probes one random node for failure detection; a failed node is declared dead after several intervals (0: 1s; the probe timeout is 500ms, or half the interval if that is shorter)")
	fs.DurationVar(&cfg.Timing.Gossip.PushPullInterval, "gossip-push-pull-interval", 0, "how often gossip exchanges its full state with one random node over TCP (0: 30s; memberlist stretches it beyond 32 nodes, to 30s x (1 + log2(N/32)))")
	fs.Var(labelFlags(labelsOf(cfg)), "label", "node label key=value for prefetch targeting (repeatable)")
	fs.StringVar(&cfg.ClusterSecret, "cluster-secret", "", "shared secret of the cluster (16+ bytes, the same on every node): signs internal HTTP, authenticates Raft connections, encrypts gossip; nodes without it are refused (prefer P2PGLANCE_CLUSTER_SECRET or --cluster-secret-file). Required (or mutual peer TLS) when --peer-addr, --raft-addr or --gossip-addr is not loopback")
	fs.StringVar(&secretFile, "cluster-secret-file", "", "file holding the cluster secret (surrounding whitespace ignored)")
	fs.StringVar(&cfg.ClusterSecretPrevious, "cluster-secret-previous", "", "while rotating the cluster secret: the secret being replaced, accepted beside --cluster-secret (restart every node with the new secret and this one, then again without it)")
	fs.StringVar(&previousFile, "cluster-secret-previous-file", "", "file holding --cluster-secret-previous (surrounding whitespace ignored)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "start even though --peer-addr, --raft-addr or --gossip-addr is not loopback and neither a cluster secret nor mutual peer TLS authenticates node-to-node traffic (anyone who reaches those ports can join; logged as a warning)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve the Glance API over HTTPS; needs --tls-key")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.PeerTLSCert, "peer-tls-cert", "", "PEM certificate for the peer and Raft ports, also presented to peers as client certificate (needs serverAuth and clientAuth usage); every node must use peer TLS or none")
	fs.StringVar(&cfg.PeerTLSKey, "peer-tls-key", "", "PEM private key of --peer-tls-cert")
	fs.StringVar(&cfg.PeerTLSCA, "peer-tls-ca", "", "PEM CA that peers' certificates must chain to, checked both ways (mutual TLS); required with --peer-tls-cert")
	fs.StringVar(&cfg.NotificationTransportURL, "notification-transport-url", "", "publish Glance's notifications (image.create, image.upload, image.activate, image.update, image.delete, image.send, image.member.*, task.*) to this RabbitMQ, as oslo.messaging's messagingv2 driver does: rabbit://USER:PASS@HOST:5672/VHOST (several hosts comma-separated; ?ssl=1 for TLS). Set the same on every voter: the leader publishes the catalog's events, at least once; prefer the environment (P2PGLANCE_NOTIFICATION_TRANSPORT_URL) for the password")
	fs.Var(listFlag{&cfg.NotificationTopics}, "notification-topics", "notification `topics`, comma-separated (oslo's [oslo_messaging_notifications] topics; default notifications)")
	fs.StringVar(&cfg.NotificationPublisherID, "notification-publisher-id", "", "publisher_id of the notifications (Glance's default_publisher_id; default image.HOSTNAME)")
	fs.BoolVar(&cfg.NotificationDurable, "notification-durable", false, "declare the notification exchange and queues durable and send persistent messages (oslo's amqp_durable_queues; must match the consumers')")
	fs.Var(listFlag{&cfg.DisabledNotifications}, "disabled-notifications", "event `types` or groups not sent, comma-separated, e.g. image.send,task (Glance's disabled_notifications)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics (GET /metrics) on this address instead of the API port (no auth on either)")
	fs.StringVar(&cfg.HealthcheckDisableFile, "healthcheck-disable-file", "", "while this file exists, GET /healthcheck answers 503 \"DISABLED BY FILE\" (drain the node from its load balancer; oslo.middleware's disable_by_file_path)")
	fs.StringVar(&proc.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&proc.logFormat, "log-format", "text", "log format on standard error: text (key=value) or json (one object a line); an API request's lines carry its X-OpenStack-Request-ID as request_id, on every node it reached")
	fs.Int64Var(&proc.memoryLimit, "memory-limit", 0, "soft limit in bytes on the Go runtime's memory (heap, stacks; not Badger's mapped files): past it the garbage collector runs more often and gives memory back to the system sooner (what Go's GOMEMLIMIT variable sets). Keep it well above the live heap (the catalog, and on a voter Raft's log buffers), or the collector runs all the time; 0: none, or GOMEMLIMIT's")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: p2pglance agent [--config FILE] [flags]\n\nRuns one p2pglance node. Every flag can also be given as the environment\nvariable P2PGLANCE_<FLAG>, e.g. P2PGLANCE_DATA_DIR=/var/lib/p2pglance, or as\na key of the config file (data-dir = /var/lib/p2pglance); the command line\nwins over the environment, which wins over the file.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.String(configFlag, "", "config `file`: one key = value a line, keys as the flags' names (an [agent] header allowed); the environment and the command line override it; an unknown key is an error (also P2PGLANCE_CONFIG)")
	if path := configPath(args); path != "" {
		if err := applyConfigFile(fs, path); err != nil {
			return nil, proc, err
		}
	}
	if err := applyEnv(fs); err != nil {
		return nil, proc, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, proc, err
	}
	if fs.NArg() > 0 {
		return nil, proc, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := secretFromFile(&cfg.ClusterSecret, "cluster-secret", secretFile); err != nil {
		return nil, proc, err
	}
	if err := secretFromFile(&cfg.ClusterSecretPrevious, "cluster-secret-previous", previousFile); err != nil {
		return nil, proc, err
	}
	if glanceEndpoints != "" {
		eps, err := node.ParseGlanceEndpoints(glanceEndpoints)
		if err != nil {
			return nil, proc, err
		}
		cfg.GlanceDownloadEndpoints = eps
	}
	for _, j := range strings.Split(join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			cfg.Join = append(cfg.Join, j)
		}
	}
	if proc.logFormat != "text" && proc.logFormat != "json" {
		return nil, proc, fmt.Errorf("log format %q: want text or json", proc.logFormat)
	}
	if proc.memoryLimit < 0 {
		return nil, proc, fmt.Errorf("memory limit must not be negative, got %d", proc.memoryLimit)
	}
	return cfg, proc, nil
}

// secretFromFile sets *secret, given by --flag, from the file named by
// --flag-file (if any): one or the other, not both; surrounding
// whitespace ignored; an empty file refused.
func secretFromFile(secret *string, flag, file string) error {
	if file == "" {
		return nil
	}
	if *secret != "" {
		return fmt.Errorf("give --%s or --%s-file, not both", flag, flag)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if *secret = strings.TrimSpace(string(b)); *secret == "" {
		return fmt.Errorf("%s file %s is empty", flag, file)
	}
	return nil
}

// applyEnv sets flags from P2PGLANCE_* variables before the command line
// is parsed.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "P2PGLANCE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s: %w", name, e)
			}
		}
	})
	return err
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, proc, err := agentFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(proc.logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	if proc.memoryLimit > 0 {
		debug.SetMemoryLimit(proc.memoryLimit)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch proc.logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return fmt.Errorf("log format %q: want text or json", proc.logFormat)
	}
	n, err := node.New(*cfg)
	if err != nil {
		return err
	}
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	cfg.Logger.Info("p2pglance agent started", "id", n.ID(), "api", scheme+n.APIAddr(), "dashboard", scheme+n.APIAddr()+"/p2p/ui", "metrics", n.MetricsAddr(), "peer", n.PeerAddr(),
		"raft", n.RaftAddr(), "gossip", n.GossipAddr(), "data", cfg.DataDir)
	err = n.Run(ctx)
	m := n.Metrics()
	cfg.Logger.Info("p2pglance agent stopped", "peer_sent_bytes", m.PeerSentBytes, "peer_received_bytes", m.PeerReceivedBytes,
		"raft_sent_bytes", m.RaftSentBytes, "raft_received_bytes", m.RaftReceivedBytes,
		"peer_dialed_sent_bytes", m.PeerDialedSentBytes, "peer_served", node.FormatRouteBytes(m.PeerServed))
	return err
}

// listFlag is a comma-separated list; an empty value sets an empty (not
// a default) list.
type listFlag struct{ p *[]string }

func (f listFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f listFlag) Set(s string) error {
	*f.p = []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*f.p = append(*f.p, item)
		}
	}
	return nil
}

// portsFlag is a comma-separated list of ports; an empty value sets an
// empty list.
type portsFlag struct{ p *[]int }

func (f portsFlag) String() string {
	if f.p == nil {
		return ""
	}
	s := make([]string, len(*f.p))
	for i, p := range *f.p {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func (f portsFlag) Set(s string) error {
	var items []string
	if err := (listFlag{&items}).Set(s); err != nil {
		return err
	}
	*f.p = []int{}
	for _, item := range items {
		p, err := strconv.Atoi(item)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%q is not a port (1-65535)", item)
		}
		*f.p = append(*f.p, p)
	}
	return nil
}

// labelsOf gives cfg a label map for the --label flag to fill.
func labelsOf(cfg *node.Config) map[string]string {
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	return cfg.Labels
}
