package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// createRun is one run of image creates.
type createRun struct {
	s                  sample
	n                  int
	lat                []time.Duration
	leaderLat, fwdLat  []time.Duration // requests sent to the leader / to a follower (forwarded)
	fsyncLat           []time.Duration // the baseline: sequential 4 KiB write + fsync
	fsyncWall          time.Duration
	perSecond, fsyncPS float64
	failed             int    // creates answered with an error (not counted in the rate)
	firstErr           string // the first such error
}

// createResult holds the create figures.
type createResult struct {
	nodes, concurrency int
	runs               []createRun
	// One client, one create at a time (-seq-creates each): to the leader, and to a follower
	// (which forwards it and answers once it has applied it itself).
	seqLeader, seqFollower []time.Duration
}

// benchCreate: three nodes with data on disk; POST /v2/images from
// -concurrency clients, client i talking to node i%3 (so two thirds of
// the creates are forwarded to the leader). Each run is preceded by the
// baseline: how many sequential fsyncs per second the same disk does.
func benchCreate(ctx context.Context, cfg *config, dir string, rep *report) error {
	c, err := startCluster(ctx, filepath.Join(dir, "nodes"), 3, nil)
	if err != nil {
		return err
	}
	defer c.stop()
	hc := newHTTPClient(cfg.concurrency)
	clients := make([]*glance, len(c.nodes))
	for i := range c.nodes {
		clients[i] = &glance{base: c.url(i), hc: hc}
	}
	res := &createResult{nodes: len(c.nodes), concurrency: cfg.concurrency}
	rep.create = res
	// Warm up: connections, Raft pipelines.
	if _, err := runCreates(ctx, clients, c.leader(), 3*cfg.concurrency, cfg.concurrency); err != nil {
		return err
	}
	for r := range cfg.reps {
		fl, fw, err := fsyncRate(filepath.Join(dir, fmt.Sprintf("fsync-%d", r)), 200)
		if err != nil {
			return err
		}
		run, err := runCreates(ctx, clients, c.leader(), cfg.creates, cfg.concurrency)
		if err != nil {
			return err
		}
		run.fsyncLat, run.fsyncWall = fl, fw
		run.fsyncPS = float64(len(fl)) / fw.Seconds()
		res.runs = append(res.runs, *run)
		log.Printf("  run %d: %.0f creates/s (%.2f cores), p50 %s ms, p99 %s ms; disk: %.0f fsyncs/s", r+1,
			run.perSecond, run.s.cores(), ms(percentile(run.lat, 50)), ms(percentile(run.lat, 99)), run.fsyncPS)
	}
	leader := c.leader()
	follower := (leader + 1) % len(c.nodes)
	for _, x := range []struct {
		client *glance
		out    *[]time.Duration
	}{{clients[leader], &res.seqLeader}, {clients[follower], &res.seqFollower}} {
		for i := range cfg.seqCreates {
			t0 := time.Now()
			if _, err := x.client.create(ctx, fmt.Sprintf("bench-seq-%d", i)); err != nil {
				return err
			}
			*x.out = append(*x.out, time.Since(t0))
		}
	}
	log.Printf("  one at a time: to the leader p50 %s ms, p99 %s ms; to a follower p50 %s ms, p99 %s ms",
		ms(percentile(res.seqLeader, 50)), ms(percentile(res.seqLeader, 99)), ms(percentile(res.seqFollower, 50)), ms(percentile(res.seqFollower, 99)))
	return profiled(cfg.profileDir, "create", func() error {
		_, err := runCreates(ctx, clients, c.leader(), cfg.creates, cfg.concurrency)
		return err
	})
}

// runCreates makes total creates from conc goroutines; goroutine i talks
// to clients[i%len(clients)]. A failed create is counted and reported,
// not fatal: a benchmark should show a server's errors, not stop at them.
func runCreates(ctx context.Context, clients []*glance, leader, total, conc int) (*createRun, error) {
	var next atomic.Int64
	var mu sync.Mutex
	run := &createRun{n: total}
	var wg sync.WaitGroup
	s, _ := measure(0, func() error {
		for w := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := w % len(clients)
				var lat []time.Duration
				failed, firstErr := 0, ""
				for {
					i := next.Add(1)
					if i > int64(total) || ctx.Err() != nil {
						break
					}
					t0 := time.Now()
					if _, err := clients[target].create(ctx, fmt.Sprintf("bench-create-%d", i)); err != nil {
						if failed == 0 {
							firstErr = err.Error()
						}
						failed++
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				run.lat = append(run.lat, lat...)
				if target == leader {
					run.leaderLat = append(run.leaderLat, lat...)
				} else {
					run.fwdLat = append(run.fwdLat, lat...)
				}
				if run.failed == 0 {
					run.firstErr = firstErr
				}
				run.failed += failed
				mu.Unlock()
			}()
		}
		wg.Wait()
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if run.failed == total {
		return nil, fmt.Errorf("every create failed: %s", run.firstErr)
	}
	run.s = s
	run.perSecond = float64(total-run.failed) / s.wall.Seconds()
	if run.failed > 0 {
		log.Printf("  %d of %d creates failed; first: %s", run.failed, total, run.firstErr)
	}
	return run, nil
}

// fsyncRate appends 4 KiB and fsyncs, n times, to a new file: the rate at
// which this disk completes sequential durable writes (what bounds a
// Raft log that fsyncs every batch).
func fsyncRate(path string, n int) ([]time.Duration, time.Duration, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	fillRandom(buf, 4)
	lat := make([]time.Duration, 0, n)
	t0 := time.Now()
	for range n {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, 0, err
		}
		if err := f.Sync(); err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, time.Since(t0), nil
}
