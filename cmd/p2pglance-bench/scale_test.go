package main

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tp2pglance\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 2190000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   52000 kB\nRssAnon:\t   20000 kB\nRssFile:\t   31000 kB\nRssShmem:\t    1000 kB\nThreads:\t12\n"
	m, err := parseProcStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procMemory{rss: 52000, hwm: 61234, anon: 20000, file: 31000}); m != want {
		t.Errorf("parsed %+v, want %+v", m, want)
	}
	if _, err := parseProcStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("a status without VmRSS parsed")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses; utime and
	// stime are fields 14 and 15.
	stat := "4242 (p2p (glance) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 50 0 0 20 0 12 0 100 2000000 13000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	if got, want := parseProcStatCPU([]byte(stat)), 2*time.Second; got != want {
		t.Errorf("cpu %s, want %s", got, want)
	}
	if got := parseProcStatCPU([]byte("1 (x) S 1 2")); got != 0 {
		t.Errorf("a short stat gave %s", got)
	}
}

func TestStoppedCounters(t *testing.T) {
	line := `time=2026-12-07T11:37:54.999Z level=INFO msg="p2pglance agent stopped" peer_sent_bytes=178828 peer_received_bytes=746198 raft_sent_bytes=2556114 raft_received_bytes=513743`
	c, err := parseStoppedLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (netCounters{peerSent: 178828, peerReceived: 746198, raftSent: 2556114, raftReceived: 513743}); !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
	if c.sent() != 178828+2556114 {
		t.Errorf("sent %d", c.sent())
	}
	if _, err := parseStoppedLine(`time=x level=INFO msg="p2pglance agent stopped"`); err == nil {
		t.Error("a stopped line without counters parsed")
	}

	// An agent that logs what it sent by route.
	if c, err := parseStoppedLine(line + ` peer_dialed_sent_bytes=1000 peer_served=""`); err != nil || c.served != nil {
		t.Fatalf("an agent that answered nothing: %+v %v", c, err)
	}
	c, err = parseStoppedLine(line + ` peer_dialed_sent_bytes=1000 peer_served=log:12/90000,checkpoint:1/80000`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []node.RouteBytes{{Route: "log", Requests: 12, Bytes: 90000}, {Route: "checkpoint", Requests: 1, Bytes: 80000}}; c.dialedSent != 1000 || !reflect.DeepEqual(c.served, want) {
		t.Errorf("parsed %d, %+v; want 1000, %+v", c.dialedSent, c.served, want)
	}

	// Two lives in one log: the last line counts.
	path := filepath.Join(t.TempDir(), "a.log")
	log := line + "\n" + `time=y level=INFO msg="p2pglance agent started" id=x` + "\n" +
		`time=z level=INFO msg="p2pglance agent stopped" peer_sent_bytes=1 peer_received_bytes=2 raft_sent_bytes=3 raft_received_bytes=4` + "\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	c, ok, err := stoppedCounters(path)
	if err != nil || !ok || !reflect.DeepEqual(c, netCounters{peerSent: 1, peerReceived: 2, raftSent: 3, raftReceived: 4}) {
		t.Errorf("last life: %+v %v %v", c, ok, err)
	}
	if err := os.WriteFile(path, []byte(`time=y level=INFO msg="p2pglance agent started"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := stoppedCounters(path); ok || err != nil {
		t.Errorf("a log without a stopped line: %v %v", ok, err)
	}
}

func TestFitLine(t *testing.T) {
	f, ok := fitLine([]float64{50, 100, 200, 300}, []float64{28, 53, 103, 153})
	if !ok || math.Abs(f.slope-0.5) > 1e-9 || math.Abs(f.intercept-3) > 1e-9 || f.points != 4 {
		t.Errorf("fit %+v %v, want slope 0.5, intercept 3", f, ok)
	}
	// Noisy points: the least-squares slope of (0,0) (1,1) (2,1) is 0.5.
	if f, _ := fitLine([]float64{0, 1, 2}, []float64{0, 1, 1}); math.Abs(f.slope-0.5) > 1e-9 || math.Abs(f.intercept-1.0/6) > 1e-9 {
		t.Errorf("fit %+v, want slope 0.5, intercept 1/6", f)
	}
	if _, ok := fitLine([]float64{50}, []float64{1}); ok {
		t.Error("a fit through one point")
	}
	if _, ok := fitLine([]float64{50, 50}, []float64{1, 2}); ok {
		t.Error("a fit through one N")
	}
}

func TestMedianF(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := medianF(c.in); got != c.want {
			t.Errorf("median of %v = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseScaleSizes(t *testing.T) {
	got, err := parseScaleSizes("50 100,200  300")
	if err != nil || len(got) != 4 || got[0] != 50 || got[3] != 300 {
		t.Errorf("parsed %v %v", got, err)
	}
	for _, bad := range []string{"", "1", "50,x"} {
		if _, err := parseScaleSizes(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Every rack lies in one zone, and every zone and rack is used.
func TestScalePlacement(t *testing.T) {
	sc := &scaleConfig{zones: 3, racks: 7}
	zoneOf := map[string]string{}
	zones := map[string]bool{}
	for i := range 50 {
		z, r := sc.placement(i)
		if prev, ok := zoneOf[r]; ok && prev != z {
			t.Fatalf("rack %s in zones %s and %s", r, prev, z)
		}
		zoneOf[r] = z
		zones[z] = true
	}
	if len(zoneOf) != 7 || len(zones) != 3 {
		t.Errorf("%d racks in %d zones, want 7 in 3", len(zoneOf), len(zones))
	}
}

// testScaleResult is two made-up runs: the second without a restart.
func testScaleResult() *scaleResult {
	mem := func(rss int64) procMemory { return procMemory{rss: rss, anon: rss / 2, file: rss / 2} }
	run := func(n int, join time.Duration, mc []float64, restart bool) *scaleRun {
		r := &scaleRun{n: n, took: time.Minute, leader: 0,
			join: joinResult{applied: join - time.Second, members: join, all: join},
			idle: idleResult{window: 30 * time.Second, mc: mc, leaders: []int{0}, machineCores: 1.2,
				mem: []procMemory{mem(40 << 10), mem(30 << 10), mem(32 << 10)}},
			load: loadResult{rate: 50, wall: 30 * time.Second, ok: 1500, sampledAgents: n, sampleEvery: 50,
				writeLat: []time.Duration{10 * time.Millisecond}, visAll: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond},
				visEach: []time.Duration{15 * time.Millisecond}},
			creates:  scaleCreatesResult{via: n - 1, clients: 16, ok: 3000, wall: 15 * time.Second, lat: []time.Duration{50 * time.Millisecond}},
			snapshot: snapshotResult{catalogBytes: 1 << 20, images: 4500, lastIndex: 5000},
		}
		if restart {
			r.restart = &restartResult{leader: 0, window: 20 * time.Second, rejoin: joinResult{all: 2 * join, listed: n},
				leaderBytes: netCounters{peerSent: 1 << 20, raftSent: 2 << 20}, haveLeaderBytes: true, counted: n, fleetSent: 10 << 20, maxOtherSent: 1 << 20}
		}
		return r
	}
	return &scaleResult{
		cfg: scaleConfig{zones: 3, racks: 7, joinVia: 3, secret: true, settle: 15 * time.Second, idle: 30 * time.Second,
			rate: 50, load: 30 * time.Second, sample: time.Second, clients: 16, creates: 15 * time.Second},
		runs: []*scaleRun{run(100, 40*time.Second, []float64{200, 20, 22}, true), run(50, 20*time.Second, []float64{100, 20, 21}, false)},
	}
}

func TestScaleReport(t *testing.T) {
	var out bytes.Buffer
	testScaleResult().print(&out)
	s := out.String()
	for _, want := range []string{
		"### 10. Scale",
		"| 50 | 20.0 | 21.0 / 21.0 | 100 | 0.141 | 32.0 / 16.0 / 16.0 | 32.0 / 40.0 | 20.0 / 40.0 / 40.0 | 200 | — | — |",
		"| 100 | 40.0 | 22.0 / 22.0 | 200 | 0.242 | 32.0 / 16.0 / 16.0 | 32.0 / 40.0 | 20.0 / 40.0 / 40.0 | 200 | 80.0 | 3.00 |",
		// join: 20 s more for 50 more agents; idle median 1 mc more,
		// the leader 100; the restart figures have one point only.
		"| slope per added agent | +0.4 | +0.02 / +0.02 | +2.00 | +0.00202 | 0 / 0 / 0 | 0 / 0 | 0 / 0 / 0 | 0 | — | — |",
		"| all joined | s | +0.4 | 0 | 2 |",
		"| full restart: leader egress / snapshot | x | — | — | 1 |",
		"4500 images, 1.0 MiB (index 5000); no snapshot file yet",
		"1.0 MiB / 2.0 MiB, in 20s (agent 0): 153.6 KiB/s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "development run") {
		t.Error("a 30 s idle window called a development run")
	}
}

// A run that stopped early keeps what it measured; a leader change in
// the idle window is said.
func TestScaleReportPartial(t *testing.T) {
	res := testScaleResult()
	res.runs[1].idle.leaders = []int{0, 2}
	res.runs[0].restart.rejoin.listed = 97
	res.runs = append(res.runs, &scaleRun{n: 150, took: 5 * time.Minute, leader: -1,
		join: joinResult{applied: time.Minute, members: 70 * time.Second, all: 70 * time.Second}, failed: "creates: no create succeeded"},
		&scaleRun{n: 200, took: 9 * time.Minute, leader: -1, failed: "did not join"})
	var out bytes.Buffer
	res.print(&out)
	s := out.String()
	for _, want := range []string{
		"| 150 | 70.0 | — / — | — | — | — / — / — | — / — | — / — / — | — | — | — |",
		"**N=150 stopped early** after 5m0s: `creates: no create succeeded`.",
		"| 150 | 5m0s | 60.0 / 70.0 |",
		// The leader of N=50 is the agent of the two that used more CPU
		// (agent 0: 100 millicores); neither counts in the max.
		"| 50 | 20.0 | 21.0 / 20.0 | 100 |",
		"N=50: the Raft leader changed during the idle window (agents [0 2])",
		"N=100: **after the full restart only 97 of 100 agents listed every agent alive** (gossip) within 1m20s",
		"| 200 | 9m0s | did not join | — | — | — | — | — | — | — |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	path := filepath.Join(t.TempDir(), "scale.png")
	if err := writeScalePlot(path, res); err != nil {
		t.Fatal(err)
	}
}

func TestScalePlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scale.png")
	if err := writeScalePlot(path, testScaleResult()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	// One run only: points, no fit line.
	res := testScaleResult()
	res.runs = res.runs[:1]
	if err := writeScalePlot(path, res); err != nil {
		t.Fatal(err)
	}
}

// buildAgent builds the p2pglance binary into dir.
func buildAgent(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "p2pglance")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/p2pglance/p2pglance/cmd/p2pglance").CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	return bin
}

// An agent whose port something else took between the layout and its
// start exits; it is started again on new ports.
func TestScaleRetryPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real agent process")
	}
	dir := t.TempDir()
	sc := &scaleConfig{zones: 3, racks: 7, joinVia: 3}
	f, err := newScaleFleet(sc, buildAgent(t, dir), dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer f.killAll()
	a := f.agents[3]
	taken, err := net.Listen("tcp", a.peerAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	old := a.peer
	if err := f.start(a); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(time.Minute):
		t.Fatal("the agent did not exit with its port taken")
	}
	if moved, err := f.retryPorts(f.agents[0]); moved || err != nil {
		t.Errorf("an agent that never ran was moved: %v %v", moved, err)
	}
	moved, err := f.retryPorts(a)
	if err != nil || !moved {
		t.Fatalf("not moved: %v %v (log: %s)", moved, err, tail(a.logPath))
	}
	if a.peer == old || !slices.Contains(a.args, a.peerAddr()) {
		t.Errorf("peer port %d (was %d), args %v", a.peer, old, a.args)
	}
	// Up on its new ports: its API answers.
	hc := newScaleClient(1)
	err = waitFor(context.Background(), time.Minute, func() bool {
		resp, err := hc.Get(a.url() + "/versions")
		if err != nil {
			return !a.running()
		}
		resp.Body.Close()
		return true
	})
	if err != nil || !a.running() {
		t.Fatalf("the moved agent is not up: %v (log: %s)", err, tail(a.logPath))
	}
}

// TestScaleSmoke runs the scale phase on 3 real agent processes with
// short windows, so that the harness keeps working as the node evolves.
// It checks that the table is produced, never how fast anything was.
func TestScaleSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	cfg := &config{dir: dir, binary: buildAgent(t, dir), only: map[string]bool{"scale": true}, scale: scaleConfig{
		sizes: []int{3}, zones: 3, racks: 7, joinVia: 3, secret: true, settle: 100 * time.Millisecond, idle: time.Second,
		rate: 20, load: 2 * time.Second, sample: 500 * time.Millisecond, clients: 4, creates: time.Second, createVia: -1,
		restart: true, stopTimeout: 30 * time.Second, plot: filepath.Join(dir, "scale.png"), logs: filepath.Join(dir, "logs"),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"### 10. Scale", "| 3 |", "development run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "not measured") {
		t.Errorf("the snapshot was not measured:\n%s", out.String())
	}
	for _, p := range []string{cfg.scale.plot, filepath.Join(cfg.scale.logs, "n3", "a002.log")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

// CPU per write: the median agent's CPU over the load less its idle
// rate over as long, per successful write; the fleet's sum likewise.
func TestCPUPerWrite(t *testing.T) {
	idle := idleResult{mc: []float64{10, 10, 10}} // 10 millicores each
	l := loadResult{wall: 10 * time.Second, ok: 500,
		cpu: []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond}}
	// Median 0.6 s, idle 0.1 s over 10 s: 0.5 s over 500 writes = 1 ms.
	if got := l.cpuPerWrite(idle); math.Abs(got-1000) > 1e-6 {
		t.Fatalf("median agent: %v µs per write, want 1000", got)
	}
	// Fleet 1.8 s less 0.3 s idle = 1.5 s over 500 writes = 3 ms.
	if got := l.fleetCPUPerWrite(idle); math.Abs(got-0.003) > 1e-9 {
		t.Fatalf("fleet: %v s per write, want 0.003", got)
	}
	if got := (loadResult{}).cpuPerWrite(idle); got != 0 {
		t.Fatalf("no writes: %v", got)
	}
}
