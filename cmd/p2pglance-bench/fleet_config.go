package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/internal/bytesize"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/node/nodetest"
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
	fast        bool          // nodetest.Timing (short Raft and gossip timers)
	inMemory    bool          // node.InMemory: Badger in memory instead of on disk under -dir
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
		if fc.size, err = bytesize.Parse(sz); err != nil {
			return fmt.Errorf("-fleet-size: %w", err)
		}
		if fc.upBW, err = bytesize.Parse(up); err != nil {
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
	if fc.fast {
		c.Timing = nodetest.Timing()
	}
	c.GCInterval = time.Hour // nothing to collect; keep GC passes out of the timings
	c.Logger = slog.New(fleetLogs).With("node", i)
}
