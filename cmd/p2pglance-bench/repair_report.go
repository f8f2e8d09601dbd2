package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// print writes the repair section's table.
func (r *repairResult) print(w io.Writer) {
	rc := r.cfg
	ideal := r.idealCopy()
	h := len(r.survivors)
	fmt.Fprintf(w, "\n### 8. Repair: a durable holder lost past the grace period\n\n")
	fmt.Fprintf(w, "N = %d nodes in %d zones (node i in zone i mod %d), B = %s/s `UploadBandwidth` on every node (downloads uncapped), R = %d, K = %d images of S = %s (chunk %s) uploaded through nodes 0..N-1 in turn, `RepairGrace` %s, production Raft and gossip timers (the leader checks for lost holders every RepairGrace/4), Badger on disk. "+
		"Lost: node%d (%s, a replica outside Raft), a durable holder of %d of the %d images, %s; their surviving holders (the repair's sources) are %d nodes %v. "+
		"Times are from the cancel of the lost node's context (a graceful stop: it leaves gossip); \"repaired\" = the leader's catalog places the image on %d live nodes, none the lost one, and each of their stores holds every chunk (`HoldsImage`), polled every %s. "+
		"Ideal = lost bytes / (%d survivors x B) = %s; the measured baseline copies the same bytes once over one capped uplink (the lost node's peer chunk endpoint, before it is stopped, one chunk after another, BLAKE3-checked). "+
		"Every uplink starts with a full token bucket (one second of B), so a copy can beat its ideal by up to 1 s.\n\n",
		rc.nodes, rc.zones, rc.zones, size(rc.upBW), rc.replicas, rc.images, size(rc.size), size(int64(r.chunk)), rc.grace,
		r.victim, r.zoneOf[r.victim], len(r.lost), rc.images, size(r.lostBytes), h, nodeNames(r.survivors, r.zoneOf),
		rc.replicas, fmtDur(rc.poll), h, fmtDur(ideal))
	fmt.Fprintf(w, "| figure | time | / ideal |\n|---|---:|---:|\n")
	row := func(name string, d time.Duration) {
		fmt.Fprintf(w, "| %s | %s | %.2fx |\n", name, fmtDur(d), ratioOf(d, ideal))
	}
	row(fmt.Sprintf("ideal: lost bytes / (%d x B)", h), ideal)
	row(fmt.Sprintf("baseline, measured: lost bytes over one uplink at B (%.1f MB/s)", r.baseline.mbps()), r.baseline.wall)
	row(fmt.Sprintf("baseline / %d (one uplink's measured rate on each survivor)", h), r.baseline.wall/time.Duration(h))
	fmt.Fprintf(w, "| the leader's gossip lists the node gone | %s | |\n", fmtDur(r.gone))
	fmt.Fprintf(w, "| first repair byte fetched | %s | |\n", fmtDur(r.firstByte))
	fmt.Fprintf(w, "| first image repaired | %s | |\n", fmtDur(r.repaired[0]))
	fmt.Fprintf(w, "| **every image repaired (time to repair)** | **%s** | |\n", fmtDur(r.full))
	row(fmt.Sprintf("**time to repair - grace (%s)**", rc.grace), r.full-rc.grace)
	row("transfer: first repair byte to every image repaired", r.full-r.firstByte)
	fmt.Fprintf(w, "\nImages repaired at (s after the stop): %s. Bytes fetched by the nodes during the repair: %s (%.2fx the lost bytes); served to peers: %s (%s); the nodes' `Repairs` counters rose by %d; Raft leaders during the repair: %s. "+
		"New copies went to %s. Zone spread after the repair: %d of %d images span min(R, zones) = %d zones%s. "+
		"During the repair the process used %s. Load average (1, 5, 15 min) before the phase: %s; after: %s.\n",
		durList(r.repaired), size(r.fetched), float64(r.fetched)/float64(r.lostBytes), size(r.served), servedList(r.servedBy), r.repairs, leaderList(r.leaders),
		countList(r.newHolder), r.spreadOK, rc.images, min(rc.replicas, rc.zones), spreadNote(r.spreadBad),
		r.s.cpus(), r.loadStart, r.loadEnd)
}

func nodeNames(ks []int, zoneOf []string) string {
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("node%d (%s)", k, zoneOf[k]))
	}
	return strings.Join(out, ", ")
}

func durList(ds []time.Duration) string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.1f", d.Seconds()))
	}
	return strings.Join(out, ", ")
}

func countList(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s: %d", k, m[k]))
	}
	if len(out) == 0 {
		return "no node"
	}
	return strings.Join(out, ", ")
}

func spreadNote(bad []string) string {
	if len(bad) == 0 {
		return ""
	}
	return " (not: " + strings.Join(bad, "; ") + ")"
}

func servedList(m map[string]int64) string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, fmt.Sprintf("%s %s", k, size(m[k])))
	}
	return strings.Join(out, ", ")
}

func leaderList(ls []int) string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("node%d", l))
	}
	if len(out) == 1 {
		return out[0] + " throughout"
	}
	return strings.Join(out, " then ")
}
