package main

import (
	"bytes"
	"context"
	"image/png"
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
