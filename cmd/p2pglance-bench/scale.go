package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// The scale phase (make bench-scale): N real agent processes on loopback
// with production timers, for each N of -scale-n in turn. Per N it
// measures the time until every agent joined, every agent's idle CPU and
// memory, how long a write takes to be visible on every agent under a
// steady write load, creates per second through one agent, and the
// leader's network egress during a full restart of all N agents against
// the size of the catalog snapshot.

// scaleResult holds every N's figures.
type scaleResult struct {
	cfg  scaleConfig
	runs []*scaleRun
}

// scaleRun is one fleet size's figures.
type scaleRun struct {
	n        int
	took     time.Duration // the whole run of this N
	join     joinResult
	leader   int // the Raft leader during the idle window (agent index; -1 unknown)
	idle     idleResult
	load     loadResult
	creates  scaleCreatesResult
	restart  *restartResult // nil: not measured
	snapshot snapshotResult
	images   int    // images created (the catalog's size, roughly)
	failed   string // why the run ended early: the figures before are kept
}

// benchScale runs the scale phase for every -scale-n.
func benchScale(ctx context.Context, cfg *config, dir string, rep *report) error {
	bin, err := filepath.Abs(cfg.binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("binary %s: %w (run make build)", bin, err)
	}
	res := &scaleResult{cfg: cfg.scale}
	rep.scale = res
	for _, n := range cfg.scale.sizes {
		t0 := time.Now()
		log.Printf("  N=%d: starting %d agents", n, n)
		nd := filepath.Join(dir, fmt.Sprintf("n%d", n))
		run, err := runScale(ctx, &cfg.scale, bin, nd, n)
		if cfg.scale.logs != "" {
			if cerr := copyLogs(nd, filepath.Join(cfg.scale.logs, fmt.Sprintf("n%d", n))); cerr != nil {
				log.Printf("  N=%d: copy the agents' logs: %v", n, cerr)
			}
		}
		run.took = time.Since(t0)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("N=%d: %w", n, err)
			}
			run.failed = err.Error()
			log.Printf("  N=%d failed after %s: %v", n, run.took.Round(time.Second), err)
		} else {
			log.Printf("  N=%d done in %s", n, run.took.Round(time.Second))
		}
		_ = os.RemoveAll(nd)
		res.runs = append(res.runs, run)
	}
	if cfg.scale.plot != "" {
		if err := writeScalePlot(cfg.scale.plot, res); err != nil {
			return err
		}
		log.Printf("  chart written to %s", cfg.scale.plot)
	}
	return nil
}

// runScale measures one fleet of n agents and returns what it measured,
// also when a stage fails (with the error). Every agent is stopped before
// it returns, whatever happens; then the last known leader's data
// directory gives the catalog's snapshot size.
func runScale(ctx context.Context, sc *scaleConfig, bin, dir string, n int) (*scaleRun, error) {
	run := &scaleRun{n: n, leader: -1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, err
	}
	f, err := newScaleFleet(sc, bin, dir, n)
	if err != nil {
		return run, err
	}
	defer f.killAll()
	hc := newScaleClient(4)
	defer hc.CloseIdleConnections()
	err = run.stages(ctx, sc, f, hc)
	f.stopAll(sc.stopTimeout)
	leader := run.leader
	if run.restart != nil && run.restart.leader >= 0 {
		leader = run.restart.leader
	}
	if leader >= 0 && ctx.Err() == nil {
		run.snapshot = catalogSnapshot(filepath.Join(f.agents[leader].dir, "raft"))
		if run.snapshot.err != "" {
			log.Printf("  N=%d: snapshot size: %s", n, run.snapshot.err)
		}
	}
	return run, err
}

// stages runs the measurements one after the other and stops at the
// first that fails.
func (run *scaleRun) stages(ctx context.Context, sc *scaleConfig, f *scaleFleet, hc *http.Client) error {
	n := run.n
	a0 := f.agents[0]

	// Join: agent 0 bootstraps; once it takes writes the next ones join
	// one after the other, then every other agent in waves of sc.wave
	// (all at once without). The marker written then is what "has
	// applied the catalog" means.
	t0 := time.Now()
	if err := f.start(a0); err != nil {
		return err
	}
	firstID, firstRev, err := createRetry(ctx, hc, f, a0, "scale-first", time.Minute)
	if err != nil {
		return fmt.Errorf("agent 0 never took a write: %w", err)
	}
	// The first -scale-join agents one after the other, so that they are
	// the Raft voters (the first ones to join) and every agent's --join
	// names them: a full restart needs an agent to reach the leader
	// through its --join list.
	voters := min(sc.joinVia, n)
	for _, a := range f.agents[1:voters] {
		if err := f.start(a); err != nil {
			return err
		}
		err := waitFor(ctx, time.Minute, func() bool { return appliedOrExited(ctx, hc, a, firstID, firstRev) })
		if err == nil && !a.running() {
			err = f.exitedAgent()
		}
		if err != nil {
			return fmt.Errorf("agent %d did not join: %w", a.i, err)
		}
	}
	if err := f.startWaves(ctx, hc, voters, sc.wave, firstID, firstRev, sc.joinTimeoutFor(n)); err != nil {
		return err
	}
	id, rev, err := createRetry(ctx, hc, f, a0, "scale-marker", time.Minute)
	if err != nil {
		return err
	}
	run.images += 2
	if run.join, err = waitJoined(ctx, hc, f, t0, id, rev, sc.joinTimeoutFor(n)); err != nil {
		return err
	}
	if run.join.listed < n {
		// Every agent has the catalog; gossip's complete view is late
		// (on one saturated machine, UDP drops and suspicions): the rest
		// is measured all the same, the report says so.
		log.Printf("    every agent applied the catalog after %s, but only %d of %d agents listed every agent alive within %s more; measuring on", run.join.applied.Round(time.Millisecond), run.join.listed, n, sc.membershipGrace(n))
	}
	log.Printf("  N=%d: all joined after %s (catalog applied everywhere after %s)", n, run.join.all.Round(time.Millisecond), run.join.applied.Round(time.Millisecond))
	if err := f.readIDs(ctx, 10*time.Second); err != nil {
		return err
	}

	// Idle. The leader is asked before and after the window: under
	// load leadership can move.
	if err := sleepCtx(ctx, sc.settle); err != nil {
		return err
	}
	if run.leader, err = leaderIndex(ctx, hc, f); err != nil {
		return err
	}
	if run.idle, err = measureIdle(ctx, f, run.leader, sc.idle); err != nil {
		return err
	}
	after, err := leaderIndex(ctx, hc, f)
	if err != nil {
		return err
	}
	if after != run.leader {
		run.idle.leaders = append(run.idle.leaders, after)
		run.leader = after
	}
	log.Printf("  N=%d: idle %s: agents median %.1f, max but the leader %.1f millicores; leader (agent %v) %.1f; median VmRSS %s",
		n, run.idle.window.Round(time.Second), run.idle.medianMC(), run.idle.maxMC(), run.idle.leaders, run.idle.leaderMC(), mib(run.idle.medianMem().rss))

	// Steady writes, each sampled write looked for on every agent, with
	// every agent's CPU over the load.
	c0 := f.cpu()
	if run.load, err = runScaleLoad(ctx, hc, f, sc); err != nil {
		return err
	}
	run.load.cpu = subCPU(f.cpu(), c0)
	run.images += run.load.ok
	log.Printf("  N=%d: %d writes at %.1f/s (%d failed); visible on every agent p50 %s ms, p99 %s ms, max %s ms (%d sampled writes); CPU per write on the median agent %.0f µs, whole fleet %.1f ms",
		n, run.load.ok, run.load.achieved(), run.load.failed, ms(percentile(run.load.visAll, 50)), ms(percentile(run.load.visAll, 99)), ms(percentile(run.load.visAll, 100)), len(run.load.visAll),
		run.load.cpuPerWrite(run.idle), run.load.fleetCPUPerWrite(run.idle)*1000)

	// Creates per second through one agent.
	via := sc.createVia
	if via < 0 || via >= n {
		via = n - 1
	}
	if run.creates, err = scaleCreates(ctx, hc, f.agents[via], sc.clients, sc.creates); err != nil {
		return err
	}
	run.images += run.creates.ok
	log.Printf("  N=%d: %.0f creates/s through agent %d (%d clients, %d failed)", n, run.creates.perSecond(), via, sc.clients, run.creates.failed)
	if err := f.exitedAgent(); err != nil {
		return err
	}

	// A full restart (every agent is stopped after it), with the
	// catalog first grown to -scale-catalog images if asked.
	if !sc.restart {
		return nil
	}
	if sc.catalog > run.images {
		t := time.Now()
		added, err := fillCatalog(ctx, hc, a0, sc.clients, sc.catalog-run.images, sc.joinTimeoutFor(n))
		run.images += added
		if err != nil {
			return err
		}
		log.Printf("  N=%d: catalog grown by %d images to %d in %s", n, added, run.images, time.Since(t).Round(time.Second))
	}
	restart, err := fullRestart(ctx, hc, f, sc)
	if restart != nil && restart.rejoin.all > 0 {
		run.restart = restart // back after the restart, even if its counters are lost
	}
	if err != nil {
		return err
	}
	run.images++
	log.Printf("  N=%d: restart: all back after %s; leader (agent %d) sent %s in %s", n, run.restart.rejoin.all.Round(time.Millisecond),
		run.restart.leader, bytesStr(run.restart.leaderBytes.sent()), run.restart.window.Round(time.Millisecond))
	if run.restart.leaderBytes.served != nil {
		log.Printf("  N=%d: restart: the leader's internal HTTP by route: %s", n, run.restart.leaderBytes.byRoute())
	}
	return nil
}

// leaderIndex asks the first agents (the voters), in turn, which node
// leads Raft and returns its agent index.
func leaderIndex(ctx context.Context, hc *http.Client, f *scaleFleet) (int, error) {
	idx := -1
	try := 0
	err := waitFor(ctx, time.Minute, func() bool {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		a := f.agents[try%min(3, len(f.agents))]
		try++
		info, err := clusterOf(rctx, hc, a.url())
		if err != nil || info.Leader == "" {
			return false
		}
		idx = f.index(info.Leader)
		return idx >= 0
	})
	if err != nil {
		return -1, fmt.Errorf("no leader among the agents: %w", err)
	}
	return idx, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// copyLogs copies the agents' logs (*.log) of dir into to.
func copyLogs(dir, to string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) == 0 {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(p)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
