package main

import (
	"fmt"
	"io"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/sim"
)

// deliveryCase is one simulated delivery and what it measured.
type deliveryCase struct {
	name string // p2p, origin, boot
	cfg  sim.Delivery
	res  *sim.DeliveryResult
	wall time.Duration
	err  error
}

// mode sets a case's mode: p2p (prefetch), origin (single-origin
// prefetch) or boot (every node streams the image).
func withMode(cfg sim.Delivery, mode string) sim.Delivery {
	cfg.NoCache = mode == "origin"
	cfg.Boot = mode == "boot"
	return cfg
}

// runCases runs the cases, workers at a time.
func runCases(cases []*deliveryCase, workers int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, workers))
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			c.cfg.Progress = func(now time.Duration, left int) {
				log.Printf("%s N=%d: %s simulated, %d nodes still fetching (%s)", c.name, c.cfg.N, now.Round(time.Millisecond), left, time.Since(t0).Round(time.Second))
			}
			c.res, c.err = sim.Deliver(c.cfg)
			c.wall = time.Since(t0)
		}()
	}
	wg.Wait()
}

func deliverTable(o *options, mode string, nodes []int, out io.Writer) error {
	if mode == "deliver" {
		mode = "p2p"
	}
	var cases []*deliveryCase
	for _, n := range nodes {
		cases = append(cases, &deliveryCase{name: mode, cfg: withMode(o.delivery(n), mode)})
	}
	runCases(cases, o.workers)
	return printDeliveries(out, cases)
}

// pct returns the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ratio(d, ideal time.Duration) float64 { return d.Seconds() / ideal.Seconds() }

func printDeliveries(out io.Writer, cases []*deliveryCase) error {
	fmt.Fprintf(out, "| mode | N | racks x zones | S, chunk, B | image to every node: p50 | p99 | max (x S/B) | first chunk p50 | origin bytes / S | others / S | last resort / S | requests per chunk fetched | rounds per chunk (all busy) | busy + origin refusals | holdings batches per s | lookups per s, busiest tracker | events | wall |\n")
	fmt.Fprintf(out, "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cases {
		if c.err != nil {
			return fmt.Errorf("%s N=%d: %w", c.name, c.cfg.N, c.err)
		}
		r, s := c.res, float64(c.cfg.Size)
		fetched := float64(len(r.Done)) * float64((c.cfg.Size+c.cfg.Chunk-1)/c.cfg.Chunk)
		incomplete := ""
		if !r.Complete {
			incomplete = " (incomplete)"
		}
		fmt.Fprintf(out, "| %s | %d | %d x %d | %s, %s, %s/s | %.2fx | %.2fx | %.2fx%s | %s | %.2f | %.2f | %.2f | %.1f | %.1f (%.1f) | %d + %d | %.0f | %.0f | %d | %s |\n",
			c.name, c.cfg.N, c.cfg.Racks, c.cfg.Zones, bytesStr(c.cfg.Size), bytesStr(c.cfg.Chunk), bytesStr(int64(c.cfg.Link.Up)),
			ratio(pct(r.Done, 50), r.Ideal), ratio(pct(r.Done, 99), r.Ideal), ratio(pct(r.Done, 100), r.Ideal), incomplete,
			pct(r.First, 50).Round(time.Millisecond), r.ServedDurable/s, r.ServedOthers/s, r.LastResort/s,
			float64(r.Requests)/fetched, float64(r.Rounds)/fetched, float64(r.BusyRounds)/fetched, r.Busy, r.Origin, float64(r.Batches)/pct(r.Done, 100).Seconds(), float64(slices.Max(r.Lookups))/pct(r.Done, 100).Seconds(), r.Events, c.wall.Round(100*time.Millisecond))
	}
	return nil
}

func bytesStr(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}
