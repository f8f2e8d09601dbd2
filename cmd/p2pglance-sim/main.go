// Command p2pglance-sim runs the fleet simulator (package sim): image
// delivery and catalog propagation at fleet sizes one machine cannot
// hold, driven by the agents' own policy code. `make sim` runs the
// suite that BENCHMARKS.md reports; flags run single cases.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/internal/bytesize"
	"github.com/p2pglance/p2pglance/sim"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("p2pglance-sim: ")
	if err := run(os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("p2pglance-sim", flag.ContinueOnError)
	var o options
	o.register(fs)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.finish(); err != nil {
		return err
	}
	o.args = args
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	switch o.phase {
	case "suite":
		return suite(&o, out)
	case "deliver", "boot", "origin":
		return deliverTable(&o, o.phase, o.nodes, out)
	case "propagate":
		return propagateTable(&o, o.propNodes, out)
	case "validate":
		return validate(&o, out)
	case "bounds":
		return bounds(&o, out)
	}
	return fmt.Errorf("unknown -phase %q", o.phase)
}

// options are the flags.
type options struct {
	phase                   string
	nodes                   []int
	size, chunk, bw, wire   int64
	replicas, zones, rackSz int
	slots, window           int
	trackers, holderLimit   int
	trackersHung            int
	flushDelay, lookupTTL   time.Duration
	lookupTimeout           time.Duration
	lookupCost              time.Duration
	latRack, latZone        time.Duration
	latCross                time.Duration
	reqCost, chunkCost      time.Duration
	askCost, rankCost       time.Duration
	benchReqCost            time.Duration
	benchAskCost            time.Duration
	benchWireS              string
	benchWire               int64
	start, startJitter      time.Duration
	seed                    uint64
	workers                 int
	reference               string
	seeds                   int
	args                    []string
	// propagation
	voters, degree, writes int
	rate                   float64
	fsync, commitTimeout   time.Duration
	serveCost, applyCost   time.Duration

	nodesS, sizeS, chunkS, bwS, wireS string
	propNodesS, bootNodesS            string
	propNodes, bootNodes              []int
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.phase, "phase", "suite", "suite (what make sim runs), validate (the fleet benchmark's cases), bounds (what chunk size and holder timers cost its N = 40 case), deliver (prefetch to every node), boot (every node streams the image), origin (single-origin), propagate (catalog writes)")
	fs.StringVar(&o.nodesS, "nodes", "1000", "fleet sizes N of the delivery phases (make sim-large: 5000,10000)")
	fs.StringVar(&o.bootNodesS, "boot-nodes", "1000,5000,10000", "fleet sizes N of the suite's boot storms")
	fs.StringVar(&o.propNodesS, "propagate-nodes", "50,100,200,300,1000,5000,10000", "fleet sizes N of the propagation phase")
	fs.StringVar(&o.sizeS, "size", "128MiB", "image size S")
	fs.StringVar(&o.chunkS, "chunk", "4MiB", "chunk size")
	fs.StringVar(&o.bwS, "bw", "8MiB", "every node's UploadBandwidth B, per second")
	fs.StringVar(&o.wireS, "wire", "1190MiB", "every node's link speed, per second (10 Gbit/s)")
	fs.IntVar(&o.replicas, "replicas", 3, "durable holders R")
	fs.IntVar(&o.zones, "zones", 3, "zones")
	fs.IntVar(&o.rackSz, "rack-size", 40, "nodes per rack")
	fs.IntVar(&o.slots, "slots", 2, "UploadSlots")
	fs.IntVar(&o.window, "window", 4, "FetchWindow")
	ph := sim.ProductionHolders()
	fs.IntVar(&o.trackers, "trackers", ph.Trackers, "trackers per image (node/tracker's DefaultTrackers)")
	fs.IntVar(&o.holderLimit, "holder-limit", ph.Limit, "holders a lookup asks for (node/tracker's DefaultLimit)")
	fs.DurationVar(&o.flushDelay, "flush-delay", ph.FlushDelay, "how long a holder's changes gather before they go to the trackers (tracker.Timing.FlushDelay)")
	fs.DurationVar(&o.lookupTTL, "lookup-ttl", ph.LookupTTL, "how long a tracker's answer is kept (tracker.Timing.LookupTTL)")
	fs.DurationVar(&o.lookupTimeout, "lookup-timeout", ph.LookupTimeout, "bound of one lookup (tracker.Timing.LookupTimeout)")
	fs.DurationVar(&o.lookupCost, "lookup-cost", ph.LookupCost, "a tracker's time to answer one lookup")
	fs.IntVar(&o.trackersHung, "trackers-hung", 0, "the image's trackers that never answer (gossip still lists them); all of them: nodes know only the durable holders and the nodes refusals name")
	fs.DurationVar(&o.latRack, "lat-rack", 50*time.Microsecond, "one-way latency within a rack")
	fs.DurationVar(&o.latZone, "lat-zone", 250*time.Microsecond, "one-way latency within a zone")
	fs.DurationVar(&o.latCross, "lat-cross", time.Millisecond, "one-way latency between zones")
	fs.DurationVar(&o.reqCost, "req-cost", 200*time.Microsecond, "a holder's time to answer a chunk request")
	fs.DurationVar(&o.chunkCost, "chunk-cost", 10*time.Millisecond, "a requester's time to verify and store a chunk")
	fs.DurationVar(&o.askCost, "ask-cost", 50*time.Microsecond, "a requester's own time per chunk request")
	fs.DurationVar(&o.rankCost, "rank-cost", 200*time.Nanosecond, "a requester's time per holder it knows, to rank them for a round")
	fs.DurationVar(&o.start, "start", 20*time.Millisecond, "when the job reaches the first node")
	fs.DurationVar(&o.startJitter, "start-jitter", 50*time.Millisecond, "... and the last, later by up to this")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (a run is a function of its flags)")
	fs.IntVar(&o.workers, "workers", 2, "cases run at once")
	fs.DurationVar(&o.benchReqCost, "bench-req-cost", 300*time.Microsecond, "-req-cost of the validation cases (in-process nodes sharing 2 CPUs)")
	fs.DurationVar(&o.benchAskCost, "bench-ask-cost", 300*time.Microsecond, "-ask-cost of the validation cases")
	fs.StringVar(&o.benchWireS, "bench-wire", "1024MiB", "-wire of the validation cases (in-process nodes on loopback)")
	fs.IntVar(&o.seeds, "validate-seeds", 3, "seeds per validation case (their mean is compared)")
	fs.StringVar(&o.reference, "reference", "BENCHMARKS.md", "the measured fleet figures the validation compares with")
	fs.IntVar(&o.voters, "voters", 5, "Raft voters (propagate)")
	fs.IntVar(&o.degree, "fanout-degree", 0, "node/fanout tree degree; 0: its default (propagate)")
	fs.IntVar(&o.writes, "writes", 500, "catalog writes (propagate)")
	fs.Float64Var(&o.rate, "rate", 50, "catalog writes per second, steady (propagate)")
	fs.DurationVar(&o.fsync, "fsync", time.Millisecond, "one Raft log write on a voter (propagate)")
	fs.DurationVar(&o.commitTimeout, "commit-timeout", 15*time.Millisecond, "Raft CommitTimeout (propagate; production: 15ms)")
	fs.DurationVar(&o.serveCost, "serve-cost", 100*time.Microsecond, "a node's time to answer one log poll (propagate)")
	fs.DurationVar(&o.applyCost, "apply-cost", 20*time.Microsecond, "a node's time to apply one catalog entry (propagate)")
}

func (o *options) finish() error {
	var err error
	if o.nodes, err = parseInts(o.nodesS); err != nil {
		return fmt.Errorf("-nodes: %w", err)
	}
	if o.bootNodes, err = parseInts(o.bootNodesS); err != nil {
		return fmt.Errorf("-boot-nodes: %w", err)
	}
	if o.propNodes, err = parseInts(o.propNodesS); err != nil {
		return fmt.Errorf("-propagate-nodes: %w", err)
	}
	for _, p := range []struct {
		s   string
		dst *int64
	}{{o.sizeS, &o.size}, {o.chunkS, &o.chunk}, {o.bwS, &o.bw}, {o.wireS, &o.wire}, {o.benchWireS, &o.benchWire}} {
		if *p.dst, err = bytesize.Parse(p.s); err != nil {
			return err
		}
	}
	return nil
}

// delivery is the sim.Delivery the flags describe at fleet size n.
func (o *options) delivery(n int) sim.Delivery {
	return sim.Delivery{
		Topology: sim.Topology{N: n, Zones: o.zones, Racks: sim.RacksFor(n, o.zones, o.rackSz),
			Rack: o.latRack, Zone: o.latZone, Cross: o.latCross},
		Size: o.size, Chunk: o.chunk, Replicas: o.replicas,
		Link:  sim.Link{Wire: float64(o.wire), Up: float64(o.bw), UpBurst: float64(max(o.bw, o.chunk))},
		Slots: o.slots, Window: o.window,
		Holders: o.holders(),
		ReqCost: o.reqCost, ChunkCost: o.chunkCost, AskCost: o.askCost, RankCost: o.rankCost, Start: o.start, StartJitter: o.startJitter,
		Seed: o.seed,
	}
}

// holders is the holder model the flags describe.
func (o *options) holders() sim.Holders {
	return sim.Holders{Trackers: o.trackers, Limit: o.holderLimit, FlushDelay: o.flushDelay, LookupTTL: o.lookupTTL,
		LookupTimeout: o.lookupTimeout, LookupCost: o.lookupCost, Hung: o.trackersHung}
}

func parseInts(s string) ([]int, error) {
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
