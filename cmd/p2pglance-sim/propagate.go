package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/sim"
)

// propagation is the sim.Propagation the flags describe at fleet size n.
func (o *options) propagation(n int) sim.Propagation {
	return sim.Propagation{
		Topology: sim.Topology{N: n, Zones: o.zones, Racks: sim.RacksFor(n, o.zones, o.rackSz),
			Rack: o.latRack, Zone: o.latZone, Cross: o.latCross},
		Voters: o.voters, Degree: o.degree, Writes: o.writes, Rate: o.rate,
		Fsync: o.fsync, CommitTimeout: o.commitTimeout, ServeCost: o.serveCost, ApplyCost: o.applyCost, Seed: o.seed,
	}
}

type propagationCase struct {
	cfg  sim.Propagation
	res  *sim.PropagationResult
	wall time.Duration
	err  error
}

func runPropagations(cases []*propagationCase, workers int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, workers))
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			c.res, c.err = sim.Propagate(c.cfg)
			c.wall = time.Since(t0)
		}()
	}
	wg.Wait()
}

func propagateTable(o *options, nodes []int, out io.Writer) error {
	var cases []*propagationCase
	for _, n := range nodes {
		cases = append(cases, &propagationCase{cfg: o.propagation(n)})
	}
	runPropagations(cases, o.workers)
	return printPropagations(out, cases)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func printPropagations(out io.Writer, cases []*propagationCase) error {
	fmt.Fprintf(out, "| N | voters | tree depth | most children | writes (per s) | commit p50 | visible on every agent p50 | p99 | max | one agent, one write: p50 | p99 | max | poll answers by the leader | events | wall |\n")
	fmt.Fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cases {
		if c.err != nil {
			return fmt.Errorf("propagate N=%d: %w", c.cfg.N, c.err)
		}
		r := c.res
		fmt.Fprintf(out, "| %d | %d | %d | %d | %d (%.0f) | %s | %s | %s | %s | %s | %s | %s | %d of %d | %d | %s |\n",
			c.cfg.N, c.cfg.Voters, r.Depth, r.MaxChildren, c.cfg.Writes, c.cfg.Rate, ms(pct(r.Commit, 50)),
			ms(pct(r.Last, 50)), ms(pct(r.Last, 99)), ms(slices.Max(r.Last)),
			ms(r.AgentP50), ms(r.AgentP99), ms(r.AgentMax), r.LeaderAnswers, r.Answers, r.Events, c.wall.Round(10*time.Millisecond))
	}
	return nil
}
