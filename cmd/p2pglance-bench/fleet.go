package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

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
	originRefusals              int64 // durable holders sending requesters to copies
	lastResort                  int64 // bytes served to requests marked last resort
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

// fleetOnce starts a fleet, uploads the image and measures one delivery
// (and, with boot, the boot-time downloads). With profDir the delivery
// runs under the CPU profiler and the execution tracer.
func fleetOnce(ctx context.Context, fc *fleetConfig, dir string, n int, mode fleetMode, seed uint64, boot bool, profDir string) (*fleetRun, []bootRun, error) {
	debug.FreeOSMemory()
	log.Printf("  fleet %s N=%d: starting %d nodes", mode.name, n, n)
	t0 := time.Now()
	fleetLogs.stopping.Store(false)
	i := 0
	var opts []node.Option
	if fc.inMemory {
		opts = append(opts, node.InMemory())
	}
	c, err := startCluster(ctx, dir, n, func(cfg *node.Config) {
		fleetNodeConfig(fc, mode, i, cfg)
		i++
	}, opts...)
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
		run.originRefusals += m.OriginRefusals - before[k].OriginRefusals
		run.lastResort += m.LastResortBytes - before[k].LastResortBytes
	}
	run.aliveEnd = c.nodes[0].AliveMembers()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	run.heapMiB = ms.HeapInuse >> 20
	ideal := fc.ideal()
	hu, ou := run.uplinkUse(*fc, run.full)
	log.Printf("  fleet %s N=%d: full delivery %s = %.2fx S/B; per node p50 %.2fx, max %.2fx; holders served %s (%.2f S), others %s; uplinks used: holders %.0f%%, others %.0f%%; gossip lag %s; busy refusals %d, origin refusals %d, last resort %s, stalls %d; run-queue wait %.2f threads; %s",
		mode.name, n, run.full.Round(time.Millisecond), ratioOf(run.full, ideal),
		ratioOf(percentile(run.done, 50), ideal), ratioOf(percentile(run.done, 100), ideal),
		size(run.servedHolders), float64(run.servedHolders)/float64(fc.size), size(run.servedOthers), 100*hu, 100*ou, run.lagSummary(), run.busyRefusals, run.originRefusals, size(run.lastResort), run.stalls, run.runqWait.Seconds()/run.s.wall.Seconds(), run.s.cpus())
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

func ratioOf(d, ideal time.Duration) float64 { return d.Seconds() / ideal.Seconds() }
