package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// suite is what `make sim` runs and BENCHMARKS.md reports: the
// validation against the fleet benchmark, then image delivery and
// catalog propagation at -nodes.
func suite(o *options, out io.Writer) error {
	t0 := time.Now()
	cmd := "`bin/p2pglance-sim " + strings.Join(o.args, " ") + "`"
	if len(o.args) == 0 {
		cmd = "`make sim`: `bin/p2pglance-sim` with its defaults"
	}
	fmt.Fprintf(out, "## Simulator (%s)\n\n", cmd)
	fmt.Fprintf(out, "Every figure is simulated time from the discrete-event model (package `sim`, docs/sim.md), driven by `node/transfer/policy`, `node/fanout` and `tracker.Trackers`; seed %d.\n", o.seed)
	if err := validate(o, out); err != nil {
		return err
	}
	if err := bounds(o, out); err != nil {
		return err
	}

	d := o.delivery(o.nodes[0])
	fmt.Fprintf(out, "\n**Image delivery at scale**: one image of S = %s in %s chunks, R = %d, to every other node at once — a prefetch job (\"p2p\": FetchWindow %d rarest-first workers per node) or a boot storm (\"boot\": every node streams the image in order, FetchWindow chunks ahead); UploadSlots %d, every node's upload capped at B = %s/s (burst one second) on a %s/s wire; %d zones, racks of %d; one-way latency %s in a rack, %s in a zone, %s across; a holder answers a request in %s (one at a time), a requester stores a chunk in %s; the job reaches the nodes within %s..%s. Holders: %d trackers per image, a holder's changes flushed to them after %s, a lookup asks for %d holders and its answer is kept %s (node/tracker's defaults), a tracker answers a lookup in %s; or every tracker hung (\"trackers hung\": nodes know only the durable holders and the copies refusals name). Ideal S/B = %s.\n\n",
		bytesStr(o.size), bytesStr(o.chunk), o.replicas, o.window, o.slots, bytesStr(o.bw), bytesStr(o.wire), o.zones, o.rackSz,
		o.latRack, o.latZone, o.latCross, o.reqCost, o.chunkCost, o.start, o.start+o.startJitter, o.trackers, o.flushDelay, o.holderLimit, o.lookupTTL, o.lookupCost, time.Duration(float64(d.Size)/d.Link.Up*float64(time.Second)))
	var cases []*deliveryCase
	for _, hung := range []bool{false, true} {
		for _, n := range o.nodes {
			cfg := o.delivery(n)
			name := "p2p"
			if hung {
				cfg.Holders.Hung, name = cfg.Holders.Trackers, "p2p, trackers hung"
			}
			cases = append(cases, &deliveryCase{name: name, cfg: cfg})
		}
	}
	for _, n := range o.bootNodes {
		cases = append(cases, &deliveryCase{name: "boot", cfg: withMode(o.delivery(n), "boot")})
	}
	runCases(cases, o.workers)
	if err := printDeliveries(out, cases); err != nil {
		return err
	}

	p := o.propagation(o.propNodes[0])
	fmt.Fprintf(out, "\n**Catalog propagation**: %d writes at %.0f/s through the leader (node 0; voters are nodes 0..%d), committed by a majority of %d voters (fsync %s each), Raft CommitTimeout %s; every other agent long-polls its upstream in node/fanout's tree (degree %d) and applies what it gets; a node answers one poll at a time in %s and applies an entry in %s. Times are from each write's commit on the leader; \"visible on every agent\" is per write, the last agent's; \"one agent, one write\" is over every (agent, write) pair.\n\n",
		p.Writes, p.Rate, p.Voters-1, p.Voters, p.Fsync, p.CommitTimeout, max(p.Degree, 8), p.ServeCost, p.ApplyCost)
	var pcs []*propagationCase
	for _, n := range o.propNodes {
		pcs = append(pcs, &propagationCase{cfg: o.propagation(n)})
	}
	runPropagations(pcs, o.workers)
	if err := printPropagations(out, pcs); err != nil {
		return err
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(out, "\nThe suite took %s of wall time and %s of CPU (%d cases at a time, GOMAXPROCS %d); peak RSS %d MiB.\n",
		time.Since(t0).Round(time.Second), cpu.Round(time.Second), o.workers, runtime.GOMAXPROCS(0), ru.Maxrss>>10)
	return nil
}
