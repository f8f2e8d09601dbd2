package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report collects every phase's figures.
type report struct {
	machine machine
	hash    []hashResult
	local   *localResult
	peer    *peerResult
	create  *createResult
	list    *listResult
	ryw     *rywResult
	rss     *rssResult
	fleet   *fleetResult
	repair  *repairResult
	scale   *scaleResult
	total   time.Duration
}

func size(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d B", b)
}

const sampleHeader = "| figure | runs (MB/s) | median MB/s | process cores | process CPU s per GB | machine cores busy | iowait (cores) | steal (cores) |\n|---|---|---:|---:|---:|---:|---:|---:|\n"

// sampleRow prints the runs and the median run's CPU figures.
func sampleRow(w io.Writer, name string, ss []sample) {
	md := median(ss)
	fmt.Fprintf(w, "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", name, mbpsList(ss), md.mbps(), md.cores(), md.cpuPerGB(),
		md.machineCores(), md.iowaitCores(), md.stealCores())
}

func ratio(a, b float64) string { return fmt.Sprintf("%.2fx", a/b) }

// pairRatios is the ratio of medians, then the range of the ratios of
// each run to the baseline run taken just before or after it.
func pairRatios(ours, base []sample) string {
	out := ratio(median(ours).mbps(), median(base).mbps())
	n := min(len(ours), len(base))
	if n < 2 {
		return out
	}
	lo, hi := ours[0].mbps()/base[0].mbps(), ours[0].mbps()/base[0].mbps()
	for i := 1; i < n; i++ {
		r := ours[i].mbps() / base[i].mbps()
		lo, hi = min(lo, r), max(hi, r)
	}
	return fmt.Sprintf("%s (runs %.2f-%.2f)", out, lo, hi)
}

func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

// print writes the markdown tables.
func (r *report) print(w io.Writer, cfg *config) {
	m := r.machine
	fmt.Fprintf(w, "Machine: %d CPUs (`nproc`), %s, %s RAM, %s; %s; data on %s. Taken %s; the run took %s.\n\n",
		m.nproc, m.cpuModel, m.memTotal, m.kernel, m.goVersion, m.fs, m.date, r.total.Round(time.Second))
	fmt.Fprintf(w, "Load average (1, 5, 15 min) before the run: %s; after: %s. The machine is shared: \"machine cores busy\" above \"process cores\" is other work (or kernel work for us: writeback, loopback).\n\n", m.loadStart, m.loadEnd)
	if core := r.local != nil || r.peer != nil || r.create != nil || r.list != nil || r.rss != nil; core {
		fmt.Fprintf(w, "Figures are medians of %d runs (uploads, creates) or %d runs (downloads); baseline and p2pglance runs alternate in the same process; a ratio is the ratio of the medians, followed by the range of the ratios of each run to the baseline run next to it. MB/s = 10^6 bytes/s. \"process cores\" = CPU time of the benchmark process (clients and in-process nodes together) / wall time; \"machine cores busy\" = the same for the whole machine from /proc/stat (user+system+irq, not iowait); %d means every CPU was busy.\n\n",
			cfg.reps, cfg.dlReps, m.nproc)
		r.printSummary(w)
	}
	if len(r.hash) > 0 {
		fmt.Fprintf(w, "\n### Per-byte costs on one core (context for \"what bounds it\")\n\n| operation | MB/s (one core) | CPU s per GB |\n|---|---:|---:|\n")
		for _, h := range r.hash {
			fmt.Fprintf(w, "| %s | %.0f | %.2f |\n", h.name, h.mbps, h.cpu)
		}
	}
	if l := r.local; l != nil {
		fmt.Fprintf(w, "\n### 1-2. Upload and local download, %s, one node, replicas 1\n\n", size(l.size))
		fmt.Fprint(w, sampleHeader)
		row := func(name string, ss []sample) { sampleRow(w, name, ss) }
		row("baseline: write 4 MiB blocks + one fsync", l.write)
		row("p2pglance: `PUT /v2/images/{id}/file`", l.upload)
		row("baseline: `http.ServeFile` of that file", l.serve)
		row("p2pglance: `GET /v2/images/{id}/file` (BLAKE3-verified)", l.download)
	}
	if p := r.peer; p != nil {
		fmt.Fprintf(w, "\n### 3. Download through a node that fetches every chunk from a peer, %s, 3 nodes, replicas 1, NoCache\n\n", size(p.size))
		fmt.Fprint(w, sampleHeader)
		for _, x := range []struct {
			name string
			ss   []sample
		}{{"baseline: GET on the node holding the chunks", p.local}, {"p2pglance: GET on a node holding none", p.remote}} {
			sampleRow(w, x.name, x.ss)
		}
		fmt.Fprintf(w, "\nThe remote node fetched %s from its peer per download (node metrics), so nothing was served from a cache.\n", size(p.fetched))
	}
	if c := r.create; c != nil && len(c.runs) > 0 {
		fmt.Fprintf(w, "\n### 4. Image creates, %d nodes, concurrency %d, %d creates per run\n\n", c.nodes, c.concurrency, c.runs[0].n)
		fmt.Fprintf(w, "| run | creates/s | p50 ms | p99 ms | sent to the leader: p50 / p99 ms | sent to a follower (forwarded): p50 / p99 ms | process cores | machine cores | baseline: fsyncs/s (4 KiB, sequential) | fsync p50 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for i, run := range c.runs {
			fmt.Fprintf(w, "| %d | %.0f | %s | %s | %s / %s | %s / %s | %.2f | %.2f | %.0f | %s |\n", i+1, run.perSecond,
				ms(percentile(run.lat, 50)), ms(percentile(run.lat, 99)),
				ms(percentile(run.leaderLat, 50)), ms(percentile(run.leaderLat, 99)), ms(percentile(run.fwdLat, 50)), ms(percentile(run.fwdLat, 99)),
				run.s.cores(), run.s.machineCores(), run.fsyncPS, ms(percentile(run.fsyncLat, 50)))
		}
		for i, run := range c.runs {
			if run.failed > 0 {
				fmt.Fprintf(w, "\nRun %d: %d of %d creates failed (not counted in its rate); the first: `%s`\n", i+1, run.failed, run.n, strings.Join(strings.Fields(run.firstErr), " "))
			}
		}
		if len(c.seqLeader) > 0 {
			fmt.Fprintf(w, "\nOne client, one create at a time (%d each): to the leader p50 %s ms, p99 %s ms; to a follower p50 %s ms, p99 %s ms.\n",
				len(c.seqLeader), ms(percentile(c.seqLeader, 50)), ms(percentile(c.seqLeader, 99)), ms(percentile(c.seqFollower, 50)), ms(percentile(c.seqFollower, 99)))
		}
	}
	if l := r.list; l != nil {
		fmt.Fprintf(w, "\n### 5. List latency (one client, sequential requests, HTTP on loopback, whole answer read)\n\n")
		for _, ld := range l.loads {
			fmt.Fprintf(w, "Catalog loaded from %d to %d images through `(*node.Node).CreateImage` (Raft, fsync, no HTTP) from %d goroutines in %s: %.0f creates/s; then %s idle before measuring. Live Go heap of the process then: %d MiB (%.1f KiB per image).\n",
				ld.from, ld.to, cfg.loaders, ld.wall.Round(time.Millisecond), ld.perSec, cfg.settle, ld.heap>>20, float64(ld.heap)/1024/float64(ld.to))
		}
		fmt.Fprintf(w, "\n| images | query | page | requests | p50 ms | p99 ms | max ms | note |\n|---:|---|---:|---:|---:|---:|---:|---|\n")
		for _, row := range l.rows {
			fmt.Fprintf(w, "| %d | %s | %d | %d | %s | %s | %s | %s |\n", row.images, row.q.label, row.page, row.n, ms(row.p50), ms(row.p99), ms(row.max), row.q.note)
		}
	}
	if s := r.rss; s != nil {
		fmt.Fprintf(w, "\n### 6. Memory of the real binary (`/proc/PID/status`)\n\n`%s`\n\n", s.args)
		fmt.Fprintf(w, "VmRSS = RssAnon (heap, stacks) + RssFile (resident pages of memory-mapped files: Badger maps its value-log and table files, so chunk data it writes or reads is counted while it stays in the page cache; the kernel can drop those pages at any time).\n\n")
		fmt.Fprintf(w, "| moment | VmRSS | RssAnon | RssFile | VmHWM (peak VmRSS since start) |\n|---|---:|---:|---:|---:|\n")
		fmt.Fprintf(w, "| idle, %s after the API first answered | %s | %s | %s | %s |\n", s.idle, mib(s.idleMem.rss), mib(s.idleMem.anon), mib(s.idleMem.file), mib(s.idleMem.hwm))
		fmt.Fprintf(w, "| during a %s upload (largest of 20 ms samples) | %s | %s | %s | %s right after |\n", size(s.size), mib(s.upload.rss), mib(s.upload.anon), mib(s.upload.file), mib(s.uploadHWM))
		fmt.Fprintf(w, "| during its download (largest of 20 ms samples) | %s | %s | %s | %s right after |\n", mib(s.download.rss), mib(s.download.anon), mib(s.download.file), mib(s.downloadHWM))
		fmt.Fprintf(w, "| idle again, %s later | %s | %s | %s | |\n", s.idle, mib(s.after.rss), mib(s.after.anon), mib(s.after.file))
		fmt.Fprintf(w, "\nThrough the real binary (client in this process, agent alone in its own): upload %.0f MB/s using %.2f agent CPU s per GB; download %.0f MB/s using %.2f agent CPU s per GB.\n",
			s.uploadRun.mbps(), s.uploadCPU, s.downloadRun.mbps(), s.downloadCPU)
	}
	if r.fleet != nil {
		r.fleet.print(w)
	}
	if r.repair != nil {
		r.repair.print(w)
	}
	if r.ryw != nil {
		r.ryw.print(w)
	}
	if r.scale != nil {
		r.scale.print(w)
	}
}

func (r *report) printSummary(w io.Writer) {
	fmt.Fprintf(w, "| # | figure | p2pglance | baseline, same run | ratio | target | real Glance 25 (reference) |\n|---|---|---:|---:|---:|---|---|\n")
	if l := r.local; l != nil {
		up, wr := median(l.upload), median(l.write)
		fmt.Fprintf(w, "| 1 | upload %s (`PUT .../file`, 1 node, replicas 1, disk) | %.0f MB/s | %.0f MB/s (write + fsync) | %s | >= 0.5x | 0.2-0.5x (126-262 MB/s) |\n",
			size(l.size), up.mbps(), wr.mbps(), pairRatios(l.upload, l.write))
		dl, sf := median(l.download), median(l.serve)
		fmt.Fprintf(w, "| 2 | download %s from the holder (`GET .../file`) | %.0f MB/s | %.0f MB/s (`http.ServeFile`) | %s | >= 0.9x | 1.0-1.2x |\n",
			size(l.size), dl.mbps(), sf.mbps(), pairRatios(l.download, l.serve))
	}
	if p := r.peer; p != nil {
		rm, lc := median(p.remote), median(p.local)
		fmt.Fprintf(w, "| 3 | download %s, every chunk fetched from a peer (3 nodes) | %.0f MB/s | %.0f MB/s (local download, same cluster) | %s | >= 0.5x | n/a |\n",
			size(p.size), rm.mbps(), lc.mbps(), pairRatios(p.remote, p.local))
	}
	if c := r.create; c != nil && len(c.runs) > 0 {
		runs := slices.Clone(c.runs)
		slices.SortFunc(runs, func(a, b createRun) int { return int(a.s.wall - b.s.wall) })
		md := runs[(len(runs)-1)/2]
		var fsyncs []sample
		for _, run := range c.runs {
			fsyncs = append(fsyncs, sample{wall: run.fsyncWall, bytes: int64(len(run.fsyncLat))})
		}
		fs := median(fsyncs)
		fps := float64(fs.bytes) / fs.wall.Seconds()
		fmt.Fprintf(w, "| 4 | image creates, %d nodes, concurrency %d | %.0f/s (p50 %s ms, p99 %s ms) | %.0f sequential fsyncs/s | %s | >= 1,000/s | 40/s at concurrency 8 |\n",
			c.nodes, c.concurrency, md.perSecond, ms(percentile(md.lat, 50)), ms(percentile(md.lat, 99)), fps, ratio(md.perSecond, fps))
	}
	if l := r.list; l != nil {
		for _, row := range l.rows {
			if row.q.query == "limit=25" && row.q.project == "" || row.q.query == "limit=25&owner=proj-042" {
				ref := "n/a"
				if row.q.query == "limit=25" && row.images == 10000 {
					ref = "p99 32 ms at 10,000"
				}
				fmt.Fprintf(w, "| 5 | list %s, %d images | p50 %s ms, p99 %s ms | | | p99 <= 5 ms at 100k | %s |\n",
					row.q.label, row.images, ms(row.p50), ms(row.p99), ref)
			}
		}
	}
	if s := r.rss; s != nil {
		fmt.Fprintf(w, "| 6 | RSS (VmRSS) of an idle node (real binary) | %s | | | <= 100 MiB | 414 MiB |\n", mib(s.idleMem.rss))
		fmt.Fprintf(w, "| 6 | peak RSS (VmHWM) during a %s upload | %s (anonymous: %s; mapped Badger files: %s) | | | far below %s | n/a |\n",
			size(s.size), mib(s.uploadHWM), mib(s.upload.anon), mib(s.upload.file), size(s.size))
	}
}
