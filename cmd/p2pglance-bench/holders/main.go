// Command holders measures what knowing who holds which chunk costs each
// agent: the live heap kept for that knowledge, the bytes of a
// memberlist push/pull exchange, and the traffic spent telling others,
// on a cluster of real nodes in this process that hold some images,
// cached whole or in part.
//
//	go run ./cmd/p2pglance-bench/holders [flags]
//
// It uses nothing but node's exported API, the Glance API and what Go
// itself reports, so the same file builds against the code before and
// after a change in how holdings travel: scripts/bench-holders.sh builds
// it at the commit before holdings left gossip (gossip bitmaps, every
// agent knowing every other's) and at HEAD (node/tracker: each image's
// holders kept by three trackers), runs both with the same flags and
// prints them side by side (BENCHMARKS.md, "Chunk holders (issue 11)").
//
// Timers are production's (node.Timing's defaults), but for the
// push/pull interval (-push-pull, 5 s, so an idle window holds several)
// and Raft's timeouts (2 s: profiling slows the nodes enough to cost a
// cluster of 24 in one process its leader with 500 ms).
//
// Heap: once the cluster has formed, runtime.MemProfileRate is 64 (an
// allocation sampled per 64 bytes, scaled up by the profile); after the
// cluster settled and idled, two GCs, then the in-use bytes of every
// allocation whose stack passes through package node/tracker, or
// through package gossip other than the member copies gossip's Members
// and Member hand to their callers, are summed and divided by N: what
// each scheme keeps of holdings (and the little of gossip's member
// table allocated after the cluster formed, the same in both).
//
// Push/pull: every node's memberlist transport is wrapped; the bytes
// written and read on each TCP stream a node opens (a push/pull, or
// rarely a fallback ping) are summed over an idle window and divided by
// the streams opened. memberlist compresses push/pull state, so these
// are wire bytes. UDP: the bytes every node sent in gossip packets.
// Holdings traffic: the request and answer bytes of the peer protocol's
// holdings and holders routes (none before the change).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node"
)

func main() {
	var (
		n         = flag.Int("nodes", 24, "agents")
		images    = flag.Int("images", 48, "images")
		chunks    = flag.Int("chunks", 64, "chunks per image")
		chunkSize = flag.Int("chunk-size", 4<<10, "chunk size in bytes")
		every     = flag.Int("cache-every", 3, "each node caches image j whole when (i+j) % this == 0")
		partEvery = flag.Int("part-every", 8, "and its first half when (i+j) % this == 1")
		pushPull  = flag.Duration("push-pull", 5*time.Second, "memberlist push/pull interval")
		idle      = flag.Duration("idle", 30*time.Second, "idle window measured")
		label     = flag.String("label", "", "name of this build in the output")
		dir       = flag.String("dir", "", "data directory (default: a temporary one)")
		profile   = flag.String("heap-profile", "", "also write the heap profile measured to this file")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("holders: ")
	if *dir == "" {
		d, err := os.MkdirTemp("", "holders-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	meter := &meter{}
	c, err := startCluster(ctx, *dir, *n, *chunkSize, *pushPull, meter)
	if err != nil {
		log.Fatal(err)
	}
	defer c.stop()
	// From here one allocation per 64 bytes is sampled: the holdings are
	// thousands of records of 50-200 bytes, so nearly every one is, and
	// the profile scales what it samples. (While the cluster forms, the
	// default sampling keeps the cost of recording off the nodes.)
	runtime.MemProfileRate = 64
	hc := &http.Client{Timeout: 5 * time.Minute}

	// Images through node j % N, two durable copies each.
	size := *chunks * *chunkSize
	ids := make([]string, *images)
	for j := range ids {
		data := make([]byte, size)
		rnd := rand.New(rand.NewPCG(uint64(j), 7))
		for i := range data {
			data[i] = byte(rnd.Uint32())
		}
		var id string
		try := 0
		err := retry(func() (err error) {
			// Through node j, or the next ones if it cannot write now.
			id, err = upload(ctx, hc, "http://"+c.nodes[(j+try)%*n].APIAddr(), fmt.Sprintf("img%d", j), data)
			try++
			return err
		})
		if err != nil {
			log.Fatal(err)
		}
		ids[j] = id
	}
	log.Printf("%d images of %d chunks uploaded", *images, *chunks)
	// Cached copies: whole, and the first half of some.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	full := make([]int, *images) // expected full holders besides the durable ones
	for i := range *n {
		for j := range *images {
			if (i+j)%*every == 0 {
				full[j]++
			}
		}
	}
	sem := make(chan struct{}, 4)
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			base := "http://" + c.nodes[i].APIAddr()
			for j, id := range ids {
				var err error
				switch {
				case (i+j)%*every == 0:
					err = retry(func() error { return download(ctx, hc, base, id, -1) })
				case (i+j)%*partEvery == 1:
					err = retry(func() error { return download(ctx, hc, base, id, int64(size/2)) })
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		log.Fatal(err)
	}
	log.Printf("copies cached in %s", time.Since(start).Round(time.Millisecond))
	// Settled: node 0 sees, for every image, at least as many full
	// holders as were made (a durable holder may have cached it too).
	deadline := time.Now().Add(2 * time.Minute)
	for j := 0; j < len(ids); {
		got, _ := c.nodes[0].CacheNodes(ctx, ids[j])
		if len(got) >= full[j]+1 || time.Now().After(deadline) {
			j++
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	workload := meter.snapshot()
	log.Printf("settled; idling %s", *idle)
	before := meter.snapshot()
	time.Sleep(*idle)
	window := meter.snapshot().minus(before)

	heap, heapTracker, err := heapOfHoldings()
	if err != nil {
		log.Fatal(err)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	held := 0
	for i := range *n {
		for j := range *images {
			if (i+j)%*every == 0 || (i+j)%*partEvery == 1 {
				held++
			}
		}
	}
	held += 2 * *images
	perPP := 0.0
	if window.streams > 0 {
		perPP = float64(window.streamBytes) / float64(window.streams)
	}
	secs := idle.Seconds()
	fmt.Printf("%s\tN=%d images=%d chunks=%d held(node,image)~%d\n", *label, *n, *images, *chunks, held)
	fmt.Printf("%s\theap for holdings (gossip + node/tracker), per agent\t%.1f KiB\n", *label, float64(heap)/float64(*n)/1024)
	fmt.Printf("%s\t  of which under node/tracker\t%.1f KiB\n", *label, float64(heapTracker)/float64(*n)/1024)
	fmt.Printf("%s\tpush/pull exchanges in %s idle\t%d\n", *label, *idle, window.streams)
	fmt.Printf("%s\tbytes per push/pull exchange (both ways, on the wire)\t%.0f\n", *label, perPP)
	fmt.Printf("%s\tgossip UDP bytes sent per agent per second, idle\t%.0f\n", *label, float64(window.udpBytes)/float64(*n)/secs)
	fmt.Printf("%s\tholdings/holders peer bytes per agent per second, idle\t%.0f\n", *label, float64(window.peerBytes)/float64(*n)/secs)
	fmt.Printf("%s\tduring the workload: gossip UDP bytes sent\t%d\n", *label, workload.udpBytes)
	fmt.Printf("%s\tduring the workload: gossip TCP stream bytes\t%d\n", *label, workload.streamBytes)
	fmt.Printf("%s\tduring the workload: holdings/holders peer bytes\t%d (%d requests)\n", *label, workload.peerBytes, workload.peerRequests)
}

// retry runs fn up to 30 times, a second apart, while it fails (a busy
// machine may make a node miss its leader for a moment: 503).
func retry(fn func() error) error {
	var err error
	for range 30 {
		if err = fn(); err == nil {
			return nil
		}
		log.Printf("retrying: %v", err)
		time.Sleep(time.Second)
	}
	return err
}

// Frames of the heap profile: what package node/tracker and package
// gossip allocate, except the copies gossip's Members and Member return
// (their callers keep them, or not: other parts of the node call them).
var (
	trackerFrame = regexp.MustCompile(`/p2pglance/p2pglance/node/tracker\.`)
	gossipFrame  = regexp.MustCompile(`/p2pglance/p2pglance/gossip\.`)
	gossipCopies = regexp.MustCompile(`/p2pglance/p2pglance/gossip\.\(\*Gossip\)\.(Members|Member|memberLocked)\b`)
)

// heapOfHoldings returns the in-use bytes of allocations made by
// node/tracker or by gossip (but for the member copies it returns), and
// of those by node/tracker alone (the heap profile as of the last GC).
func heapOfHoldings() (total, tracker int64, err error) {
	runtime.GC()
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 1); err != nil {
		return 0, 0, err
	}
	var cur int64
	var inTracker, inGossip bool
	flush := func() {
		switch {
		case inTracker:
			tracker += cur
			total += cur
		case inGossip:
			total += cur
		}
		cur, inTracker, inGossip = 0, false, false
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	head := regexp.MustCompile(`^\d+: (\d+) \[\d+: \d+\] @`)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case head.MatchString(line):
			flush()
			cur, _ = strconv.ParseInt(head.FindStringSubmatch(line)[1], 10, 64)
		case strings.HasPrefix(line, "# runtime.MemStats"):
			flush()
		case !strings.HasPrefix(line, "#"):
		case trackerFrame.MatchString(line):
			inTracker = true
		case gossipFrame.MatchString(line) && !gossipCopies.MatchString(line):
			inGossip = true
		}
	}
	flush()
	return total, tracker, sc.Err()
}

// upload creates a raw image through base and uploads data.
func upload(ctx context.Context, hc *http.Client, base, name string, data []byte) (string, error) {
	body := fmt.Sprintf(`{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	resp, err := hc.Post(base+"/v2/images", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`"id": ?"([^"]+)"`).FindSubmatch(b)
	if resp.StatusCode != http.StatusCreated || m == nil {
		return "", fmt.Errorf("create %s: %d %s", name, resp.StatusCode, b)
	}
	id := string(m[1])
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v2/images/"+id+"/file", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = hc.Do(req)
	if err != nil {
		return "", err
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return "", fmt.Errorf("upload %s: %d %s", name, resp.StatusCode, b)
	}
	return id, nil
}

// download reads an image through base (the first n bytes; -1: all).
func download(ctx context.Context, hc *http.Client, base, id string, n int64) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/images/"+id+"/file", nil)
	want := http.StatusOK
	if n >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", n-1))
		want = http.StatusPartialContent
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("download %s: %d", id, resp.StatusCode)
	}
	return nil
}

// cluster is the nodes of this process.
type cluster struct {
	nodes   []*node.Node
	cancels []context.CancelFunc
	dones   []chan error
}

func startCluster(ctx context.Context, dir string, n, chunkSize int, pushPull time.Duration, m *meter) (*cluster, error) {
	c := &cluster{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	zones, racks := []string{"az1", "az2", "az3"}, []string{"r1", "r2"}
	for i := range n {
		timing := node.Timing{
			HeartbeatTimeout: 2 * time.Second, ElectionTimeout: 2 * time.Second, LeaderLeaseTimeout: time.Second,
			Gossip: gossip.Timing{PushPullInterval: pushPull},
		}
		cfg := node.Config{
			NodeID: fmt.Sprintf("node%d", i), DataDir: filepath.Join(dir, fmt.Sprintf("node%d", i)),
			APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
			Zone: zones[i%3], Rack: racks[i/3%2], Replicas: 2, ChunkSize: chunkSize, Timing: timing,
			Logger: logger.With("node", i),
		}
		if i > 0 {
			cfg.Join = []string{c.nodes[0].PeerAddr()}
		}
		nd, err := node.New(cfg, node.WithNetwork(meteredNet{m}))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- nd.Run(rctx) }()
		c.nodes, c.cancels, c.dones = append(c.nodes, nd), append(c.cancels, cancel), append(c.dones, done)
		if i == 0 {
			for !nd.IsLeader() {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		all := true
		for _, nd := range c.nodes {
			all = all && nd.AliveMembers() == n
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("nodes never all saw each other")
		}
	}
	for i, nd := range c.nodes {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := nd.Sync(sctx)
		cancel()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d cannot commit: %w", i, err)
		}
	}
	log.Printf("%d nodes up", n)
	return c, nil
}

func (c *cluster) stop() {
	for _, cancel := range c.cancels {
		cancel()
	}
	for _, d := range c.dones {
		<-d
	}
}

// meter counts the traffic of every node.
type meter struct {
	streams, streamBytes, udpBytes, peerBytes, peerRequests atomic.Int64
}

type counts struct{ streams, streamBytes, udpBytes, peerBytes, peerRequests int64 }

func (m *meter) snapshot() counts {
	return counts{m.streams.Load(), m.streamBytes.Load(), m.udpBytes.Load(), m.peerBytes.Load(), m.peerRequests.Load()}
}

func (a counts) minus(b counts) counts {
	return counts{a.streams - b.streams, a.streamBytes - b.streamBytes, a.udpBytes - b.udpBytes, a.peerBytes - b.peerBytes, a.peerRequests - b.peerRequests}
}

// meteredNet is the host's network with the node's gossip transport and
// peer requests counted.
type meteredNet struct{ m *meter }

var _ node.Network = meteredNet{}

func (meteredNet) Listen(network, addr string) (net.Listener, error) {
	return net.Listen(network, addr)
}

func (meteredNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (n meteredNet) PeerTransport(own http.RoundTripper) http.RoundTripper {
	return peerMeter{m: n.m, next: own}
}

func (n meteredNet) GossipTransport(bound memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return &gossipMeter{NodeAwareTransport: bound, m: n.m}
}

// peerMeter counts the bytes of requests to the holdings routes (any
// path with "/holding" or "/holders" in it) and of their answers.
type peerMeter struct {
	m    *meter
	next http.RoundTripper
}

func (p peerMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	counted := strings.Contains(r.URL.Path, "/holding") || strings.Contains(r.URL.Path, "/holders")
	if counted && r.ContentLength > 0 {
		p.m.peerBytes.Add(r.ContentLength)
		p.m.peerRequests.Add(1)
	}
	resp, err := p.next.RoundTrip(r)
	if err == nil && counted {
		resp.Body = countingBody{ReadCloser: resp.Body, n: &p.m.peerBytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	k, err := b.ReadCloser.Read(p)
	b.n.Add(int64(k))
	return k, err
}

// gossipMeter counts what a node's memberlist sends in packets, and
// both directions of the streams it opens.
type gossipMeter struct {
	memberlist.NodeAwareTransport
	m *meter
}

func (g *gossipMeter) WriteTo(b []byte, addr string) (time.Time, error) {
	g.m.udpBytes.Add(int64(len(b)))
	return g.NodeAwareTransport.WriteTo(b, addr)
}

func (g *gossipMeter) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	g.m.udpBytes.Add(int64(len(b)))
	return g.NodeAwareTransport.WriteToAddress(b, a)
}

func (g *gossipMeter) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := g.NodeAwareTransport.DialTimeout(addr, timeout)
	return g.count(conn, err)
}

func (g *gossipMeter) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	conn, err := g.NodeAwareTransport.DialAddressTimeout(a, timeout)
	return g.count(conn, err)
}

func (g *gossipMeter) count(conn net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	g.m.streams.Add(1)
	return countingConn{Conn: conn, n: &g.m.streamBytes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func (c countingConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	c.n.Add(int64(k))
	return k, err
}
