package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// secs formats a duration in seconds with its ratio to the ideal S/B.
func secsX(d, ideal time.Duration) string {
	return fmt.Sprintf("%.1f s (%.2fx)", d.Seconds(), ratioOf(d, ideal))
}

// inS is bytes as a multiple of the image size.
func inS(b, s int64) string { return fmt.Sprintf("%.2f S", float64(b)/float64(s)) }

// run returns the run of mode at fleet size n, or nil.
func (f *fleetResult) run(mode string, n int) *fleetRun {
	for _, r := range f.runs {
		if r.mode.name == mode && r.n == n {
			return r
		}
	}
	return nil
}

// printFleet writes the fleet section's tables.
func (f *fleetResult) print(w io.Writer) {
	fc := f.cfg
	ideal := fc.ideal()
	store := "Badger on disk (chunks in its value log; a fresh directory per fleet, removed after it)"
	if fc.inMemory {
		store = "Badger `InMemory` (no disk: the fleet's N copies of the image live in this process's memory)"
	}
	timers := "short (test) Raft and gossip timers (`nodetest.Timing`)"
	if !fc.fast {
		timers = "production Raft and gossip timers"
	}
	down := "downloads uncapped"
	if fc.downBW > 0 {
		down = fmt.Sprintf("DownloadBandwidth %s/s", size(fc.downBW))
	}
	title := "7. Fleet delivery"
	if !fc.fast && orDefault(fc.chunkSize, 4<<20) == 4<<20 {
		// Production timers and 4 MiB chunks (make bench-fleet-prod).
		title = fmt.Sprintf("7p. Fleet delivery in production shape, S = %s, B = %s/s", size(fc.size), size(fc.upBW))
	}
	fmt.Fprintf(w, "\n### %s: one image to every node at once (`POST /p2p/v1/prefetch`, target all)\n\n", title)
	fmt.Fprintf(w, "S = %s image, B = %s/s `UploadBandwidth` on every node (%s), R = %d durable holders (upload with replicas %d; placement checked), chunk %s, FetchWindow %s, UploadSlots %s; "+
		"nodes in %d zones x %d racks (node i: zone i mod %d); %s; %s. Ideal S/B = %s. "+
		"Completion of a node = the first %s sample (every node's `Metrics().StoredChunks`) at which it holds every chunk, counted from the POST; "+
		"\"all delivered\" = the last node's. Ratios are to S/B. Each fleet is fresh (new nodes, empty stores).\n\n",
		size(fc.size), size(fc.upBW), down, fc.replicas, fc.replicas, size(int64(orDefault(fc.chunkSize, 4<<20))), orDefaultStr(fc.fetchWindow, "4 (default)"), orDefaultStr(fc.uploadSlots, fmt.Sprintf("%d (default)", node.DefaultUploadSlots)),
		fc.zones, fc.racks, fc.zones, store, timers, fmtDur(ideal), fmtDur(fc.poll))
	fmt.Fprintf(w, "Single-origin = the same fleet with `NoCache` on every node: a prefetching node still stores each chunk (so its completion is measured the same way) but never announces it, so its peers never learn it holds anything and only the %d durable holders (the image's placement, always a candidate in `RankHolders`, `node/transfer/placement.go`) serve; the \"others served\" column confirms it.\n\n", fc.replicas)

	fmt.Fprintf(w, "| N | fetching nodes | p2pglance: all delivered | per node p50 | per node max | single-origin: all delivered | per node p50 | per node max | holders served (p2pglance) | holders served (single-origin) | (N-%d) x S | process cores p2pglance / single-origin |\n", fc.replicas)
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range fc.nodes {
		p, o := f.run("p2p", n), f.run("origin", n)
		cells := []string{fmt.Sprint(n), fmt.Sprint(n - fc.replicas)}
		add := func(r *fleetRun) {
			if r == nil {
				cells = append(cells, "", "", "")
				return
			}
			cells = append(cells, secsX(r.full, ideal), secsX(percentile(r.done, 50), ideal), secsX(percentile(r.done, 100), ideal))
		}
		add(p)
		add(o)
		served := func(r *fleetRun) string {
			if r == nil {
				return ""
			}
			return inS(r.servedHolders, fc.size)
		}
		cores := func(r *fleetRun) string {
			if r == nil {
				return "-"
			}
			return fmt.Sprintf("%.2f", r.s.cores())
		}
		cells = append(cells, served(p), served(o), fmt.Sprintf("%d S", n-fc.replicas), cores(p)+" / "+cores(o))
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}

	fmt.Fprintf(w, "\nEvery run in detail (p90 and first-chunk figures are over the fetching nodes; \"first chunk\" = when a node first held any chunk: how long the job took to start there; bytes served are node metrics over the delivery; cores = CPU of the whole benchmark process, every node included, / wall time; \"idle cores\" = the same fleet idling 2 s just before the POST; \"machine cores\" = busy CPUs of the whole machine, other tenants included; \"run-queue wait\" = how many of this process's threads were, on average, runnable but waiting for a CPU (`/proc/self/task/*/schedstat`): CPU contention; \"uplinks used\" = bytes served / (nodes x B x time); \"gossip\" = from a node holding every chunk to another node (the last fetching node) listing it as a full holder, \"never\" = not within 3 s of the end):\n\n")
	fmt.Fprintf(w, "| mode | N | all delivered | p50 | p90 | max | first chunk p50 / max | job `done` | holders served | others served | most by one node | uplinks used: holders / others (whole run) | others' uplinks used in the first S/B | gossip: full copy seen by a peer after p50 / max | busy refusals | origin refusals | last resort | stalls | process cores | idle cores | machine cores | run-queue wait (threads) | steal | CPU s per GB delivered | Go heap after |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range f.runs {
		job := "never (" + r.jobState + ")"
		if r.jobDone > 0 {
			job = fmtDur(r.jobDone)
		}
		hu, ou := r.uplinkUse(fc, r.full)
		_, ou1 := r.uplinkUse(fc, min(ideal, r.full))
		fmt.Fprintf(w, "| %s | %d | %s | %.2fx | %.2fx | %.2fx | %s / %s | %s | %s | %s | %s | %.0f%% / %.0f%% | %.0f%% | %s | %d | %d | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d MiB |\n",
			r.mode.name, r.n, secsX(r.full, ideal), ratioOf(percentile(r.done, 50), ideal), ratioOf(percentile(r.done, 90), ideal), ratioOf(percentile(r.done, 100), ideal),
			fmtDur(percentile(r.first, 50)), fmtDur(percentile(r.first, 100)), job,
			inS(r.servedHolders, fc.size), inS(r.servedOthers, fc.size), inS(r.servedMax, fc.size),
			100*hu, 100*ou, 100*ou1, r.lagSummary(),
			r.busyRefusals, r.originRefusals, inS(r.lastResort, fc.size), r.stalls, r.s.cores(), r.idle.cores(), r.s.machineCores(), r.runqWait.Seconds()/r.s.wall.Seconds(), r.s.stealCores(), r.s.cpuPerGB(), r.heapMiB)
	}
	for _, r := range f.runs {
		if r.jobState != "done" || len(r.jobErrs) > 0 || r.aliveEnd != r.n {
			fmt.Fprintf(w, "\n%s N=%d: job state %q; node errors %v; node0 saw %d of %d members alive at the end.\n", r.mode.name, r.n, r.jobState, r.jobErrs, r.aliveEnd, r.n)
		}
	}

	// Delivery curve: share of (N-R) x S delivered at multiples of S/B.
	marks := []float64{0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3}
	fmt.Fprintf(w, "\nShare of all the bytes the fleet needed ((N-%d) x S) held by the fetching nodes at multiples of S/B after the POST:\n\n| mode | N |", fc.replicas)
	for _, m := range marks {
		fmt.Fprintf(w, " %.2gx |", m)
	}
	fmt.Fprintf(w, "\n|---|---:|%s\n", strings.Repeat("---:|", len(marks)))
	for _, r := range f.runs {
		fmt.Fprintf(w, "| %s | %d |", r.mode.name, r.n)
		for _, m := range marks {
			fmt.Fprintf(w, " %.0f%% |", 100*r.deliveredAt(time.Duration(m*float64(ideal))))
		}
		fmt.Fprintln(w)
	}

	f.printTargets(w)

	if len(f.boot) > 0 {
		fmt.Fprintf(w, "\n#### Boot-time download in the N=%d p2pglance fleet (`GET /v2/images/{id}/file`, %s, md5-checked when cold)\n\n", f.bootN, size(fc.size))
		fmt.Fprintf(w, "Each run uploads a new image (replicas %d), waits 1 s (holders' token buckets full), then GETs it from a node outside its placement with nothing of it local, then GETs it again from that node, which now holds every chunk (it kept what it fetched). The peers' uploads are capped at B = %s/s, the reading client is not.\n\n", fc.replicas, size(fc.upBW))
		fmt.Fprintf(w, "| run | node | nothing local: first byte | MB/s | x B | served by (bytes) | process cores | local cache: first byte | MB/s | fetched from peers on the 2nd GET | process cores |\n|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
		for i, b := range f.boot {
			var src []string
			for _, k := range sortedKeys(b.coldSourceBytes) {
				src = append(src, fmt.Sprintf("%s %s", k, size(b.coldSourceBytes[k])))
			}
			fmt.Fprintf(w, "| %d | node%d | %s ms | %.1f | %.2fx | %s | %.2f | %s ms | %.0f | %s | %.2f |\n", i+1, b.node,
				ms(b.coldTTFB), b.cold.mbps(), float64(b.cold.bytes)/b.cold.wall.Seconds()/float64(fc.upBW), strings.Join(src, ", "), b.cold.cores(),
				ms(b.warmTTFB), b.warm.mbps(), size(b.warmFetched), b.warm.cores())
		}
	}
	if p := f.profiled; p != nil {
		fmt.Fprintf(w, "\nProfiled extra run (p2pglance, N=%d, under the CPU profiler and tracer; not in the tables): all delivered %s, p50 %.2fx, max %.2fx, process cores %.2f.\n",
			p.n, secsX(p.full, ideal), ratioOf(percentile(p.done, 50), ideal), ratioOf(percentile(p.done, 100), ideal), p.s.cores())
	}
	if f.plot != "" {
		fmt.Fprintf(w, "\nPlot: `%s`.\n", f.plot)
	}
}

// printTargets compares the largest fleet with the targets.
func (f *fleetResult) printTargets(w io.Writer) {
	fc := f.cfg
	ideal := fc.ideal()
	nmax, nmin := slices.Max(fc.nodes), slices.Min(fc.nodes)
	p := f.run("p2p", nmax)
	if p == nil {
		return
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	fmt.Fprintf(w, "\nTargets at N = %d (reference: Uber Kraken, 3 GB to 2,600 hosts: p50 1.0x, p99 1.8x, p99.9 2.2x of ideal):\n\n| target | measured | verdict |\n|---|---|---|\n", nmax)
	p50, mx := ratioOf(percentile(p.done, 50), ideal), ratioOf(percentile(p.done, 100), ideal)
	fmt.Fprintf(w, "| per node p50 <= 1.2x S/B | %.2fx | %s |\n", p50, verdict(p50 <= 1.2))
	fmt.Fprintf(w, "| per node max <= 2x S/B | %.2fx | %s |\n", mx, verdict(mx <= 2))
	hs := float64(p.servedHolders) / float64(fc.size)
	fmt.Fprintf(w, "| holders serve <= 3 S in total | %.2f S (single-origin: %s) | %s |\n", hs, func() string {
		if o := f.run("origin", nmax); o != nil {
			return inS(o.servedHolders, fc.size)
		}
		return "-"
	}(), verdict(hs <= 3))
	// Time at most linear in log N: the delivery time added per doubling
	// of N does not grow from the first pair of fleet sizes to the last.
	var steps []string
	var perDoubling []float64
	for i := 1; i < len(fc.nodes); i++ {
		a, b := f.run("p2p", fc.nodes[i-1]), f.run("p2p", fc.nodes[i])
		if a == nil || b == nil {
			continue
		}
		d := (b.full.Seconds() - a.full.Seconds()) / math.Log2(float64(fc.nodes[i])/float64(fc.nodes[i-1]))
		perDoubling = append(perDoubling, d)
		steps = append(steps, fmt.Sprintf("N=%d->%d: %+.1f s", fc.nodes[i-1], fc.nodes[i], d))
	}
	if len(perDoubling) >= 2 {
		extra := ""
		if o, oq := f.run("origin", nmax), f.run("origin", nmin); o != nil && oq != nil {
			extra = fmt.Sprintf("; single-origin all delivered N=%d / N=%d: %.2fx (linear in N)", nmax, nmin, o.full.Seconds()/oq.full.Seconds())
		}
		fmt.Fprintf(w, "| time grows with log N at most | all delivered, added per doubling of N: %s (at most linear in log N if the last step adds no more than the first)%s | %s |\n",
			strings.Join(steps, ", "), extra, verdict(perDoubling[len(perDoubling)-1] <= perDoubling[0]))
	}
}

// uplinkUse is the share of the holders' and of the other nodes'
// capped upload capacity (count x B x t) they used up to t.
func (r *fleetRun) uplinkUse(fc fleetConfig, t time.Duration) (holders, others float64) {
	var p fleetPoint
	for _, q := range r.timeline {
		if q.t > t {
			break
		}
		p = q
	}
	if p.t <= 0 {
		return 0, 0
	}
	capa := float64(fc.upBW) * p.t.Seconds()
	return float64(p.servedHolders) / (capa * float64(len(r.holders))), float64(p.servedOthers) / (capa * float64(r.n-len(r.holders)))
}

// lagSummary is the gossip lag's p50 / max, or how many nodes were never
// seen as full holders.
func (r *fleetRun) lagSummary() string {
	var seen []time.Duration
	never := 0
	for _, l := range r.gossipLag {
		if l < 0 {
			never++
		} else {
			seen = append(seen, l)
		}
	}
	out := "-"
	if len(seen) > 0 {
		out = fmtDur(percentile(seen, 50)) + " / " + fmtDur(percentile(seen, 100))
	}
	if never > 0 {
		out += fmt.Sprintf(" (%d of %d never)", never, len(r.gossipLag))
	}
	return out
}

// deliveredAt is the share of the bytes the fetching nodes needed that
// they held at t (the last sample at or before t).
func (r *fleetRun) deliveredAt(t time.Duration) float64 {
	need := float64((r.n - len(r.holders)) * r.chunks)
	var got int64
	for _, p := range r.timeline {
		if p.t > t {
			break
		}
		got = p.chunks
	}
	if t >= r.full && len(r.timeline) > 0 {
		got = r.timeline[len(r.timeline)-1].chunks
	}
	return float64(got) / need
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDefaultStr(v int, def string) string {
	if v <= 0 {
		return def
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
