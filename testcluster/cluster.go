package testcluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/chunkstore/chunkstoretest"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/node/nodetest"
)

// Option changes how a cluster's nodes are configured.
type Option func(*options)

type options struct {
	replicas, voters int
	zones, racks     []string
	inMemory         bool
	secret           *string
	configure        func(i int, c *node.Config)
	peerTransport    map[int]http.RoundTripper
	loopbackOrigins  bool
}

// WithReplicas sets the durable copy count (default 3).
func WithReplicas(r int) Option { return func(o *options) { o.replicas = r } }

// WithVoters sets the Raft voter count (default 3).
func WithVoters(v int) Option { return func(o *options) { o.voters = v } }

// WithZones labels node i with zones[i % len(zones)].
func WithZones(zones ...string) Option { return func(o *options) { o.zones = zones } }

// WithRacks labels node i with racks[i % len(racks)].
func WithRacks(racks ...string) Option { return func(o *options) { o.racks = racks } }

// InMemory keeps every node's Badger stores in memory (node.InMemory:
// restarts lose data).
func InMemory() Option { return func(o *options) { o.inMemory = true } }

// WithPeerTransport makes node i send its requests to other nodes through
// rt instead of its own transport (a test injects faults with it); they
// still pass the cluster's Network, so partitions cut them too.
func WithPeerTransport(i int, rt http.RoundTripper) Option {
	return func(o *options) {
		if o.peerTransport == nil {
			o.peerTransport = map[int]http.RoundTripper{}
		}
		o.peerTransport[i] = rt
	}
}

// WithSecret sets the cluster secret of every node ("" runs the cluster
// without one). By default each cluster gets a random secret, so every
// test runs with authenticated node-to-node traffic.
func WithSecret(secret string) Option { return func(o *options) { o.secret = &secret } }

// AllowLoopbackOrigins lets the nodes' imports and locations read from
// 127.0.0.1 on any port (node.Config.ImportFilter: allowed hosts
// 127.0.0.1, allowed ports empty), where tests run their origin servers:
// the operator's explicit opt-out of the import filter's refusal of
// internal addresses. The nodes' own listening addresses stay refused.
func AllowLoopbackOrigins() Option { return func(o *options) { o.loopbackOrigins = true } }

// WithConfig lets a test adjust node i's configuration. Only the last
// WithConfig given to New applies.
func WithConfig(fn func(i int, c *node.Config)) Option { return func(o *options) { o.configure = fn } }

// Cluster is a set of running nodes.
type Cluster struct {
	t        testing.TB
	mu       sync.Mutex
	nodes    []*Member
	net      *nodetest.Network
	inMemory bool
}

// Member is one node of a cluster and its configuration.
type Member struct {
	Config node.Config
	Node   *node.Node // nil while stopped
	// peerTransport replaces the node's transport to its peers (nil: its own).
	peerTransport http.RoundTripper
	cancel        context.CancelFunc
	done          chan error
}

// New starts n nodes: node 0 bootstraps the cluster, the others join it.
// It returns once every node has joined and a leader is elected.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	o := options{replicas: 3, voters: 3}
	for _, opt := range opts {
		opt(&o)
	}
	if o.secret == nil {
		s := rand.Text() // 26 base32 characters: 130 random bits
		o.secret = &s
	}
	// Both before Cleanup(c.Close), as cleanups run last-in first-out: the
	// directory is removed, and the test's log closed, after the nodes stop.
	base := t.TempDir()
	sinkFor(t)
	c := &Cluster{t: t, net: nodetest.NewNetwork(), inMemory: o.inMemory}
	t.Cleanup(c.Close)
	for i := range n {
		cfg := node.Config{
			NodeID:     fmt.Sprintf("node%d", i),
			DataDir:    filepath.Join(base, fmt.Sprintf("node%d", i)),
			APIAddr:    "127.0.0.1:0",
			PeerAddr:   "127.0.0.1:0",
			RaftAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
			Replicas:   o.replicas,
			Voters:     o.voters,
			Timing:     nodetest.Timing(),

			CachePrefetchInterval: -1, // tests queue and expect the fetch at once
			Logger:                testLogger(t, fmt.Sprintf("node%d", i)),

			ClusterSecret: *o.secret,
		}
		if len(o.zones) > 0 {
			cfg.Zone = o.zones[i%len(o.zones)]
		}
		if o.loopbackOrigins {
			cfg.ImportFilter.AllowedHosts, cfg.ImportFilter.AllowedPorts = []string{"127.0.0.1"}, []int{}
		}
		if len(o.racks) > 0 {
			cfg.Rack = o.racks[i%len(o.racks)]
		}
		if i > 0 {
			cfg.Join = []string{c.nodes[0].Config.PeerAddr}
		}
		if o.configure != nil {
			o.configure(i, &cfg)
		}
		m := &Member{Config: cfg, peerTransport: o.peerTransport[i]}
		c.nodes = append(c.nodes, m)
		if err := c.start(m); err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		if i == 0 {
			c.WaitForLeader()
		}
	}
	c.WaitMembers(n)
	return c
}

// testLogger sends warnings and errors (or everything, with
// P2PGLANCE_TEST_LOG=debug) to the test log.
func testLogger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("P2PGLANCE_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{sinkFor(t)}, &slog.HandlerOptions{Level: level})).With("test_node", name)
}

// tWriter sends log lines to t.Log while the test runs. A library
// goroutine that outlives its node's shutdown (memberlist's prober logs
// after Shutdown returns) may still log once the test has ended, when
// t.Log panics: from then on its lines go to standard error.
type tWriter struct{ sink *testSink }

// testSink is one test's log destination, shared by its nodes' loggers.
type testSink struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

// sinks holds one sink per test, so every logger of a test sees its end.
var sinks sync.Map // testing.TB -> *testSink

func sinkFor(t testing.TB) *testSink {
	if s, ok := sinks.Load(t); ok {
		return s.(*testSink)
	}
	s, loaded := sinks.LoadOrStore(t, &testSink{t: t})
	if !loaded {
		// Registered before the cluster's Close (New asks for the sink
		// first), so it runs after every node's shutdown.
		t.Cleanup(func() {
			sink := s.(*testSink)
			sink.mu.Lock()
			sink.done = true
			sink.mu.Unlock()
			sinks.Delete(t)
		})
	}
	return s.(*testSink)
}

func (w tWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	if w.sink.done {
		fmt.Fprintf(os.Stderr, "%s (after %s ended)\n", line, w.sink.t.Name())
		return len(p), nil
	}
	w.sink.t.Log(line)
	return len(p), nil
}

// start builds and runs a member's node on the cluster's network, then
// pins the addresses it bound so a restart reuses them.
func (c *Cluster) start(m *Member) error {
	var nw node.Network = c.net.Node(m.Config.NodeID)
	if m.peerTransport != nil {
		nw = peerTransport{Network: nw, rt: m.peerTransport}
	}
	opts := []node.Option{node.WithNetwork(nw)}
	if c.inMemory {
		opts = append(opts, node.InMemory())
	}
	nd, err := node.New(m.Config, opts...)
	if err != nil {
		return err
	}
	m.Config.APIAddr, m.Config.PeerAddr = nd.APIAddr(), nd.PeerAddr()
	m.Config.RaftAddr, m.Config.GossipAddr = nd.RaftAddr(), nd.GossipAddr()
	c.net.Register(nd.ID(), m.Config.APIAddr, m.Config.PeerAddr, m.Config.RaftAddr, m.Config.GossipAddr)
	ctx, cancel := context.WithCancel(context.Background())
	m.Node, m.cancel, m.done = nd, cancel, make(chan error, 1)
	go func() { m.done <- nd.Run(ctx) }()
	return nil
}

// Add starts one more node that joins the cluster through every running
// node, with the options of the others, and returns its index.
func (c *Cluster) Add() int {
	c.t.Helper()
	i := len(c.nodes)
	cfg := c.nodes[0].Config
	cfg.NodeID = fmt.Sprintf("node%d", i)
	cfg.DataDir = filepath.Join(filepath.Dir(cfg.DataDir), cfg.NodeID)
	cfg.APIAddr, cfg.PeerAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = testLogger(c.t, cfg.NodeID)
	cfg.Join = nil
	for _, m := range c.nodes {
		if m.Node != nil {
			cfg.Join = append(cfg.Join, m.Config.PeerAddr)
		}
	}
	m := &Member{Config: cfg}
	c.nodes = append(c.nodes, m)
	if err := c.start(m); err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	return i
}

// Size returns the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// Member returns node i's member record.
func (c *Cluster) Member(i int) *Member { return c.nodes[i] }

// Node returns node i (nil if stopped).
func (c *Cluster) Node(i int) *node.Node { return c.nodes[i].Node }

// URL returns the Glance endpoint of node i, e.g. http://127.0.0.1:40123
// (https with API TLS).
func (c *Cluster) URL(i int) string {
	if c.nodes[i].Config.TLSCert != "" {
		return "https://" + c.nodes[i].Config.APIAddr
	}
	return "http://" + c.nodes[i].Config.APIAddr
}

// DataDir returns node i's data directory.
func (c *Cluster) DataDir(i int) string { return c.nodes[i].Config.DataDir }

// Stop stops node i and waits until it has shut down.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	m := c.nodes[i]
	if m.Node == nil {
		return
	}
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			c.t.Logf("node %d stopped with: %v", i, err)
		}
	case <-time.After(30 * time.Second):
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		c.t.Fatalf("node %d did not stop within 30s; goroutines:\n%s", i, buf)
	}
	m.Node = nil
}

// Restart starts a stopped node i again with the same data directory and
// addresses; it rejoins through the other nodes.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.nodes[i]
	if m.Node != nil {
		c.Stop(i)
	}
	m.Config.Join = nil
	for j, o := range c.nodes {
		if j != i {
			m.Config.Join = append(m.Config.Join, o.Config.PeerAddr)
		}
	}
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err = c.start(m); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // a port may linger briefly after close
	}
	if err != nil {
		c.t.Fatalf("restart node %d: %v", i, err)
	}
}

// Partition cuts the network between groups of nodes (by index): nodes
// in different groups, and nodes in no group versus the rest, can no
// longer reach each other over Raft, gossip or the internal HTTP API;
// connections already open between them are closed. The Glance API
// stays reachable from the test. A new Partition replaces the last.
func (c *Cluster) Partition(groups ...[]int) {
	var named [][]string
	for _, g := range groups {
		var gi []string
		for _, i := range g {
			gi = append(gi, c.nodes[i].Config.NodeID)
		}
		named = append(named, gi)
	}
	c.net.Partition(named...)
}

// Heal ends a partition: all nodes can reach each other again.
func (c *Cluster) Heal() { c.net.Heal() }

// Close stops every node.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i, m := range c.nodes {
		if m.Node != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Stop(i) }()
		}
	}
	wg.Wait()
}

// Leader returns the index of the node that is Raft leader, or -1.
func (c *Cluster) Leader() int {
	for i, m := range c.nodes {
		if m.Node != nil && m.Node.IsLeader() {
			return i
		}
	}
	return -1
}

// WaitForLeader waits until some running node is leader and returns it.
func (c *Cluster) WaitForLeader() int {
	c.t.Helper()
	var l int
	c.Eventually(20*time.Second, "a leader is elected", func() bool { l = c.Leader(); return l >= 0 })
	return l
}

// WaitMembers waits until every running node sees want live members.
func (c *Cluster) WaitMembers(want int) {
	c.t.Helper()
	c.Eventually(20*time.Second, fmt.Sprintf("every node sees %d live members", want), func() bool {
		for _, m := range c.nodes {
			if m.Node != nil && m.Node.AliveMembers() != want {
				return false
			}
		}
		return true
	})
}

// Eventually polls cond until it holds or the timeout passes (then the
// test fails with what).
func (c *Cluster) Eventually(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	WaitUntil(c.t, timeout, what, cond)
}

// WaitUntil polls cond every 20 ms until it holds, failing t after
// timeout. Inside a subtest, pass the subtest's t (Cluster.Eventually
// fails the test that made the cluster).
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CorruptChunk stops node i, flips a byte of the stored copy of the
// chunk whose data starts with prefix (at least 64 bytes) in its Badger
// files on disk, and restarts it. It reports whether a copy was found.
func (c *Cluster) CorruptChunk(i int, prefix []byte) bool {
	c.t.Helper()
	if c.inMemory {
		c.t.Fatal("CorruptChunk needs an on-disk cluster")
	}
	c.Stop(i)
	found, err := chunkstoretest.FlipOnDisk(filepath.Join(c.DataDir(i), "chunks"), prefix)
	if err != nil {
		c.t.Fatalf("corrupt node %d: %v", i, err)
	}
	c.Restart(i)
	return found
}

// Client is an HTTP client for tests with a generous timeout.
var Client = &http.Client{Timeout: 2 * time.Minute}

// ErrTimeout is returned by polling helpers that give up.
var ErrTimeout = errors.New("timed out")

// peerTransport is a node's Network with its transport to peers replaced
// (WithPeerTransport): requests go through rt, after the Network's own
// checks.
type peerTransport struct {
	node.Network
	rt http.RoundTripper
}

// PeerTransport implements node.Network.
func (p peerTransport) PeerTransport(http.RoundTripper) http.RoundTripper {
	return p.Network.PeerTransport(p.rt)
}
