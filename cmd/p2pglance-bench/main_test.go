package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every phase with tiny sizes so the benchmark keeps
// working as the node evolves. It checks that each table is produced,
// never how fast anything was.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several real clusters")
	}
	dir := t.TempDir()
	only := map[string]bool{"hash": true, "local": true, "peer": true, "create": true, "list": true, "ryw": true}
	bin := filepath.Join(dir, "p2pglance")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/p2pglance/p2pglance/cmd/p2pglance").CombinedOutput(); err != nil {
		t.Logf("no rss phase: cannot build the agent: %v\n%s", err, out)
	} else {
		only["rss"] = true
	}
	cfg := &config{
		dir: dir, size: 8 << 20, peerSize: 8 << 20, reps: 1, dlReps: 1,
		creates: 60, concurrency: 4, seqCreates: 5, listSizes: []int{100, 200}, listRequests: 10, loaders: 8, rywReads: 20, rywWrites: 5,
		binary: bin, profileDir: filepath.Join(dir, "profiles"), settle: 10 * time.Millisecond, idle: 100 * time.Millisecond,
		only: only,
	}
	if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := []string{"### 1-2.", "### 3.", "### 4.", "### 5.", "| 200 | `limit=25&owner=proj-042` |", "### 9.", "| right after a PATCH through the other follower | `p2pglance-rev` cookie"}
	if only["rss"] {
		want = append(want, "### 6.")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	for _, p := range []string{"upload", "download", "peer-download", "create", "list"} {
		if _, err := os.Stat(filepath.Join(cfg.profileDir, p+".pprof")); err != nil {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}
