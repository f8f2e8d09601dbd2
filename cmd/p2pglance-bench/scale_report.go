package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// scaleMetric is one figure of a scale run that is fitted against N.
type scaleMetric struct {
	key, label, unit string
	value            func(*scaleRun) (float64, bool) // false: not measured in this run
}

func kbToMiB(kb int64) float64 { return float64(kb) / 1024 }

// scaleMetrics are the figures the report fits against N, in table order.
var scaleMetrics = []scaleMetric{
	{"join", "all joined", "s", func(r *scaleRun) (float64, bool) { return r.join.all.Seconds(), r.join.all > 0 }},
	{"idle-median", "idle CPU per agent, median", "millicores", func(r *scaleRun) (float64, bool) { return r.idle.medianMC(), len(r.idle.mc) > 0 }},
	{"idle-max", "idle CPU per agent, max but the leader", "millicores", func(r *scaleRun) (float64, bool) { return r.idle.maxMC(), len(r.idle.mc) > 0 }},
	{"idle-leader", "idle CPU of the leader", "millicores", func(r *scaleRun) (float64, bool) { return r.idle.leaderMC(), r.idle.leader() >= 0 }},
	{"idle-fleet", "idle CPU of the whole fleet", "cores", func(r *scaleRun) (float64, bool) { return r.idle.fleetCores(), len(r.idle.mc) > 0 }},
	{"rss-median", "VmRSS per agent, median", "MiB", func(r *scaleRun) (float64, bool) { return kbToMiB(r.idle.medianMem().rss), len(r.idle.mem) > 0 }},
	{"anon-median", "RssAnon per agent, median", "MiB", func(r *scaleRun) (float64, bool) { return kbToMiB(r.idle.medianMem().anon), len(r.idle.mem) > 0 }},
	{"file-median", "RssFile per agent, median", "MiB", func(r *scaleRun) (float64, bool) { return kbToMiB(r.idle.medianMem().file), len(r.idle.mem) > 0 }},
	{"rss-max", "VmRSS per agent, max but the leader", "MiB", func(r *scaleRun) (float64, bool) { return kbToMiB(r.idle.maxMem().rss), len(r.idle.mem) > 0 }},
	{"rss-leader", "VmRSS of the leader", "MiB", func(r *scaleRun) (float64, bool) {
		return kbToMiB(r.idle.leaderMem().rss), r.idle.leader() >= 0 && len(r.idle.mem) > 0
	}},
	{"vis-p50", "write visible on every agent, p50", "ms", func(r *scaleRun) (float64, bool) { return msF(percentile(r.load.visAll, 50)), len(r.load.visAll) > 0 }},
	{"vis-p99", "write visible on every agent, p99", "ms", func(r *scaleRun) (float64, bool) { return msF(percentile(r.load.visAll, 99)), len(r.load.visAll) > 0 }},
	{"vis-max", "write visible on every agent, max", "ms", func(r *scaleRun) (float64, bool) { return msF(percentile(r.load.visAll, 100)), len(r.load.visAll) > 0 }},
	{"creates", "creates/s through one agent", "creates/s", func(r *scaleRun) (float64, bool) { return r.creates.perSecond(), r.creates.ok > 0 }},
	{"restart", "full restart: all back", "s", func(r *scaleRun) (float64, bool) {
		return restartField(r, func(x *restartResult) float64 { return x.rejoin.all.Seconds() })
	}},
	{"egress", "full restart: leader egress / snapshot", "x", func(r *scaleRun) (float64, bool) { return r.egressRatio() }},
}

func restartField(r *scaleRun, f func(*restartResult) float64) (float64, bool) {
	if r.restart == nil {
		return 0, false
	}
	return f(r.restart), true
}

// egressRatio is what the leader sent during the full restart over the
// catalog's snapshot size.
func (r *scaleRun) egressRatio() (float64, bool) {
	if r.restart == nil || !r.restart.haveLeaderBytes || r.snapshot.catalogBytes <= 0 {
		return 0, false
	}
	return float64(r.restart.leaderBytes.sent()) / float64(r.snapshot.catalogBytes), true
}

func msF(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianF is the median of v (the mean of the middle two for an even
// count; 0 for none).
func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// linearFit is y = intercept + slope*x by least squares.
type linearFit struct {
	slope, intercept float64
	points           int
}

// fitLine fits y against x by least squares; false with fewer than two
// distinct x.
func fitLine(x, y []float64) (linearFit, bool) {
	n := len(x)
	if n != len(y) || n < 2 {
		return linearFit{}, false
	}
	var mx, my float64
	for i := range n {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx float64
	for i := range n {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return linearFit{}, false
	}
	b := sxy / sxx
	return linearFit{slope: b, intercept: my - b*mx, points: n}, true
}

// points returns the (N, value) pairs of a metric over the runs that
// measured it.
func (res *scaleResult) points(m scaleMetric) (xs, ys []float64) {
	for _, r := range res.runs {
		if v, ok := m.value(r); ok {
			xs = append(xs, float64(r.n))
			ys = append(ys, v)
		}
	}
	return xs, ys
}

// fit fits the metric with key against N.
func (res *scaleResult) fit(key string) (linearFit, bool) {
	for _, m := range scaleMetrics {
		if m.key == key {
			return fitLine(res.points(m))
		}
	}
	return linearFit{}, false
}

// num formats a figure with three significant digits (no exponent for
// everyday magnitudes).
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.001:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// signed formats a slope with its sign.
func signed(v float64) string {
	if v > 0 {
		return "+" + num(v)
	}
	return num(v)
}

// cell is one metric of a run, or "—" when it was not measured.
func (r *scaleRun) cell(key string) string {
	for _, m := range scaleMetrics {
		if m.key == key {
			if v, ok := m.value(r); ok {
				return num(v)
			}
		}
	}
	return "—"
}

// slopeCell is the slope per added agent of a metric, or "—".
func (res *scaleResult) slopeCell(key string) string {
	if f, ok := res.fit(key); ok {
		return signed(f.slope)
	}
	return "—"
}

// scaleColumns are the main table's columns: a header and the metrics
// shown in it, joined by " / ".
var scaleColumns = []struct {
	head string
	keys []string
}{
	{"all joined (s)", []string{"join"}},
	{"idle CPU per agent: median / max but the leader (millicores)", []string{"idle-median", "idle-max"}},
	{"idle CPU of the leader (millicores)", []string{"idle-leader"}},
	{"idle CPU, whole fleet (cores)", []string{"idle-fleet"}},
	{"RSS per agent, median: VmRSS / RssAnon / RssFile (MiB)", []string{"rss-median", "anon-median", "file-median"}},
	{"VmRSS: max but the leader / leader (MiB)", []string{"rss-max", "rss-leader"}},
	{"write visible on every agent: p50 / p99 / max (ms)", []string{"vis-p50", "vis-p99", "vis-max"}},
	{"creates/s through one agent", []string{"creates"}},
	{"full restart: all back (s)", []string{"restart"}},
	{"full restart: leader egress / snapshot", []string{"egress"}},
}

// print writes the scale section: how it was measured, the main table
// with the slope row, the fits, and the details of each run.
func (res *scaleResult) print(w io.Writer) {
	sc := res.cfg
	fmt.Fprintf(w, "\n### 10. Scale: N real agent processes on loopback (`make bench-scale`)\n\n")
	secret := "with a cluster secret (signed internal HTTP, Raft handshake, encrypted gossip)"
	if !sc.secret {
		secret = "without a cluster secret"
	}
	fmt.Fprintf(w, "Each N: N processes of `p2pglance agent` (the binary, production timers: no timing flag exists), %s, each with its own data directory and four loopback ports, %d zones and %d racks (agent i in rack i%%%d, rack k in zone k%%%d), every agent started with `--join` naming the first %d (on a restart agent 0 too names the others). "+
		"Agent 0 starts first (it bootstraps Raft); once it takes a write the next ones start one after the other, each once it has joined (they are the Raft voters), then every other agent%s, and a marker image is created through agent 0. %s"+
		"**All joined**: from agent 0's start until every agent has applied the marker (a GET of it with `X-P2pglance-Revision: <its revision>` answers 200; each GET given 1.5 s, under the agent's 2 s wait before a read barrier, so the check sends the leader no barrier) and lists all N agents alive in `GET /p2p/v1/cluster` (gossip's view: joined is read from membership and the applied index, not from the Raft configuration); the membership check (each agent's own view, `?usage=false`, each agent asked every max(0.5 s, N × 10 ms)) ends %s after the last agent applied the marker (a fleet that never lists every agent stops there).\n\n",
		secret, sc.zones, sc.racks, sc.racks, sc.zones, sc.joinVia, waveNote(sc.wave), niceNote(sc.replicaNice, sc.niceFrom, sc.joinVia), graceNote(&sc))
	fmt.Fprintf(w, "**Idle CPU**: %s after all joined, utime+stime of every agent (`/proc/PID/stat`) over a %s window in which the benchmark sends nothing; millicores = CPU seconds / wall seconds × 1000. **RSS**: `/proc/PID/status` at the end of that window. "+
		"**Write visible on every agent**: %d creates/s for %s, each through the next agent in turn (most are forwarded to the leader); one write in every %s is looked for on every agent: right after its answer, one GET per agent with the write's revision in `X-P2pglance-Revision` (the agent answers once it has applied that revision); the time is from the write's start until the last agent answered. The measurement adds N GETs per sampled write. **CPU per write**: each agent's utime+stime over the load (sampling GETs included), less its idle rate over as long, over the writes that succeeded: the median agent's, and the sum over the fleet. Every agent applies every write, so N agents on C cores apply at most about C / (N × the median) writes a second. "+
		"**Creates/s**: %d clients creating images one after the other each, for %s, all through one agent (the last one unless `-scale-create-via`: a non-voter). "+
		"**Full restart**: every agent stopped (SIGTERM)%s, then all started again at once on the same ports and data; once all are back (same test as joining, with a new marker), all are stopped again and each agent's bytes sent on its internal HTTP and Raft connections (accepted and dialed, TLS included; gossip not counted) are read from the line it logs when it stops: the leader's over the catalog's snapshot size. "+
		"**Snapshot**: the catalog as the FSM writes a snapshot of it (what Raft's InstallSnapshot sends), rebuilt offline from the stopped leader's Raft directory (its newest snapshot, then every later log entry). "+
		"**Slope**: least-squares fit of each figure against N, per added agent.\n\n",
		sc.settle, sc.idle, sc.rate, sc.load, sc.sample, sc.clients, sc.creates, catalogNote(sc.catalog))
	if sc.idle < 20*time.Second {
		fmt.Fprintf(w, "**The idle window was shorter than 20 s: a development run, not a figure to quote.**\n\n")
	}

	// Main table, then the slope row.
	fmt.Fprintf(w, "| N |")
	for _, c := range scaleColumns {
		fmt.Fprintf(w, " %s |", c.head)
	}
	fmt.Fprintf(w, "\n|---:|%s\n", strings.Repeat("---:|", len(scaleColumns)))
	runs := slices.Clone(res.runs)
	slices.SortFunc(runs, func(a, b *scaleRun) int { return a.n - b.n })
	for _, r := range runs {
		fmt.Fprintf(w, "| %d |", r.n)
		for _, c := range scaleColumns {
			var parts []string
			for _, k := range c.keys {
				parts = append(parts, r.cell(k))
			}
			fmt.Fprintf(w, " %s |", strings.Join(parts, " / "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| slope per added agent |")
	for _, c := range scaleColumns {
		var parts []string
		for _, k := range c.keys {
			parts = append(parts, res.slopeCell(k))
		}
		fmt.Fprintf(w, " %s |", strings.Join(parts, " / "))
	}
	fmt.Fprintln(w)

	// The fits.
	fmt.Fprintf(w, "\nLeast-squares fits against N (y = intercept + slope × N, over the N measured):\n\n| figure | unit | slope per added agent | intercept | points |\n|---|---|---:|---:|---:|\n")
	for _, m := range scaleMetrics {
		if f, ok := fitLine(res.points(m)); ok {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", m.label, m.unit, signed(f.slope), num(f.intercept), f.points)
		} else {
			fmt.Fprintf(w, "| %s | %s | — | — | %d |\n", m.label, m.unit, len(func() []float64 { x, _ := res.points(m); return x }()))
		}
	}

	// Details.
	fmt.Fprintf(w, "\nDetails per N:\n\n| N | run took | joined: catalog applied / members listed (s) | steady load: writes ok / failed / skipped, achieved rate, write p50 / p99 ms | visible per agent and write: p50 / p99 ms (sampled writes × agents; GETs failed) | creates: p50 / p99 ms, failed | load: CPU per write, median agent (µs) / whole fleet (ms) | machine cores busy while idle | catalog at the end: images, snapshot (last index) | full restart: leader sent internal HTTP / Raft, in, per second | every agent sent, total / most by one other agent |\n|---:|---:|---|---|---|---|---|---:|---|---|---|\n")
	for _, r := range runs {
		if r.join.all == 0 {
			fmt.Fprintf(w, "| %d | %s | did not join |%s\n", r.n, r.took.Round(time.Second), strings.Repeat(" — |", 8))
			continue
		}
		l := r.load
		snap := "—"
		if r.snapshot.catalogBytes > 0 {
			snap = fmt.Sprintf("%d images, %s (index %d)", r.snapshot.images, bytesStr(r.snapshot.catalogBytes), r.snapshot.lastIndex)
			if r.snapshot.fileBytes > 0 {
				snap += fmt.Sprintf("; newest snapshot file %s at index %d", bytesStr(r.snapshot.fileBytes), r.snapshot.fileIndex)
			} else {
				snap += "; no snapshot file yet"
			}
		} else if r.snapshot.err != "" {
			snap = "not measured: " + r.snapshot.err
		}
		restart, fleet := "—", "—"
		if x := r.restart; x != nil {
			restart = fmt.Sprintf("%s / %s, in %s (agent %d): %s/s", bytesStr(x.leaderBytes.peerSent), bytesStr(x.leaderBytes.raftSent), x.window.Round(100*time.Millisecond), x.leader,
				bytesStr(int64(float64(x.leaderBytes.sent())/x.window.Seconds())))
			if !x.haveLeaderBytes {
				restart = fmt.Sprintf("lost (the leader was killed), in %s (agent %d)", x.window.Round(100*time.Millisecond), x.leader)
			}
			fleet = fmt.Sprintf("%s / %s (%d agents counted)", bytesStr(x.fleetSent), bytesStr(x.maxOtherSent), x.counted)
		}
		fmt.Fprintf(w, "| %d | %s | %s / %s | %d / %d / %d, %.1f/s, %s / %s | %s / %s (%d × %d; %d) | %s / %s, %d | %.0f / %.1f | %.2f | %s | %s | %s |\n",
			r.n, r.took.Round(time.Second), num(r.join.applied.Seconds()), num(r.join.members.Seconds()),
			l.ok, l.failed, l.skipped, l.achieved(), ms(percentile(l.writeLat, 50)), ms(percentile(l.writeLat, 99)),
			ms(percentile(l.visEach, 50)), ms(percentile(l.visEach, 99)), len(l.visAll)+l.samplesIncomplete, l.sampledAgents, l.getFailed,
			ms(percentile(r.creates.lat, 50)), ms(percentile(r.creates.lat, 99)), r.creates.failed,
			l.cpuPerWrite(r.idle), l.fleetCPUPerWrite(r.idle)*1000,
			r.idle.machineCores, snap, restart, fleet)
	}
	for _, r := range runs {
		if r.failed != "" {
			fmt.Fprintf(w, "\n**N=%d stopped early** after %s: `%s`. The figures above are those measured before; \"—\" was not measured.\n", r.n, r.took.Round(time.Second), oneLine(r.failed))
		}
		if len(r.idle.leaders) > 1 {
			fmt.Fprintf(w, "\nN=%d: the Raft leader changed during the idle window (agents %v): the leader column is the one of them that used the most CPU, and neither counts in the max.\n", r.n, r.idle.leaders)
		}
		if r.load.firstErr != "" {
			fmt.Fprintf(w, "\nN=%d: the first failed write of the steady load: `%s`\n", r.n, oneLine(r.load.firstErr))
		}
		if r.creates.firstErr != "" {
			fmt.Fprintf(w, "\nN=%d: the first failed create: `%s`\n", r.n, oneLine(r.creates.firstErr))
		}
		if r.join.all > 0 && r.join.listed < r.n {
			fmt.Fprintf(w, "\nN=%d: **only %d of %d agents listed every agent alive** (gossip) within %s of the last one applying the marker; \"all joined\" is when every agent had applied it.\n", r.n, r.join.listed, r.n, res.cfg.membershipGrace(r.n))
		}
		if r.restart != nil && r.restart.rejoin.listed < r.n {
			fmt.Fprintf(w, "\nN=%d: **after the full restart only %d of %d agents listed every agent alive** (gossip) within %s of the last one applying the marker; \"all back\" is when every agent had applied it.\n", r.n, r.restart.rejoin.listed, r.n, res.cfg.membershipGrace(r.n))
		}
		if x := r.restart; x != nil && x.haveLeaderBytes && x.leaderBytes.served != nil {
			fmt.Fprintf(w, "\nN=%d: the leader's internal HTTP during the full restart, by route: %s.\n", r.n, x.leaderBytes.byRoute())
		}
		if r.restart != nil {
			slow, killed := time.Duration(0), 0
			for _, s := range r.restart.stopped {
				slow = max(slow, s.took)
				if s.killed {
					killed++
				}
			}
			fmt.Fprintf(w, "\nN=%d: before the restart, the slowest agent took %s to stop on SIGTERM", r.n, slow.Round(10*time.Millisecond))
			if killed > 0 {
				fmt.Fprintf(w, "; %d agents did not stop within %s and were killed", killed, sc.stopTimeout)
			}
			fmt.Fprintln(w, ".")
		}
	}
}

// byRoute describes where an agent's internal HTTP bytes sent went: the
// answers it served per route (requests, body bytes), then its own
// requests (dialed connections) and the rest (headers, TLS).
func (c netCounters) byRoute() string {
	var parts []string
	var bodies int64
	rs := slices.Clone(c.served)
	slices.SortStableFunc(rs, func(a, b node.RouteBytes) int { return cmp.Compare(b.Bytes, a.Bytes) })
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s %s (%d requests)", r.Route, bytesStr(r.Bytes), r.Requests))
		bodies += r.Bytes
	}
	parts = append(parts, "its own requests "+bytesStr(c.dialedSent), "headers and TLS of its answers "+bytesStr(max(c.peerSent-c.dialedSent-bodies, 0)))
	return strings.Join(parts, ", ")
}

// bytesStr formats a byte count in binary units.
func bytesStr(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func catalogNote(k int) string {
	if k <= 0 {
		return ""
	}
	return fmt.Sprintf(" after the catalog was grown to %d images (creates through agent 0)", k)
}

// waveNote says how the agents after the voters start.
func waveNote(wave int) string {
	if wave <= 0 {
		return " starts at once"
	}
	return fmt.Sprintf(" in waves of %d, each wave once every agent of the one before has applied the first image (joined is timed from agent 0's start through every wave)", wave)
}

// niceNote says at what priority the agents after the voters run.
func niceNote(nice, from, voters int) string {
	if nice <= 0 {
		return "Every agent runs at the same CPU priority. "
	}
	return fmt.Sprintf("Below N = %d every agent runs at the same CPU priority; from N = %d on, every agent after the first %d runs under `nice -n %d` (the voters do not: a fleet's voters do not share their cores with hundreds of other agents, and on this machine they starve without it; CPU seconds are counted the same either way, latencies are not). ", from, from, voters, nice)
}

// graceNote says how long the membership check lasts.
func graceNote(sc *scaleConfig) string {
	if sc.membersGrace > 0 {
		return sc.membersGrace.String()
	}
	return fmt.Sprintf("%s + %s × N", membersGraceBase, membersGracePerAgent)
}
