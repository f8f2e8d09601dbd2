package main

import (
	"fmt"
	"io"

	"github.com/p2pglance/p2pglance/sim"
)

// bounds runs the fleet benchmark's N = 40 case (S = 32 MiB, B =
// 2 MiB/s, loopback) with the chunk size and the holder timers changed
// one at a time: what each costs figure 7 in production shape.
func bounds(o *options, out io.Writer) error {
	type variant struct {
		name  string
		chunk int64
		hold  sim.Holders
	}
	hung := sim.ProductionHolders()
	hung.Hung = hung.Trackers
	variants := []variant{
		{"figure 7: 1 MiB chunks, test holder timers (flush 20 ms, answers kept 100 ms)", 1 << 20, sim.TestHolders()},
		{"1 MiB chunks, production holder timers (flush 200 ms, answers kept 1 s)", 1 << 20, sim.ProductionHolders()},
		{"4 MiB chunks, test holder timers", 4 << 20, sim.TestHolders()},
		{"figure 7p: 4 MiB chunks, production holder timers", 4 << 20, sim.ProductionHolders()},
		{"4 MiB chunks, every tracker hung (durable holders and refusals' copies only)", 4 << 20, hung},
	}
	const n = 40
	var cases []*deliveryCase
	for _, v := range variants {
		for k := range max(1, o.seeds) {
			cfg := loopback(o, n, 32<<20, v.chunk, 2<<20, v.hold)
			cfg.Seed = o.seed + uint64(k)
			cases = append(cases, &deliveryCase{name: v.name, cfg: cfg})
		}
	}
	runCases(cases, o.workers)
	fmt.Fprintf(out, "\n**What bounds figure 7p** (simulated, the benchmark's N = 40 case at S = 32 MiB, B = 2 MiB/s, mean of %d seeds): chunk size and holder timers changed one at a time.\n\n", max(1, o.seeds))
	fmt.Fprintf(out, "| variant | p50 | p99 | max (x S/B) | first chunk p50 | origin bytes / S | last resort / S | refusals per chunk fetched |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	per := max(1, o.seeds)
	for i := 0; i < len(cases); i += per {
		var p50, p99, mx, first, origin, last, ref []float64
		for _, c := range cases[i : i+per] {
			if c.err != nil {
				return fmt.Errorf("%s: %w", c.name, c.err)
			}
			r := c.res
			fetched := float64(len(r.Done)) * float64((c.cfg.Size+c.cfg.Chunk-1)/c.cfg.Chunk)
			p50 = append(p50, ratio(pct(r.Done, 50), r.Ideal))
			p99 = append(p99, ratio(pct(r.Done, 99), r.Ideal))
			mx = append(mx, ratio(pct(r.Done, 100), r.Ideal))
			first = append(first, pct(r.First, 50).Seconds())
			origin = append(origin, r.ServedDurable/float64(c.cfg.Size))
			last = append(last, r.LastResort/float64(c.cfg.Size))
			ref = append(ref, float64(r.Busy+r.Origin)/fetched)
		}
		fmt.Fprintf(out, "| %s | %.2fx | %.2fx | %.2fx | %.2f s | %.2f | %.2f | %.0f |\n", cases[i].name,
			mean(p50), mean(p99), mean(mx), mean(first), mean(origin), mean(last), mean(ref))
	}
	return nil
}
