package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRepairSmoke runs the repair phase on a tiny cluster so it keeps
// working as the node evolves: the table is produced and every image
// the lost node held is back at R holders; never how fast.
func TestRepairSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a small cluster")
	}
	cfg := &config{
		dir:  t.TempDir(),
		only: map[string]bool{"repair": true},
		repair: repairConfig{
			nodes: 4, zones: 2, images: 4, size: 1 << 20, upBW: 4 << 20, replicas: 2,
			grace: 500 * time.Millisecond, chunkSize: 256 << 10, poll: 20 * time.Millisecond, timeout: time.Minute,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, w := range []string{"### 8. Repair", "| **every image repaired (time to repair)** |", "(1.00x the lost bytes)", "4 of 4 images span min(R, zones) = 2 zones."} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
}

// TestRepairIdeal checks the ideal's arithmetic.
func TestRepairIdeal(t *testing.T) {
	r := &repairResult{cfg: repairConfig{upBW: 8 << 20}, lostBytes: 256 << 20, survivors: []int{0, 2, 3, 5}}
	if got := r.idealCopy(); got != 8*time.Second {
		t.Fatalf("ideal %s, want 8s", got)
	}
}
