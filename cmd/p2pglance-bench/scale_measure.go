package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/api"
)

// createRetry creates an image through agent a, retrying (a leader being
// elected, the agent still starting) until timeout.
func createRetry(ctx context.Context, hc *http.Client, f *scaleFleet, a *scaleAgent, name string, timeout time.Duration) (string, uint64, error) {
	var id string
	var rev uint64
	var last error
	err := waitFor(ctx, timeout, func() bool {
		if !a.running() {
			return true
		}
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		id, rev, last = createAt(rctx, hc, a.url(), name)
		return last == nil
	})
	if err == nil && !a.running() {
		err = f.exitedAgent()
	}
	if err != nil {
		return "", 0, fmt.Errorf("create %s through agent %d: %w (last: %v)", name, a.i, err, last)
	}
	return id, rev, nil
}

// joinResult is how long a fleet took to join, counted from the start of
// its first process.
type joinResult struct {
	applied time.Duration // every agent had applied the marker write
	members time.Duration // every agent listed every agent alive (gossip); 0: not all did
	all     time.Duration // both (applied alone when not every agent listed every agent)
	listed  int           // agents that listed every agent alive
}

// membershipGrace is how long, once every agent has applied the marker,
// every agent may still take to list every agent alive: gossip spreads
// in seconds on hosts of their own, but a wave of 100 agents on one
// 2-core machine took 2 minutes at N = 300 (-scale-members-grace
// overrides it).
func (sc *scaleConfig) membershipGrace(n int) time.Duration {
	if sc.membersGrace > 0 {
		return sc.membersGrace
	}
	return membersGraceBase + time.Duration(n)*membersGracePerAgent
}

// The default membership grace: membersGraceBase + membersGracePerAgent × N.
const (
	membersGraceBase     = 30 * time.Second
	membersGracePerAgent = 500 * time.Millisecond
)

// waitJoined waits until every agent has applied revision rev (a GET of
// image id with X-P2pglance-Revision: rev answers 200) and lists all
// len(f.agents) agents alive in GET /p2p/v1/cluster. "Joined" so means
// gossip membership and the applied index, whatever the Raft
// configuration holds. An agent's membership is checked once it has
// applied the marker, at most 4 at a time (without store usage: the
// agent's own view, no request to other nodes), until membershipGrace after the last agent
// applied it. It fails if an agent exits or does not apply the marker
// within timeout; agents that never list every agent are counted in the
// result (listed < n), not an error.
func waitJoined(ctx context.Context, hc *http.Client, f *scaleFleet, t0 time.Time, id string, rev uint64, timeout time.Duration) (joinResult, error) {
	n := len(f.agents)
	dctx, cancelDeadline := context.WithDeadline(ctx, t0.Add(timeout))
	defer cancelDeadline()
	// An agent that exits ends the wait for all (the others would never
	// list it).
	ctx, stop := context.WithCancelCause(dctx)
	defer stop(nil)
	// The membership checks end membershipGrace after the last agent
	// applied the marker.
	mctx, endMembers := context.WithCancel(ctx)
	defer endMembers()
	allApplied := make(chan struct{})
	go func() {
		select {
		case <-allApplied:
		case <-mctx.Done():
			return
		}
		if sleepCtx(mctx, f.sc.membershipGrace(n)) == nil {
			endMembers()
		}
	}()
	applied, seen := make([]time.Duration, n), make([]time.Duration, n)
	lastAlive := make([]atomic.Int32, n) // what each agent's last view listed alive
	var nApplied, nSeen atomic.Int64
	sem := make(chan struct{}, 4)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for _, a := range f.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[a.i] = func() error {
				for {
					if !a.running() {
						if moved, err := f.retryPorts(a); moved || err != nil {
							if err != nil {
								return err
							}
							continue
						}
						err := fmt.Errorf("agent %d exited (%v); its log ends:\n%s", a.i, a.err, tail(a.logPath))
						stop(err)
						return err
					}
					rctx, cancel := context.WithTimeout(ctx, appliedPollTimeout)
					st, err := getAtRev(rctx, hc, a.url(), id, rev)
					cancel()
					if err == nil && st == http.StatusOK {
						applied[a.i] = time.Since(t0)
						if nApplied.Add(1) == int64(n) {
							close(allApplied)
						}
						break
					}
					if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
						return fmt.Errorf("agent %d never applied revision %d: %w", a.i, rev, err)
					}
				}
				for {
					var info *api.ClusterInfo
					select {
					case sem <- struct{}{}:
						rctx, cancel := context.WithTimeout(mctx, 10*time.Second)
						info, _ = clusterOf(rctx, hc, a.url())
						cancel()
						<-sem
					case <-mctx.Done():
					}
					if info != nil {
						lastAlive[a.i].Store(int32(aliveIn(info)))
					}
					if info != nil && aliveIn(info) >= n {
						seen[a.i] = time.Since(t0)
						nSeen.Add(1)
						return nil
					}
					// Each view is a JSON list of all N agents: at 300
					// agents polled every 500 ms the polls alone took
					// about half a core from the agents being measured.
					if sleepCtx(mctx, membersPollEvery(n)) != nil {
						if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
							return cause // an agent exited
						}
						return nil // counted as not listing every agent
					}
				}
			}()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			log.Printf("    %s: %d/%d agents applied the marker, %d/%d list every agent%s", time.Since(t0).Round(time.Second), nApplied.Load(), n, nSeen.Load(), n, aliveSpread(lastAlive))
		}
	}
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		first := failed[0]
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			first = cause // an agent exited
		}
		return joinResult{}, fmt.Errorf("%d of %d agents did not join within %s; the first: %w", len(failed), n, timeout, first)
	}
	r := joinResult{applied: slices.Max(applied), listed: int(nSeen.Load())}
	r.all = r.applied
	if r.listed == n {
		r.members = slices.Max(seen)
		r.all = max(r.applied, r.members)
	}
	return r, nil
}

// idleResult is every agent's CPU and memory over an idle window.
type idleResult struct {
	window       time.Duration
	mc           []float64    // millicores per agent (utime+stime over the window)
	mem          []procMemory // per agent, at the end of the window
	leaders      []int        // the leader at the start of the window, and at its end if another
	machineCores float64      // every CPU of the machine busy meanwhile (/proc/stat: also other work)
}

// leader is the agent reported as the leader: of those that led during
// the window, the one that used the most CPU (-1: none known).
func (r idleResult) leader() int {
	best := -1
	for _, l := range r.leaders {
		if l >= 0 && l < len(r.mc) && (best < 0 || r.mc[l] > r.mc[best]) {
			best = l
		}
	}
	return best
}

func (r idleResult) medianMC() float64 { return medianF(r.mc) }

// maxMC is the most any agent used but those that led.
func (r idleResult) maxMC() float64 {
	m := 0.0
	for i, v := range r.mc {
		if !slices.Contains(r.leaders, i) {
			m = max(m, v)
		}
	}
	return m
}

func (r idleResult) leaderMC() float64 {
	if l := r.leader(); l >= 0 {
		return r.mc[l]
	}
	return 0
}

func (r idleResult) fleetCores() float64 {
	s := 0.0
	for _, v := range r.mc {
		s += v
	}
	return s / 1000
}

// medianMem is the median of each memory field on its own.
func (r idleResult) medianMem() procMemory {
	col := func(f func(procMemory) int64) int64 {
		v := make([]float64, len(r.mem))
		for i, m := range r.mem {
			v[i] = float64(f(m))
		}
		return int64(medianF(v))
	}
	return procMemory{
		rss: col(func(m procMemory) int64 { return m.rss }), anon: col(func(m procMemory) int64 { return m.anon }),
		file: col(func(m procMemory) int64 { return m.file }), hwm: col(func(m procMemory) int64 { return m.hwm }),
	}
}

// maxMem is the largest VmRSS of any agent but those that led (with that
// agent's other fields).
func (r idleResult) maxMem() procMemory {
	var out procMemory
	for i, m := range r.mem {
		if !slices.Contains(r.leaders, i) && m.rss > out.rss {
			out = m
		}
	}
	return out
}

func (r idleResult) leaderMem() procMemory {
	if l := r.leader(); l >= 0 && l < len(r.mem) {
		return r.mem[l]
	}
	return procMemory{}
}

// measureIdle reads every agent's CPU time (/proc/PID/stat) at both ends
// of an idle window in which nothing is asked of the fleet, and its
// memory (/proc/PID/status) at the end.
func measureIdle(ctx context.Context, f *scaleFleet, leader int, window time.Duration) (idleResult, error) {
	r := idleResult{leaders: []int{leader}}
	c0 := f.cpu()
	s0, t0 := readCPUStat(), time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return r, err
	}
	if err := f.exitedAgent(); err != nil {
		return r, err
	}
	r.window = time.Since(t0)
	r.machineCores = readCPUStat().sub(s0).busy.Seconds() / r.window.Seconds()
	for i, c := range subCPU(f.cpu(), c0) {
		r.mc = append(r.mc, millicores(c, r.window))
		m, err := procMem(f.agents[i].pid())
		if err != nil {
			return r, fmt.Errorf("memory of agent %d: %w", i, err)
		}
		r.mem = append(r.mem, m)
	}
	return r, nil
}

// millicores is cpu time per wall time, in thousandths of a core.
func millicores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds() * 1000
}

// loadResult is the steady write load and how fast its writes became
// visible.
type loadResult struct {
	rate              int
	wall              time.Duration
	ok, failed        int
	skipped           int // ticks without a write: 64 writes were still in flight
	firstErr          string
	writeLat          []time.Duration // each write's own latency (create answered)
	visAll            []time.Duration // per sampled write: from its start until every agent answered it
	visEach           []time.Duration // per sampled write and agent: from its start until that agent answered
	getFailed         int             // GETs of a sampled write that failed or did not answer 200
	cpu               []time.Duration // each agent's CPU time over the load (utime+stime)
	sampledAgents     int             // agents asked per sampled write
	sampleEvery       int             // one write in this many was sampled
	samplesIncomplete int             // sampled writes some agent never showed
}

func (r loadResult) achieved() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.ok) / r.wall.Seconds()
}

// maxInFlight bounds the writes of the steady load in flight at once: a
// tick that finds this many skips its write (counted).
const maxInFlight = 64

// runScaleLoad sends sc.rate creates per second for sc.load, each
// through the next agent in turn (forwarded to the leader by most). One
// write per sc.sample is looked for on every agent: as soon as it is
// answered, one GET per agent carries its revision
// (X-P2pglance-Revision), which the agent answers once it has applied it.
// The visibility time of an agent is from the write's start to that
// GET's answer. The measurement adds N GETs per sampled write.
func runScaleLoad(ctx context.Context, hc *http.Client, f *scaleFleet, sc *scaleConfig) (loadResult, error) {
	n := len(f.agents)
	interval := time.Second / time.Duration(sc.rate)
	r := loadResult{rate: sc.rate, sampledAgents: n, sampleEvery: max(1, int(sc.sample/interval))}
	lctx, cancel := context.WithTimeout(ctx, sc.load+2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	tick := time.NewTicker(interval)
	defer tick.Stop()
	t0 := time.Now()
	end := t0.Add(sc.load)
	for k := 0; time.Now().Before(end); k++ {
		select {
		case <-lctx.Done():
			wg.Wait()
			return r, lctx.Err()
		case <-tick.C:
		}
		if inFlight.Load() >= maxInFlight {
			r.skipped++
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			a := f.agents[k%n]
			start := time.Now()
			id, rev, err := createAt(lctx, hc, a.url(), fmt.Sprintf("scale-load-%d", k))
			lat := time.Since(start)
			mu.Lock()
			if err != nil {
				r.failed++
				if r.firstErr == "" {
					r.firstErr = err.Error()
				}
			} else {
				r.ok++
				r.writeLat = append(r.writeLat, lat)
			}
			mu.Unlock()
			if err != nil || k%r.sampleEvery != 0 {
				return
			}
			vis := make([]time.Duration, n)
			var vwg sync.WaitGroup
			for j, b := range f.agents {
				vwg.Add(1)
				go func() {
					defer vwg.Done()
					gctx, cancel := context.WithTimeout(lctx, 30*time.Second)
					defer cancel()
					if st, err := getAtRev(gctx, hc, b.url(), id, rev); err == nil && st == http.StatusOK {
						vis[j] = time.Since(start)
					}
				}()
			}
			vwg.Wait()
			mu.Lock()
			defer mu.Unlock()
			complete := true
			for _, v := range vis {
				if v == 0 {
					r.getFailed++
					complete = false
					continue
				}
				r.visEach = append(r.visEach, v)
			}
			if complete {
				r.visAll = append(r.visAll, slices.Max(vis))
			} else {
				r.samplesIncomplete++
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	r.wall = time.Since(t0)
	if r.ok == 0 {
		return r, fmt.Errorf("no write of the steady load succeeded: %s", r.firstErr)
	}
	return r, nil
}

// scaleCreatesResult is creates per second through one agent.
type scaleCreatesResult struct {
	via, clients int
	ok, failed   int
	firstErr     string
	wall         time.Duration
	lat          []time.Duration
}

func (r scaleCreatesResult) perSecond() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.ok) / r.wall.Seconds()
}

// scaleCreates runs clients concurrent clients creating images through
// agent a, one create after the other each, for d.
func scaleCreates(ctx context.Context, hc *http.Client, a *scaleAgent, clients int, d time.Duration) (scaleCreatesResult, error) {
	r := scaleCreatesResult{via: a.i, clients: clients}
	cctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; time.Now().Before(end) && cctx.Err() == nil; k++ {
				start := time.Now()
				_, _, err := createAt(cctx, hc, a.url(), fmt.Sprintf("scale-create-%d-%d", c, k))
				lat := time.Since(start)
				mu.Lock()
				if err != nil {
					r.failed++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
				} else {
					r.ok++
					r.lat = append(r.lat, lat)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.wall = time.Since(t0)
	if r.ok == 0 {
		return r, fmt.Errorf("no create succeeded through agent %d: %s", a.i, r.firstErr)
	}
	return r, nil
}

// restartResult is a full restart of every agent.
type restartResult struct {
	stopped         []stopResult  // the stop before the restart
	rejoin          joinResult    // counted from the first restarted process
	leader          int           // the leader after the restart (agent index)
	window          time.Duration // from the restart until every agent was told to stop again
	leaderBytes     netCounters   // what the leader's process sent and received in its whole life
	haveLeaderBytes bool          // the leader logged them (it stopped on SIGTERM)
	counted         int           // agents whose counters were read (a killed agent logs none)
	fleetSent       int64         // every counted agent's sent bytes
	maxOtherSent    int64         // the most any other agent sent
}

// fullRestart stops every agent, starts them all again at once (same
// ports and data), waits until every agent is back (a new marker applied
// everywhere, every agent listed alive everywhere), then stops them all
// and reads each agent's byte counters from its "stopped" log line: the
// counters of a process that lived exactly through the restart.
func fullRestart(ctx context.Context, hc *http.Client, f *scaleFleet, sc *scaleConfig) (*restartResult, error) {
	r := &restartResult{leader: -1}
	r.stopped = f.stopAll(sc.stopTimeout)
	t0 := time.Now()
	if err := f.startAll(0); err != nil {
		return nil, err
	}
	n := len(f.agents)
	id, rev, err := createRetry(ctx, hc, f, f.agents[0], "scale-restart-marker", sc.joinTimeoutFor(n))
	if err != nil {
		return nil, fmt.Errorf("after the restart: %w", err)
	}
	if r.rejoin, err = waitJoined(ctx, hc, f, t0, id, rev, sc.joinTimeoutFor(n)); err != nil {
		return nil, fmt.Errorf("after the restart: %w", err)
	}
	if r.rejoin.listed < n {
		log.Printf("    after the restart only %d of %d agents list every agent alive (%s after all applied the marker); measuring on", r.rejoin.listed, n, sc.membershipGrace(n))
	}
	if r.leader, err = leaderIndex(ctx, hc, f); err != nil {
		return r, err
	}
	r.window = time.Since(t0)
	stops := f.stopAll(sc.stopTimeout)
	for i, a := range f.agents {
		c, ok, err := stoppedCounters(a.logPath)
		if err != nil {
			return r, err
		}
		if !ok || stops[i].killed {
			continue
		}
		r.counted++
		r.fleetSent += c.sent()
		if i == r.leader {
			r.leaderBytes, r.haveLeaderBytes = c, true
		} else {
			r.maxOtherSent = max(r.maxOtherSent, c.sent())
		}
	}
	if !r.haveLeaderBytes {
		return r, errors.New("the leader did not stop on SIGTERM: its counters are lost")
	}
	return r, nil
}

// fillCatalog creates k images through agent a from clients concurrent
// clients (not measured: it only grows the catalog) and returns how many
// it created.
func fillCatalog(ctx context.Context, hc *http.Client, a *scaleAgent, clients, k int, timeout time.Duration) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var next, done atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(k) && fctx.Err() == nil; i = next.Add(1) {
				if _, _, err := createAt(fctx, hc, a.url(), fmt.Sprintf("scale-fill-%d", i)); err != nil {
					first.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if fctx.Err() != nil {
		err, _ := first.Load().(error)
		return int(done.Load()), fmt.Errorf("grow the catalog to %d more images: %d created in %s (%w; first error: %v)", k, done.Load(), timeout, fctx.Err(), err)
	}
	return int(done.Load()), nil
}

// cpu reads every agent's CPU time so far (utime+stime; 0 for an agent
// not running).
func (f *scaleFleet) cpu() []time.Duration {
	out := make([]time.Duration, len(f.agents))
	for i, a := range f.agents {
		out[i] = procCPU(a.pid())
	}
	return out
}

// subCPU is b - a per agent.
func subCPU(b, a []time.Duration) []time.Duration {
	out := make([]time.Duration, len(b))
	for i := range b {
		out[i] = b[i] - a[i]
	}
	return out
}

// cpuPerWrite is the CPU one agent spends per write under the load, in
// microseconds: the median agent's CPU over the load, less what it
// spends idle over as long (idle's median), over the writes that
// succeeded. Every agent applies every write, so N agents on C cores
// apply at most about C / (N × this) writes a second.
func (l loadResult) cpuPerWrite(idle idleResult) float64 {
	if l.ok == 0 || len(l.cpu) == 0 {
		return 0
	}
	secs := make([]float64, len(l.cpu))
	for i, c := range l.cpu {
		secs[i] = c.Seconds()
	}
	slices.Sort(secs)
	busy := secs[len(secs)/2] - idle.medianMC()/1000*l.wall.Seconds()
	return max(busy, 0) / float64(l.ok) * 1e6
}

// fleetCPUPerWrite is the CPU seconds all agents together spend per
// write under the load, idle subtracted.
func (l loadResult) fleetCPUPerWrite(idle idleResult) float64 {
	if l.ok == 0 {
		return 0
	}
	var total float64
	for _, c := range l.cpu {
		total += c.Seconds()
	}
	for _, mc := range idle.mc {
		total -= mc / 1000 * l.wall.Seconds()
	}
	return max(total, 0) / float64(l.ok)
}

// aliveSpread describes how many agents the agents' last views listed
// alive: min / median / max over the agents asked so far ("" before any).
func aliveSpread(last []atomic.Int32) string {
	var counts []int
	for i := range last {
		if c := int(last[i].Load()); c > 0 {
			counts = append(counts, c)
		}
	}
	if len(counts) == 0 {
		return ""
	}
	slices.Sort(counts)
	return fmt.Sprintf(" (listed alive, min / median / max over %d views: %d / %d / %d)", len(counts), counts[0], counts[len(counts)/2], counts[len(counts)-1])
}

// membersPollEvery is how often waitJoined asks one agent for its view of
// the membership: every agent about every 500 ms up to 50 agents, at most
// 100 views a second over the fleet beyond.
func membersPollEvery(n int) time.Duration {
	return max(500*time.Millisecond, time.Duration(n)*10*time.Millisecond)
}
