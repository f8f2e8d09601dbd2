package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPhasesRun: each phase runs at a tiny size and prints its table.
func TestPhasesRun(t *testing.T) {
	for _, args := range [][]string{
		{"-phase", "deliver", "-nodes", "12", "-size", "8MiB"},
		{"-phase", "boot", "-nodes", "12", "-size", "8MiB"},
		{"-phase", "origin", "-nodes", "6", "-size", "8MiB"},
		{"-phase", "propagate", "-propagate-nodes", "60", "-writes", "20"},
	} {
		var out bytes.Buffer
		if err := run(args, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "|---") || strings.Contains(out.String(), "incomplete") {
			t.Fatalf("%v printed:\n%s", args, out.String())
		}
	}
	if err := run([]string{"-phase", "nonsense"}, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown phase was accepted")
	}
}

// TestReadFigure: the validation reads figure 7's summary table from
// BENCHMARKS.md as the benchmark prints it, within the section named
// (the same headings in an earlier section are older runs).
func TestReadFigure(t *testing.T) {
	md := "## Fleet delivery\n\n#### 7. Fleet delivery: one image\n\n" +
		"| N | fetching nodes | p2pglance: all delivered | per node p50 | per node max | single-origin: all delivered | per node p50 | per node max | holders |\n" +
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| 5 | 2 | 9.1 s (0.99x) | 9.1 s (0.99x) | 9.1 s (0.99x) |  |  |  | 1.22 S |\n\n" +
		"## Fleet delivery with holders on trackers (issue 11)\n\n#### 7. Fleet delivery: one image to every node at once\n\ntext\n\n" +
		"| N | fetching nodes | p2pglance: all delivered | per node p50 | per node max | single-origin: all delivered | per node p50 | per node max | holders |\n" +
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| 5 | 2 | 6.1 s (0.38x) | 5.7 s (0.35x) | 6.1 s (0.38x) | 10.1 s (0.63x) | 9.1 s (0.57x) | 10.1 s (0.63x) | 1.22 S |\n" +
		"| 40 | 37 | 16.5 s (1.03x) | 15.6 s (0.97x) | 16.5 s (1.03x) |  |  |  | 3.00 S |\n\n" +
		"#### 7p. Fleet delivery in production shape, S = 32 MiB, B = 2 MiB/s: one image\n\n" +
		"| N | fetching nodes | p2pglance: all delivered | per node p50 | per node max | single-origin: all delivered | per node p50 | per node max | holders |\n" +
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| 5 | 2 | 8.2 s (0.51x) | 8.2 s (0.51x) | 8.2 s (0.51x) |  |  |  | 1.75 S |\n"
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	fig := readFigure(path, measuredSection, "7. Fleet delivery")
	if len(fig) != 2 || fig[5].p2p[1] != 0.35 || fig[5].origin[2] != 0.63 || fig[40].p2p[2] != 1.03 {
		t.Fatalf("figure 7 read as %+v", fig)
	}
	prod := readFigure(path, measuredSection, "7p. Fleet delivery in production shape, S = 32 MiB, B = 2 MiB/s")
	if len(prod) != 1 || prod[5].p2p[2] != 0.51 {
		t.Fatalf("figure 7p read as %+v", prod)
	}
	if readFigure(filepath.Join(t.TempDir(), "none.md"), measuredSection, "7. Fleet delivery") != nil {
		t.Fatal("a missing file gave figures")
	}
}
