package main

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetSmoke runs the fleet phase with a tiny image on a 4-node
// fleet (both modes, boot-time downloads, the chart) so it keeps working
// as the node evolves. It checks that the tables and the chart are
// produced and that every node got every chunk, never how fast.
func TestFleetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two small clusters")
	}
	dir := t.TempDir()
	plot := filepath.Join(dir, "fleet.png")
	cfg := &config{
		dir:  dir,
		only: map[string]bool{"fleet": true},
		fleet: fleetConfig{
			nodes: []int{4}, size: 2 << 20, upBW: 16 << 20, replicas: 3, zones: 3, racks: 2,
			chunkSize: 256 << 10, fast: true, poll: 20 * time.Millisecond,
			modes: []string{"p2p", "origin"}, bootNodes: 4, bootReps: 1, plot: plot,
			idle: 100 * time.Millisecond, lagWait: 500 * time.Millisecond,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, w := range []string{"### 7.", "| 4 | 1 |", "| origin | 4 |", "#### Boot-time download", "| per node max <= 2x S/B |"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("chart: %v", err)
	}
}

// TestFleetPlot draws the chart for made-up runs and checks it is a PNG of the chart's size.
func TestFleetPlot(t *testing.T) {
	res := madeUpFleet()
	path := filepath.Join(t.TempDir(), "fleet.png")
	if err := writeFleetPlot(path, res); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart: %v", err)
	}
	if b := img.Bounds(); b.Dx() != plotWidthPx || b.Dy() != plotHeightPx {
		t.Errorf("chart is %dx%d, want %dx%d", b.Dx(), b.Dy(), plotWidthPx, plotHeightPx)
	}
	measured, bounds := fleetPlotSeries(res, []int{5, 10, 20, 40})
	if len(measured) != 4 || len(bounds) != 2 {
		t.Fatalf("%d measured and %d bound lines, want 4 and 2", len(measured), len(bounds))
	}
	if got := measured[0].xys[3].Y; math.Abs(got-196.6/16) > 1e-9 {
		t.Errorf("single-origin max at N=40: %v, want %v", got, 196.6/16)
	}
}

// madeUpFleet is a fleet result with the N=5..40 figures of BENCHMARKS.md
// (per node p50 and max of each run; S = 32 MiB, B = 2 MiB/s, R = 3).
func madeUpFleet() *fleetResult {
	fc := fleetConfig{nodes: []int{40, 5, 10, 20}, size: 32 << 20, upBW: 2 << 20, replicas: 3}
	res := &fleetResult{cfg: fc}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	for _, r := range []struct {
		mode     string
		n        int
		p50, max float64
	}{
		{"p2p", 5, 5.7, 6.1}, {"origin", 5, 9.1, 10.1},
		{"p2p", 10, 10.1, 10.7}, {"origin", 10, 34.1, 36.6},
		{"p2p", 20, 13.8, 14.4}, {"origin", 20, 86.0, 90.0},
		{"p2p", 40, 15.6, 16.5}, {"origin", 40, 187.0, 196.6},
	} {
		res.runs = append(res.runs, &fleetRun{mode: fleetModes[r.mode], n: r.n,
			done: []time.Duration{secs(r.p50 - 1), secs(r.p50), secs(r.max)}})
	}
	return res
}

// TestFleetRunStats checks the per-run arithmetic on a made-up run.
func TestFleetRunStats(t *testing.T) {
	fc := fleetConfig{size: 64 << 20, upBW: 8 << 20}
	if got := fc.ideal(); got != 8*time.Second {
		t.Fatalf("ideal %s, want 8s", got)
	}
	r := &fleetRun{n: 5, chunks: 16, holders: []int{0, 1, 2}, timeline: []fleetPoint{
		{t: time.Second, chunks: 8, servedHolders: 12 << 20, servedOthers: 8 << 20},
		{t: 2 * time.Second, chunks: 32, servedHolders: 24 << 20, servedOthers: 16 << 20},
	}, full: 2 * time.Second, gossipLag: []time.Duration{100 * time.Millisecond, -1}}
	if got := r.deliveredAt(time.Second); got != 0.25 {
		t.Errorf("delivered at 1s: %v, want 0.25", got)
	}
	if got := r.deliveredAt(time.Hour); got != 1 {
		t.Errorf("delivered at the end: %v, want 1", got)
	}
	h, o := r.uplinkUse(fc, 2*time.Second)
	if h != 0.5 || o != 0.5 {
		t.Errorf("uplink use %v / %v, want 0.5 / 0.5", h, o)
	}
	if got := r.lagSummary(); got != "100 ms / 100 ms (1 of 2 never)" {
		t.Errorf("lag summary %q", got)
	}
}
