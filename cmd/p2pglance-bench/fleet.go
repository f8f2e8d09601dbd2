package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// fleetConfig is the fleet phase's knobs (-fleet-* flags).
type fleetConfig struct {
	nodes       []int         // fleet sizes N
	size        int64         // image size S
	upBW        int64         // every node's UploadBandwidth B (bytes/s)
	downBW      int64         // every node's DownloadBandwidth (0: unlimited)
	replicas    int           // durable holders R
	zones       int           // zones az1..azZ (node i in zone i%zones)
	racks       int           // racks per zone (node i in rack (i/zones)%racks)
	chunkSize   int           // node.Config.ChunkSize (0: default)
	fetchWindow int           // node.Config.FetchWindow (0: default)
	uploadSlots int           // node.Config.UploadSlots (0: default)
	fast        bool          // node.Config.Fast (short Raft and gossip timers)
	inMemory    bool          // Badger InMemory instead of on disk under -dir
	poll        time.Duration // how often every node's store is sampled
	modes       []string      // "p2p", "origin"
	bootNodes   int           // fleet size whose p2p run also measures boot-time downloads (0: none)
	bootReps    int           // boot-time download repetitions
	plot        string        // PNG path for the ratio-vs-N chart ("" : none)
	profileN    int           // fleet size of the extra profiled p2p run (0: none)
	idle        time.Duration // the fleet idles this long before the POST (its background CPU is measured meanwhile)
	lagWait     time.Duration // how long gossip may still take to list nodes that completed last
}

// fleetMode is one way of running the same fleet.
type fleetMode struct {
	name    string // p2p, origin
	label   string
	noCache bool
}

var fleetModes = map[string]fleetMode{
	"p2p":    {name: "p2p", label: "p2pglance (peers serve what they fetched)"},
	"origin": {name: "origin", label: "single-origin (NoCache: only the 3 durable holders serve)", noCache: true},
}

// fleetRun is one measured fleet delivery.
type fleetRun struct {
	mode     fleetMode
	n        int
	chunks   int
	holders  []int           // indexes of the placement nodes
	zoneOf   []string        // zone/rack of each node
	first    []time.Duration // per fetching node: first chunk stored (since the POST)
	done     []time.Duration // per fetching node: every chunk stored (since the POST)
	full     time.Duration   // last fetching node complete
	jobDone  time.Duration   // the job's state became "done" (since the POST); 0: never
	jobState string          // the job's last state seen
	jobErrs  []string        // per-node errors the job reported
	s        sample          // wall/CPU of the delivery (POST to last node complete)
	idle     sample          // the same fleet idling for a moment just before (background cost)
	// Bytes served to peers (node metrics, during the delivery).
	servedHolders, servedOthers int64
	servedMax                   int64 // most served by a single node
	fetched                     int64
	busyRefusals, busySkips     int64
	stalls                      int64
	timeline                    []fleetPoint // fraction delivered over time
	// runqWait is how long this process's threads waited for a CPU on
	// the kernel's run queues during the delivery (/proc/self/task/*/schedstat):
	// CPU contention, ours or other tenants'.
	runqWait time.Duration
	aliveEnd int // members node 0 saw alive at the end
	// gossipLag: per fetching node, from when it held every chunk to when
	// an observer node (the last fetching node) listed it as holding the
	// whole image (gossip FullHolders, through Node.CacheNodes); -1: never
	// seen by the end of the delivery.
	gossipLag []time.Duration
	heapMiB   uint64 // Go heap in use after the delivery
}

// fleetPoint is the fleet's delivery progress at one sample.
type fleetPoint struct {
	t      time.Duration
	chunks int64 // chunks stored on fetching nodes, in total
	// bytes served to peers since the POST by the durable holders and by
	// the other (fetching) nodes
	servedHolders, servedOthers int64
}

// bootRun is one boot-time download: GET /v2/images/{id}/file on a node
// with nothing of the image local, then again on the same node once the
// first GET left every chunk in its store.
type bootRun struct {
	node            int
	cold, warm      sample
	coldTTFB        time.Duration
	warmTTFB        time.Duration
	coldFetched     int64 // bytes the node fetched from peers during the cold GET
	warmFetched     int64
	coldSources     int // distinct peers that served the cold GET
	coldSourceBytes map[string]int64
}

// fleetResult is everything the fleet phase measured.
type fleetResult struct {
	cfg   fleetConfig
	runs  []*fleetRun
	boot  []bootRun
	bootN int
	plot  string // where the chart was written
	// the extra profiled run (not in the tables)
	profiled *fleetRun
}

// ideal is S/B: how long one node's capped uplink needs to send the image once.
func (f *fleetConfig) ideal() time.Duration {
	return time.Duration(float64(f.size) / float64(f.upBW) * float64(time.Second))
}

// fleetFlags registers the -fleet-* flags; the returned function checks
// and converts them once flag.Parse has run.
func fleetFlags(fc *fleetConfig) func() error {
	var nodes, sz, up, down, chunk, modes string
	flag.StringVar(&nodes, "fleet-nodes", "5,10,20,40", "fleet sizes N (fleet phase)")
	flag.StringVar(&sz, "fleet-size", "32MiB", "image size S (fleet phase)")
	flag.StringVar(&up, "fleet-bw", "2MiB", "every node's UploadBandwidth B, per second (fleet phase)")
	flag.StringVar(&down, "fleet-down-bw", "0", "every node's DownloadBandwidth, per second; 0: unlimited (fleet phase)")
	flag.StringVar(&chunk, "fleet-chunk", "1MiB", "node chunk size; 0: the node default, 4 MiB (fleet phase; 1 MiB with S = 32 MiB keeps the 32 chunks of 4 MiB in 128 MiB at a quarter of the CPU)")
	flag.StringVar(&modes, "fleet-modes", "p2p,origin", "p2p (peers serve what they fetched) and/or origin (NoCache: only the durable holders serve)")
	flag.IntVar(&fc.replicas, "fleet-replicas", 3, "durable holders R of the image (fleet phase)")
	flag.IntVar(&fc.zones, "fleet-zones", 3, "zones the fleet is spread over (fleet phase)")
	flag.IntVar(&fc.racks, "fleet-racks", 2, "racks per zone (fleet phase)")
	flag.IntVar(&fc.fetchWindow, "fleet-window", 0, "node FetchWindow; 0: the node default (fleet phase)")
	flag.IntVar(&fc.uploadSlots, "fleet-slots", 0, "node UploadSlots; 0: the node default (fleet phase)")
	flag.BoolVar(&fc.fast, "fleet-fast", true, "short (test) Raft and gossip timers in the fleet phase")
	flag.BoolVar(&fc.inMemory, "fleet-inmemory", false, "fleet nodes keep Badger in memory (about 3x the data they hold: over 14 GiB at N=40, S=128 MiB) instead of on disk under -dir")
	flag.DurationVar(&fc.poll, "fleet-poll", 100*time.Millisecond, "how often every node's store is sampled (fleet phase)")
	flag.IntVar(&fc.bootNodes, "fleet-boot-nodes", 10, "fleet size whose p2p run also measures boot-time downloads; 0: none")
	flag.IntVar(&fc.bootReps, "fleet-boot-reps", 3, "boot-time downloads (cold, then warm) to measure")
	flag.StringVar(&fc.plot, "fleet-plot", "", "write the completion-ratio-vs-N chart (PNG) here")
	flag.IntVar(&fc.profileN, "fleet-profile-nodes", 40, "fleet size of one extra, profiled p2p run (with -profile-dir); 0: none")
	fc.idle, fc.lagWait = 2*time.Second, 3*time.Second
	return func() error {
		var err error
		if fc.nodes, err = parseFleetNodes(nodes); err != nil {
			return fmt.Errorf("-fleet-nodes: %w", err)
		}
		if fc.size, err = parseSize(sz); err != nil {
			return fmt.Errorf("-fleet-size: %w", err)
		}
		if fc.upBW, err = parseSize(up); err != nil {
			return fmt.Errorf("-fleet-bw: %w", err)
		}
		if fc.downBW, err = parseOptSize(down); err != nil {
			return fmt.Errorf("-fleet-down-bw: %w", err)
		}
		c, err := parseOptSize(chunk)
		if err != nil {
			return fmt.Errorf("-fleet-chunk: %w", err)
		}
		fc.chunkSize = int(c)
		fc.modes = nil
		for _, m := range strings.Split(modes, ",") {
			m = strings.TrimSpace(m)
			if _, ok := fleetModes[m]; !ok {
				return fmt.Errorf("-fleet-modes: unknown mode %q", m)
			}
			fc.modes = append(fc.modes, m)
		}
		if fc.replicas < 1 || fc.zones < 1 || fc.racks < 1 || fc.poll <= 0 {
			return fmt.Errorf("-fleet-replicas, -fleet-zones, -fleet-racks and -fleet-poll must be positive")
		}
		return nil
	}
}

func parseFleetNodes(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(p), &n); err != nil || n < 2 {
			return nil, fmt.Errorf("bad fleet size %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchFleet: for each fleet size N and each mode, a fresh fleet of N
// in-process nodes (3 zones, several racks, every node's upload capped at
// B), one image of S bytes uploaded with replicas R, then a prefetch job
// targeting every node (POST /p2p/v1/prefetch) and every node's store
// sampled until every node holds every chunk.
func benchFleet(ctx context.Context, cfg *config, dir string, rep *report) error {
	fc := cfg.fleet
	res := &fleetResult{cfg: fc}
	rep.fleet = res
	seed := uint64(100)
	for _, n := range fc.nodes {
		for _, mname := range fc.modes {
			mode, ok := fleetModes[mname]
			if !ok {
				return fmt.Errorf("unknown fleet mode %q", mname)
			}
			seed++
			boot := mode.name == "p2p" && n == fc.bootNodes && fc.bootReps > 0
			run, bruns, err := fleetOnce(ctx, &fc, filepath.Join(dir, fmt.Sprintf("%s-%d", mode.name, n)), n, mode, seed, boot, "")
			if err != nil {
				return fmt.Errorf("fleet %s N=%d: %w", mode.name, n, err)
			}
			res.runs = append(res.runs, run)
			if boot {
				res.boot, res.bootN = bruns, n
			}
		}
	}
	if fc.profileN > 0 && cfg.profileDir != "" {
		seed++
		run, _, err := fleetOnce(ctx, &fc, filepath.Join(dir, "profiled"), fc.profileN, fleetModes["p2p"], seed, false, cfg.profileDir)
		if err != nil {
			return fmt.Errorf("fleet profiled run: %w", err)
		}
		res.profiled = run
	}
	if fc.plot != "" {
		if err := writeFleetPlot(fc.plot, res); err != nil {
			return fmt.Errorf("fleet plot: %w", err)
		}
		res.plot = fc.plot
		log.Printf("  plot written to %s", fc.plot)
	}
	return nil
}

// fleetNodeConfig labels node i and applies the fleet's limits.
func fleetNodeConfig(fc *fleetConfig, mode fleetMode, i int, c *node.Config) {
	c.Replicas = fc.replicas
	c.Zone = fmt.Sprintf("az%d", i%fc.zones+1)
	c.Rack = fmt.Sprintf("r%d", (i/fc.zones)%fc.racks+1)
	c.Labels = map[string]string{"class": "hypervisor"}
	c.UploadBandwidth = fc.upBW
	c.DownloadBandwidth = fc.downBW
	c.ChunkSize = fc.chunkSize
	c.FetchWindow = fc.fetchWindow
	c.UploadSlots = fc.uploadSlots
	c.NoCache = mode.noCache
	c.Fast = fc.fast
	c.InMemory = fc.inMemory
	c.GCInterval = time.Hour // nothing to collect; keep GC passes out of the timings
	c.Logger = slog.New(fleetLogs).With("node", i)
}

// fleetLogs sends the fleet nodes' warnings and errors to stderr until
// the fleet is being stopped: a 40-node shutdown otherwise prints
// hundreds of "transport shutdown" and "closed network connection" lines.
var fleetLogs = &quietHandler{h: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})}

type quietHandler struct {
	h        slog.Handler
	stopping atomic.Bool
}

func (q *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !q.stopping.Load() && q.h.Enabled(ctx, l)
}

func (q *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if q.stopping.Load() {
		return nil
	}
	return q.h.Handle(ctx, r)
}

func (q *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietChild{q: q, h: q.h.WithAttrs(as)}
}

func (q *quietHandler) WithGroup(name string) slog.Handler {
	return &quietChild{q: q, h: q.h.WithGroup(name)}
}

// quietChild is a quietHandler's handler with attributes or a group.
type quietChild struct {
	q *quietHandler
	h slog.Handler
}

func (c *quietChild) Enabled(ctx context.Context, l slog.Level) bool {
	return !c.q.stopping.Load() && c.h.Enabled(ctx, l)
}

func (c *quietChild) Handle(ctx context.Context, r slog.Record) error {
	if c.q.stopping.Load() {
		return nil
	}
	return c.h.Handle(ctx, r)
}

func (c *quietChild) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietChild{q: c.q, h: c.h.WithAttrs(as)}
}

func (c *quietChild) WithGroup(name string) slog.Handler {
	return &quietChild{q: c.q, h: c.h.WithGroup(name)}
}

// fleetOnce starts a fleet, uploads the image and measures one delivery
// (and, with boot, the boot-time downloads). With profDir the delivery
// runs under the CPU profiler and the execution tracer.
func fleetOnce(ctx context.Context, fc *fleetConfig, dir string, n int, mode fleetMode, seed uint64, boot bool, profDir string) (*fleetRun, []bootRun, error) {
	debug.FreeOSMemory()
	log.Printf("  fleet %s N=%d: starting %d nodes", mode.name, n, n)
	t0 := time.Now()
	fleetLogs.stopping.Store(false)
	i := 0
	c, err := startCluster(ctx, dir, n, func(cfg *node.Config) {
		fleetNodeConfig(fc, mode, i, cfg)
		i++
	})
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		fleetLogs.stopping.Store(true)
		c.stop()
		_ = os.RemoveAll(dir)
		debug.FreeOSMemory()
	}()
	log.Printf("  fleet %s N=%d: %d nodes up in %s", mode.name, n, n, time.Since(t0).Round(time.Millisecond))

	data := make([]byte, fc.size)
	fillRandom(data, seed)
	hc := newHTTPClient(8)
	up := &glance{base: c.url(0), hc: hc}
	id, err := up.create(ctx, fmt.Sprintf("fleet-%s-%d", mode.name, n))
	if err != nil {
		return nil, nil, err
	}
	t1 := time.Now()
	if err := up.upload(ctx, id, data); err != nil {
		return nil, nil, err
	}
	img, err := c.nodes[0].Image(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	run := &fleetRun{mode: mode, n: n, chunks: len(img.Manifest.Chunks)}
	for _, pid := range img.Placement {
		if k := c.index(pid); k >= 0 && !slices.Contains(run.holders, k) {
			run.holders = append(run.holders, k)
		}
	}
	want := min(fc.replicas, n)
	if len(run.holders) != want {
		return nil, nil, fmt.Errorf("placement %v: want %d distinct holders", img.Placement, want)
	}
	for k, nd := range c.nodes {
		run.zoneOf = append(run.zoneOf, fmt.Sprintf("az%d/r%d", k%fc.zones+1, (k/fc.zones)%fc.racks+1))
		held := nd.Metrics().StoredChunks
		isHolder := slices.Contains(run.holders, k)
		switch {
		case isHolder && held != int64(run.chunks):
			return nil, nil, fmt.Errorf("holder node%d holds %d of %d chunks after the upload", k, held, run.chunks)
		case !isHolder && held != 0:
			return nil, nil, fmt.Errorf("node%d outside the placement holds %d chunks before the prefetch", k, held)
		}
	}
	var zs []string
	for _, h := range run.holders {
		zs = append(zs, fmt.Sprintf("node%d (%s)", h, run.zoneOf[h]))
	}
	log.Printf("  fleet %s N=%d: %s uploaded in %s (%d chunks), placement %s", mode.name, n, size(fc.size), time.Since(t1).Round(time.Millisecond), run.chunks, strings.Join(zs, ", "))

	// Let every node see the image active and the holders' gossip
	// announcements, then take the fleet's idle cost for comparison.
	if err := waitFor(ctx, 30*time.Second, func() bool {
		for _, nd := range c.nodes {
			if _, err := nd.Image(ctx, id); err != nil {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, nil, fmt.Errorf("image not replicated to every catalog: %w", err)
	}
	run.idle, _ = measure(0, func() error {
		select {
		case <-ctx.Done():
		case <-time.After(fc.idle):
		}
		return ctx.Err()
	})

	before := make([]node.Metrics, n)
	for k, nd := range c.nodes {
		before[k] = nd.Metrics()
	}
	deliver := func() error { return fleetDeliver(ctx, fc, c, run, id, hc) }
	if profDir != "" {
		err = profiled(profDir, fmt.Sprintf("fleet-p2p-%d", n), deliver)
	} else {
		err = deliver()
	}
	if err != nil {
		return nil, nil, err
	}
	for k, nd := range c.nodes {
		m := nd.Metrics()
		served := m.ServedBytes - before[k].ServedBytes
		if slices.Contains(run.holders, k) {
			run.servedHolders += served
		} else {
			run.servedOthers += served
		}
		run.servedMax = max(run.servedMax, served)
		run.fetched += m.FetchedBytes - before[k].FetchedBytes
		run.busyRefusals += m.BusyRefusals - before[k].BusyRefusals
		run.busySkips += m.BusySkips - before[k].BusySkips
		run.stalls += m.Stalls - before[k].Stalls
	}
	run.aliveEnd = c.nodes[0].AliveMembers()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	run.heapMiB = ms.HeapInuse >> 20
	ideal := fc.ideal()
	hu, ou := run.uplinkUse(*fc, run.full)
	log.Printf("  fleet %s N=%d: full delivery %s = %.2fx S/B; per node p50 %.2fx, max %.2fx; holders served %s (%.2f S), others %s; uplinks used: holders %.0f%%, others %.0f%%; gossip lag %s; busy refusals %d, stalls %d; run-queue wait %.2f threads; %s",
		mode.name, n, run.full.Round(time.Millisecond), ratioOf(run.full, ideal),
		ratioOf(percentile(run.done, 50), ideal), ratioOf(percentile(run.done, 100), ideal),
		size(run.servedHolders), float64(run.servedHolders)/float64(fc.size), size(run.servedOthers), 100*hu, 100*ou, run.lagSummary(), run.busyRefusals, run.stalls, run.runqWait.Seconds()/run.s.wall.Seconds(), run.s.cpus())
	if run.jobState != "done" {
		log.Printf("  warning: the prefetch job is %q, not done (errors: %v)", run.jobState, run.jobErrs)
	}

	var bruns []bootRun
	if boot {
		if bruns, err = fleetBoot(ctx, fc, c, hc, seed); err != nil {
			return nil, nil, fmt.Errorf("boot-time download: %w", err)
		}
	}
	return run, bruns, nil
}

// fleetDeliver starts the prefetch job and samples every node's store
// every fc.poll until every node holds every chunk, then waits (bounded)
// for the job to report done.
func fleetDeliver(ctx context.Context, fc *fleetConfig, c *cluster, run *fleetRun, id string, hc *http.Client) error {
	n := len(c.nodes)
	var fetchers []int
	for k := range n {
		if !slices.Contains(run.holders, k) {
			fetchers = append(fetchers, k)
		}
	}
	first := make([]time.Duration, n)
	done := make([]time.Duration, n)
	seen := make([]time.Duration, n) // the observer lists node k as a full holder
	observer := c.nodes[fetchers[len(fetchers)-1]]
	base := make([]int64, n)
	for k, nd := range c.nodes {
		base[k] = nd.Metrics().ServedBytes
	}
	// Bounded: the single-origin time with a wide margin.
	limit := time.Duration(float64(fc.ideal())*3*float64(max(1, n-len(run.holders)))/float64(len(run.holders))) + 2*time.Minute

	// The job goes to a node outside the placement (as an operator's
	// request would land on any node).
	post := c.url(fetchers[0])
	body, _ := json.Marshal(map[string]any{"image_id": id, "target": map[string]any{"all": true}})
	var jobID string
	w0 := runqWait()
	s, err := measure(int64(len(fetchers))*fc.size, func() error {
		t0 := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, post+"/p2p/v1/prefetch", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("start prefetch: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("start prefetch: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		var job struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &job); err != nil || job.ID == "" {
			return fmt.Errorf("start prefetch: bad answer %q", b)
		}
		jobID = job.ID
		tick := time.NewTicker(fc.poll)
		defer tick.Stop()
		lastLog := t0
		for {
			now := time.Since(t0)
			remaining := 0
			var total int64
			pt := fleetPoint{t: now}
			for k, nd := range c.nodes {
				if served := nd.Metrics().ServedBytes - base[k]; slices.Contains(run.holders, k) {
					pt.servedHolders += served
				} else {
					pt.servedOthers += served
				}
			}
			full, _ := observer.CacheNodes(ctx, id)
			for _, k := range fetchers {
				if seen[k] == 0 && slices.Contains(full, c.url(k)) {
					seen[k] = now
				}
				held := c.nodes[k].Metrics().StoredChunks
				total += held
				if held > 0 && first[k] == 0 {
					first[k] = now
				}
				if held >= int64(run.chunks) {
					if done[k] == 0 {
						done[k] = now
					}
				} else {
					remaining++
				}
			}
			pt.chunks = total
			run.timeline = append(run.timeline, pt)
			if remaining == 0 {
				run.full = now
				return nil
			}
			if time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				log.Printf("    %s: %d of %d nodes still fetching; %.0f%% of the chunks delivered", now.Round(time.Second), remaining, len(fetchers),
					100*float64(total)/float64(len(fetchers)*run.chunks))
			}
			if now > limit {
				return fmt.Errorf("%d of %d nodes still incomplete after %s", remaining, len(fetchers), now.Round(time.Second))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	})
	if err != nil {
		return err
	}
	run.s = s
	run.runqWait = runqWait() - w0
	// Nodes that completed near the end: give gossip fc.lagWait more to
	// list them (the lag is from completion, so it is not capped by the
	// delivery's end).
	for t0 := time.Now(); time.Since(t0) < fc.lagWait; {
		full, _ := observer.CacheNodes(ctx, id)
		missing := 0
		for _, k := range fetchers {
			if seen[k] == 0 {
				if slices.Contains(full, c.url(k)) {
					seen[k] = run.full + time.Since(t0)
				} else {
					missing++
				}
			}
		}
		if missing <= 1 { // the observer never lists itself
			break
		}
		time.Sleep(fc.poll)
	}
	for _, k := range fetchers {
		run.first = append(run.first, first[k])
		run.done = append(run.done, done[k])
		if k == fetchers[len(fetchers)-1] {
			continue // the observer itself
		}
		lag := time.Duration(-1)
		if seen[k] > 0 {
			lag = max(0, seen[k]-done[k])
		}
		run.gossipLag = append(run.gossipLag, lag)
	}
	// The job's own view: every target must report done (each node
	// records its result in the catalog through Raft).
	g := &glance{base: c.url(0), hc: hc}
	t0 := time.Now()
	for time.Since(t0) < time.Minute {
		st, errs, err := jobState(ctx, g, jobID)
		if err == nil {
			run.jobState, run.jobErrs = st, errs
			if st != "running" {
				if st == "done" {
					run.jobDone = run.full + time.Since(t0)
				}
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// jobState reads a prefetch job's state and its nodes' errors.
func jobState(ctx context.Context, g *glance, id string) (string, []string, error) {
	resp, err := g.do(ctx, http.MethodGet, "/p2p/v1/prefetch/"+id, nil, 0, "")
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var job struct {
		State string `json:"state"`
		Nodes []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"nodes"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("job %s: status %d", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		return "", nil, err
	}
	var errs []string
	for _, nd := range job.Nodes {
		if nd.Error != "" || (job.State != "running" && nd.State != "done") {
			errs = append(errs, fmt.Sprintf("%s %s: %s", nd.ID, nd.State, nd.Error))
		}
	}
	return job.State, errs, nil
}

// fleetBoot measures boot-time downloads in a running fleet: each rep
// uploads a new image, GETs it (md5-checked) from a node with nothing of
// it local, then GETs it again from the same node, which now holds every
// chunk in its local store.
func fleetBoot(ctx context.Context, fc *fleetConfig, c *cluster, hc *http.Client, seed uint64) ([]bootRun, error) {
	data := make([]byte, fc.size)
	var out []bootRun
	for r := range fc.bootReps {
		fillRandom(data, seed*1000+uint64(r))
		up := &glance{base: c.url(0), hc: hc}
		id, err := up.create(ctx, fmt.Sprintf("boot-%d", r))
		if err != nil {
			return nil, err
		}
		if err := up.upload(ctx, id, data); err != nil {
			return nil, err
		}
		img, err := c.nodes[0].Image(ctx, id)
		if err != nil {
			return nil, err
		}
		var cands []int
		for k, nd := range c.nodes {
			if !slices.Contains(img.Placement, nd.ID()) {
				cands = append(cands, k)
			}
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("every node holds the image")
		}
		k := cands[0]
		for _, cand := range cands {
			if !slices.ContainsFunc(out, func(b bootRun) bool { return b.node == cand }) {
				k = cand
				break
			}
		}
		// Holders idle for a second (fc.idle/2): their token buckets are full, as
		// on a fleet where nothing else is being served.
		time.Sleep(fc.idle / 2)
		br := bootRun{node: k, coldSourceBytes: map[string]int64{}}
		served0 := make([]int64, len(c.nodes))
		for j, nd := range c.nodes {
			served0[j] = nd.Metrics().ServedBytes
		}
		url := c.url(k) + "/v2/images/" + id + "/file"
		sum := md5.Sum(data)
		f0 := c.nodes[k].Metrics().FetchedBytes
		br.cold, br.coldTTFB, err = timedGet(ctx, hc, url, fc.size, sum[:])
		if err != nil {
			return nil, fmt.Errorf("cold GET on node%d: %w", k, err)
		}
		f1 := c.nodes[k].Metrics().FetchedBytes
		for j, nd := range c.nodes {
			if d := nd.Metrics().ServedBytes - served0[j]; d > 0 {
				br.coldSources++
				br.coldSourceBytes[fmt.Sprintf("node%d", j)] = d
			}
		}
		br.warm, br.warmTTFB, err = timedGet(ctx, hc, url, fc.size, nil)
		if err != nil {
			return nil, fmt.Errorf("warm GET on node%d: %w", k, err)
		}
		br.coldFetched, br.warmFetched = f1-f0, c.nodes[k].Metrics().FetchedBytes-f1
		log.Printf("  boot download %d on node%d: nothing local: first byte %s, %.1f MB/s (%s, served by %v); local cache: first byte %s, %.0f MB/s (%s)",
			r+1, k, ms(br.coldTTFB), br.cold.mbps(), br.cold.cpus(), br.coldSourceBytes, ms(br.warmTTFB), br.warm.mbps(), br.warm.cpus())
		out = append(out, br)
	}
	return out, nil
}

// timedGet GETs url, reading it in 1 MiB reads, and returns the whole
// transfer's sample and the time to the first body byte. With md5sum it
// checks the content.
func timedGet(ctx context.Context, hc *http.Client, url string, want int64, md5sum []byte) (sample, time.Duration, error) {
	var ttfb time.Duration
	s, err := measure(want, func() error {
		t0 := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		h := md5.New()
		buf := make([]byte, 1<<20)
		var total int64
		for {
			k, err := resp.Body.Read(buf)
			if k > 0 && total == 0 {
				ttfb = time.Since(t0)
			}
			total += int64(k)
			if md5sum != nil {
				h.Write(buf[:k])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if total != want {
			return fmt.Errorf("%d bytes, want %d", total, want)
		}
		if md5sum != nil && !bytes.Equal(h.Sum(nil), md5sum) {
			return fmt.Errorf("md5 mismatch")
		}
		return nil
	})
	return s, ttfb, err
}

// runqWait sums the time every thread of this process has spent
// runnable but waiting for a CPU (second field of
// /proc/self/task/*/schedstat; 0 where the kernel does not report it).
func runqWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			var v int64
			if _, err := fmt.Sscan(f[1], &v); err == nil {
				total += v
			}
		}
	}
	return time.Duration(total)
}

func ratioOf(d, ideal time.Duration) float64 { return d.Seconds() / ideal.Seconds() }
