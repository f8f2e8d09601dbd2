package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/sim"
)

// benchShape is one form of the fleet benchmark (make bench-fleet,
// BENCHMARKS.md figure 7) as the simulator runs it: the same N, S,
// chunk, B, zones and racks, R, slots and window, and the benchmark's
// timers and loopback.
type benchShape struct {
	name    string
	heading string // the BENCHMARKS.md heading its measured table follows, within measuredSection
	nodes   []int
	cfg     func(o *options, n int) sim.Delivery
}

// measuredSection is the BENCHMARKS.md section (a "## " heading's
// start) whose figure 7 and 7p tables the validation compares with: the
// runs since holders moved from gossip to node/tracker.
const measuredSection = "Fleet delivery with holders on trackers"

// loopback is a delivery between in-process nodes on 127.0.0.1: one
// latency, a fast wire, requests (chunk requests and lookups) costing
// what an in-process HTTP round trip with signing costs on a shared
// 2-core machine; holders are found as h says (the benchmark's node
// timers).
func loopback(o *options, n int, size, chunk, bw int64, h sim.Holders) sim.Delivery {
	h.LookupCost = o.benchReqCost
	return sim.Delivery{
		Topology: sim.Topology{N: n, Zones: 3, Racks: 2, Rack: 50 * time.Microsecond, Zone: 50 * time.Microsecond, Cross: 50 * time.Microsecond},
		Size:     size, Chunk: chunk, Replicas: 3,
		Link:  sim.Link{Wire: float64(o.benchWire), Up: float64(bw), UpBurst: float64(max(bw, chunk))},
		Slots: 2, Window: 4,
		Holders: h,
		ReqCost: o.benchReqCost, ChunkCost: 2 * time.Millisecond * time.Duration(chunk>>20),
		AskCost: o.benchAskCost, RankCost: time.Microsecond,
		Start: 10 * time.Millisecond, StartJitter: 20 * time.Millisecond,
	}
}

var benchShapes = []benchShape{
	{
		name:    "figure 7 (test timers: holders flushed after 20 ms, answers kept 100 ms; S = 32 MiB in 1 MiB chunks, B = 2 MiB/s)",
		heading: "7. Fleet delivery",
		nodes:   []int{5, 10, 20, 40},
		cfg: func(o *options, n int) sim.Delivery {
			return loopback(o, n, 32<<20, 1<<20, 2<<20, sim.TestHolders())
		},
	},
	{
		name:    "figure 7 in production shape (production timers: holders flushed after 200 ms, answers kept 1 s; S = 128 MiB in 4 MiB chunks, B = 8 MiB/s)",
		heading: "7p. Fleet delivery in production shape, S = 128 MiB, B = 8 MiB/s",
		nodes:   []int{5, 10, 20, 40},
		cfg: func(o *options, n int) sim.Delivery {
			return loopback(o, n, 128<<20, 4<<20, 8<<20, sim.ProductionHolders())
		},
	},
	{
		name:    "figure 7 in production shape at figure 7's bytes per second (production timers; S = 32 MiB in 4 MiB chunks, B = 2 MiB/s)",
		heading: "7p. Fleet delivery in production shape, S = 32 MiB, B = 2 MiB/s",
		nodes:   []int{5, 10, 20, 40},
		cfg: func(o *options, n int) sim.Delivery {
			return loopback(o, n, 32<<20, 4<<20, 2<<20, sim.ProductionHolders())
		},
	},
}

// measured is one row of figure 7: per mode, the all-delivered, p50
// and max ratios to S/B.
type measured struct{ p2p, origin [3]float64 }

// readFigure reads the summary table under heading within section (a
// "## " heading's start) in a BENCHMARKS.md: N -> ratios. A missing
// file, section or heading gives none.
func readFigure(path, section, heading string) map[int]measured {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[int]measured{}
	ratioRe := regexp.MustCompile(`\(([0-9.]+)x\)`)
	inSection, in, table := false, false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			if in && table {
				return out
			}
			inSection, in = strings.HasPrefix(line[3:], section), false
		case strings.HasPrefix(line, "#"):
			if in && table {
				return out
			}
			in = inSection && strings.HasPrefix(strings.TrimLeft(line, "# "), heading)
		case in && strings.HasPrefix(line, "| N | fetching nodes"):
			table = true
		case in && table && strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			n, err := strconv.Atoi(strings.TrimSpace(cells[0]))
			if err != nil || len(cells) < 8 {
				continue
			}
			var m measured
			for i := range 3 {
				m.p2p[i] = cellRatio(ratioRe, cells[2+i])
				m.origin[i] = cellRatio(ratioRe, cells[5+i])
			}
			out[n] = m
		case in && table && line == "":
			return out
		}
	}
	return out
}

func cellRatio(re *regexp.Regexp, cell string) float64 {
	m := re.FindStringSubmatch(cell)
	if m == nil {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// validate runs the benchmark's cases and sets them beside what the
// benchmark measured (BENCHMARKS.md, or -reference).
func validate(o *options, out io.Writer) error {
	for _, shape := range benchShapes {
		if err := validateShape(o, shape, out); err != nil {
			return err
		}
	}
	return nil
}

func validateShape(o *options, shape benchShape, out io.Writer) error {
	ref := readFigure(o.reference, measuredSection, shape.heading)
	type row struct {
		mode  string
		n     int
		cases []*deliveryCase // one per seed
	}
	var rows []*row
	var all []*deliveryCase
	for _, n := range shape.nodes {
		for _, mode := range []string{"p2p", "origin"} {
			r := &row{mode: mode, n: n}
			for k := range max(1, o.seeds) {
				cfg := shape.cfg(o, n)
				cfg.Seed = o.seed + uint64(k)
				c := &deliveryCase{name: mode, cfg: withMode(cfg, mode)}
				r.cases = append(r.cases, c)
				all = append(all, c)
			}
			rows = append(rows, r)
		}
	}
	runCases(all, o.workers)
	fmt.Fprintf(out, "\n**Validation: %s** — simulated (mean of %d seeds, range in brackets) vs measured (the table under \"%s\" in %s's \"%s\"), ratios to S/B:\n\n",
		shape.name, max(1, o.seeds), shape.heading, o.reference, measuredSection)
	fmt.Fprintf(out, "| mode | N | measured: p50 | max | simulated: p50 | max | off by: p50 | max | simulated origin bytes / S | refusals per chunk fetched |\n")
	fmt.Fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		var p50s, maxs, origin, refusals []float64
		for _, c := range r.cases {
			if c.err != nil {
				return fmt.Errorf("%s N=%d: %w", c.name, c.cfg.N, c.err)
			}
			res := c.res
			fetched := float64(len(res.Done)) * float64((c.cfg.Size+c.cfg.Chunk-1)/c.cfg.Chunk)
			p50s = append(p50s, ratio(pct(res.Done, 50), res.Ideal))
			maxs = append(maxs, ratio(pct(res.Done, 100), res.Ideal))
			origin = append(origin, res.ServedDurable/float64(c.cfg.Size))
			refusals = append(refusals, float64(res.Busy+res.Origin)/fetched)
		}
		mp50, mmax := math.NaN(), math.NaN()
		if m, ok := ref[r.n]; ok {
			v := m.p2p
			if r.mode == "origin" {
				v = m.origin
			}
			mp50, mmax = v[1], v[2]
		}
		fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s | %s | %.2f | %.0f |\n", r.mode, r.n,
			fx(mp50), fx(mmax), spread(p50s), spread(maxs), off(mean(p50s), mp50), off(mean(maxs), mmax), mean(origin), mean(refusals))
	}
	return nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// spread is a mean ratio with its range.
func spread(v []float64) string {
	if len(v) == 1 {
		return fmt.Sprintf("%.2fx", v[0])
	}
	return fmt.Sprintf("%.2fx [%.2f-%.2f]", mean(v), slices.Min(v), slices.Max(v))
}

func fx(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// off is how far sim is from measured, in percent of measured.
func off(sim, measured float64) string {
	if math.IsNaN(measured) || measured == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.0f%%", 100*(sim-measured)/measured)
}
