package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// scaleAgent is one agent process of the scale phase: its ports and data
// directory stay the same across a restart.
type scaleAgent struct {
	i                       int
	dir                     string   // --data-dir
	logPath                 string   // stdout and stderr of every start, appended
	api, peer, raft, gossip int      // loopback ports
	args                    []string // the first start
	restartArgs             []string // later starts: agent 0 too joins the other first agents

	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has been waited for
	err      error         // what Wait returned (read after exited is closed)
	exitedAt time.Time     // when Wait returned
	id       string        // node id, from the data directory
	lives    int           // how many times it was started (since it last moved ports)
	retried  int           // how many times it was moved to new ports (retryPorts)
}

func (a *scaleAgent) url() string      { return "http://127.0.0.1:" + strconv.Itoa(a.api) }
func (a *scaleAgent) peerAddr() string { return "127.0.0.1:" + strconv.Itoa(a.peer) }
func (a *scaleAgent) pid() int         { return a.cmd.Process.Pid }

// running says whether the agent's process was started and has not exited.
func (a *scaleAgent) running() bool {
	if a.cmd == nil {
		return false
	}
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// scaleFleet is N agent processes of the real binary on loopback. Each
// runs in its own process group and dies with this process (Pdeathsig);
// killAll, deferred by the caller, kills whatever still runs, also on an
// error or Ctrl-C.
type scaleFleet struct {
	bin    string
	env    []string
	sc     *scaleConfig
	agents []*scaleAgent
	mu     sync.Mutex   // guards used
	used   map[int]bool // every port given to an agent
}

// newScaleFleet lays out n agents under dir: ports, data directories,
// zones and racks, and --join naming the first sc.joinVia agents (those
// started before it the first time; every other one on a restart).
func newScaleFleet(sc *scaleConfig, bin, dir string, n int) (*scaleFleet, error) {
	ports, err := freePortsBelowEphemeral(4*n, nil)
	if err != nil {
		return nil, err
	}
	env := cleanEnv()
	if sc.secret {
		env = append(env, "P2PGLANCE_CLUSTER_SECRET="+rand.Text()+rand.Text())
	}
	f := &scaleFleet{bin: bin, env: env, sc: sc, used: map[int]bool{}}
	for _, p := range ports {
		f.used[p] = true
	}
	for i := range n {
		a := &scaleAgent{i: i, dir: filepath.Join(dir, fmt.Sprintf("a%03d", i)), logPath: filepath.Join(dir, fmt.Sprintf("a%03d.log", i)),
			api: ports[4*i], peer: ports[4*i+1], raft: ports[4*i+2], gossip: ports[4*i+3]}
		f.agents = append(f.agents, a)
	}
	for _, a := range f.agents {
		f.setArgs(a)
	}
	return f, nil
}

// setArgs builds agent a's command lines from its ports and the first
// agents' peer addresses.
func (f *scaleFleet) setArgs(a *scaleAgent) {
	sc, n := f.sc, len(f.agents)
	zone, rack := sc.placement(a.i)
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	a.args = []string{"agent", "--data-dir", a.dir,
		"--api-addr", addr(a.api), "--peer-addr", addr(a.peer), "--raft-addr", addr(a.raft), "--gossip-addr", addr(a.gossip),
		"--zone", zone, "--rack", rack, "--log-level", "info"}
	a.restartArgs = a.args
	var join, rejoin []string
	for j := range min(sc.joinVia, n) {
		if j < a.i {
			join = append(join, f.agents[j].peerAddr())
		}
		if j != a.i {
			rejoin = append(rejoin, f.agents[j].peerAddr())
		}
	}
	if len(join) > 0 {
		a.args = append(slices.Clip(a.args), "--join", strings.Join(join, ","))
	}
	if len(rejoin) > 0 {
		a.restartArgs = append(slices.Clip(a.restartArgs), "--join", strings.Join(rejoin, ","))
	}
}

// retryPorts starts again, on new ports and with an empty data
// directory, an agent that exited at its first start because one of its
// ports was taken meanwhile (the ports are found free when the fleet is
// laid out, and something else on the machine may bind one before the
// agent does). It reports whether it did. The first -scale-join agents
// are named in every --join: they are never moved.
func (f *scaleFleet) retryPorts(a *scaleAgent) (bool, error) {
	if a.running() || a.lives != 1 || a.i < min(f.sc.joinVia, len(f.agents)) || a.retried >= 3 ||
		!strings.Contains(tail(a.logPath), "address already in use") {
		return false, nil
	}
	f.mu.Lock()
	ports, err := freePortsBelowEphemeral(4, f.used)
	for _, p := range ports {
		f.used[p] = true
	}
	f.mu.Unlock()
	if err != nil {
		return false, err
	}
	a.api, a.peer, a.raft, a.gossip = ports[0], ports[1], ports[2], ports[3]
	f.setArgs(a)
	log.Printf("    agent %d: a port was taken before it started (%s); starting it again on new ports", a.i, oneLine(lastLine(a.logPath)))
	if err := os.RemoveAll(a.dir); err != nil {
		return false, err
	}
	if err := os.Remove(a.logPath); err != nil {
		return false, err
	}
	a.retried++
	a.cmd, a.lives = nil, 0
	if err := f.start(a); err != nil {
		return false, err
	}
	return true, nil
}

// start starts agent a's process.
func (f *scaleFleet) start(a *scaleAgent) error {
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	args := a.args
	if a.cmd != nil {
		args = a.restartArgs
	}
	cmd := exec.Command(f.bin, args...)
	if f.niced() && a.i >= min(f.sc.joinVia, len(f.agents)) {
		// nice execs the agent: the pid, and every thread, are the agent's.
		cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(f.sc.replicaNice), f.bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = f.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start agent %d: %w", a.i, err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	a.lives++
	go func() {
		a.err = cmd.Wait()
		a.exitedAt = time.Now()
		close(a.exited)
	}()
	return nil
}

// startAll starts every agent in turn (without waiting for any).
func (f *scaleFleet) startAll(from int) error {
	for _, a := range f.agents[from:] {
		if err := f.start(a); err != nil {
			return err
		}
	}
	return nil
}

// startWaves starts the agents from index from on, wave at a time (all
// at once if wave is 0): each wave once every agent of the one before
// has applied image id at revision rev, or exited. It fails if that
// takes longer than timeout in all.
func (f *scaleFleet) startWaves(ctx context.Context, hc *http.Client, from, wave int, id string, rev uint64, timeout time.Duration) error {
	if wave <= 0 {
		return f.startAll(from)
	}
	deadline := time.Now().Add(timeout)
	for lo := from; lo < len(f.agents); lo += wave {
		if lo > from {
			log.Printf("  N=%d: starting agents %d-%d", len(f.agents), lo, min(lo+wave, len(f.agents))-1)
		}
		batch := f.agents[lo:min(lo+wave, len(f.agents))]
		for _, a := range batch {
			if err := f.start(a); err != nil {
				return err
			}
		}
		if lo+wave >= len(f.agents) {
			return nil // the marker's wait covers the last wave
		}
		pending := slices.Clone(batch)
		err := waitFor(ctx, time.Until(deadline), func() bool {
			pending = slices.DeleteFunc(pending, func(a *scaleAgent) bool { return appliedOrExited(ctx, hc, a, id, rev) })
			return len(pending) == 0
		})
		if err == nil {
			err = f.exitedAgent()
		}
		if err != nil {
			return fmt.Errorf("agents %d-%d did not join (%d had not): %w", lo, lo+len(batch)-1, len(pending), err)
		}
	}
	return nil
}

// appliedOrExited reports whether agent a answers image id at revision
// rev (it has applied it), or is no longer running.
func appliedOrExited(ctx context.Context, hc *http.Client, a *scaleAgent, id string, rev uint64) bool {
	rctx, cancel := context.WithTimeout(ctx, appliedPollTimeout)
	defer cancel()
	st, err := getAtRev(rctx, hc, a.url(), id, rev)
	return (err == nil && st == http.StatusOK) || !a.running()
}

// exitedAgent returns an agent that exited, if any, with the end of its
// log.
func (f *scaleFleet) exitedAgent() error {
	for _, a := range f.agents {
		if a.cmd != nil && !a.running() {
			return fmt.Errorf("agent %d exited (%v); its log ends:\n%s", a.i, a.err, tail(a.logPath))
		}
	}
	return nil
}

// stopResult is how one agent stopped.
type stopResult struct {
	took   time.Duration
	killed bool // did not stop on SIGTERM within the timeout
}

// stopAll sends SIGTERM to every running agent at once and waits for
// each, killing (SIGKILL, its process group) any still running after
// timeout.
func (f *scaleFleet) stopAll(timeout time.Duration) []stopResult {
	out := make([]stopResult, len(f.agents))
	t0 := time.Now()
	for _, a := range f.agents {
		if a.running() {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	expired := false
	for k, a := range f.agents {
		if a.cmd == nil {
			continue
		}
		if !expired {
			select {
			case <-a.exited:
			case <-timer.C:
				expired = true
			}
		}
		if expired && a.running() {
			f.kill(a)
			out[k].killed = true
		}
		out[k].took = a.exitedAt.Sub(t0)
	}
	return out
}

// kill SIGKILLs agent a's process group and waits for it.
func (f *scaleFleet) kill(a *scaleAgent) {
	if !a.running() {
		return
	}
	_ = syscall.Kill(-a.pid(), syscall.SIGKILL)
	_ = a.cmd.Process.Kill()
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
	}
}

// killAll SIGKILLs every agent still running.
func (f *scaleFleet) killAll() {
	for _, a := range f.agents {
		if a.running() {
			_ = syscall.Kill(-a.pid(), syscall.SIGKILL)
		}
	}
	for _, a := range f.agents {
		f.kill(a)
	}
}

// readIDs reads every agent's node id from its data directory (the
// agent writes it when it first starts).
func (f *scaleFleet) readIDs(ctx context.Context, timeout time.Duration) error {
	for _, a := range f.agents {
		err := waitFor(ctx, timeout, func() bool {
			b, err := os.ReadFile(filepath.Join(a.dir, "node-id"))
			a.id = strings.TrimSpace(string(b))
			return err == nil && a.id != ""
		})
		if err != nil {
			return fmt.Errorf("node id of agent %d: %w", a.i, err)
		}
	}
	return nil
}

// index returns the agent whose node id is id, or -1.
func (f *scaleFleet) index(id string) int {
	for _, a := range f.agents {
		if a.id == id {
			return a.i
		}
	}
	return -1
}

// netCounters are the byte counts an agent logs when it stops.
type netCounters struct {
	peerSent, peerReceived, raftSent, raftReceived int64
	// dialedSent is the part of peerSent on connections the agent
	// dialed; served the internal HTTP requests it answered, by route,
	// with their answers' body bytes (both absent from agents built
	// before they were logged).
	dialedSent int64
	served     []node.RouteBytes
}

// sent is what the agent sent to other nodes over its internal HTTP and
// Raft connections.
func (c netCounters) sent() int64 { return c.peerSent + c.raftSent }

// stoppedCounters returns the counters of the last "p2pglance agent
// stopped" line of the agent's log, and whether there was one.
func stoppedCounters(path string) (netCounters, bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return netCounters{}, false, err
	}
	defer fh.Close()
	var last string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `msg="p2pglance agent stopped"`) {
			last = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		return netCounters{}, false, err
	}
	if last == "" {
		return netCounters{}, false, nil
	}
	c, err := parseStoppedLine(last)
	return c, err == nil, err
}

// parseStoppedLine reads the byte counters of the agent's "stopped" log
// line (slog's text format: key=value pairs).
func parseStoppedLine(line string) (netCounters, error) {
	var c netCounters
	fields := map[string]*int64{
		"peer_sent_bytes": &c.peerSent, "peer_received_bytes": &c.peerReceived,
		"raft_sent_bytes": &c.raftSent, "raft_received_bytes": &c.raftReceived,
	}
	found := 0
	for _, kv := range strings.Fields(line) {
		k, v, ok := strings.Cut(kv, "=")
		if p := fields[k]; ok && p != nil {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return c, fmt.Errorf("stopped line: %s: %w", k, err)
			}
			*p = n
			found++
		}
	}
	if found != len(fields) {
		return c, errors.New("stopped line without the byte counters (an agent built before they existed?)")
	}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "peer_dialed_sent_bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return c, fmt.Errorf("stopped line: %s: %w", k, err)
			}
			c.dialedSent = n
		case "peer_served":
			if v == `""` {
				v = "" // slog quotes an empty value: the agent answered no internal request
			}
			rs, err := node.ParseRouteBytes(v)
			if err != nil {
				return c, fmt.Errorf("stopped line: %w", err)
			}
			c.served = rs
		}
	}
	return c, nil
}

// freePortsBelowEphemeral finds n distinct loopback ports free for TCP
// and UDP, below the kernel's ephemeral range: the agents keep their
// ports across a full restart, and a port of the ephemeral range left
// free meanwhile could become the source port of any process's outgoing
// connection.
func freePortsBelowEphemeral(n int, used map[int]bool) ([]int, error) {
	lo, hi := 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > lo+4*n {
				hi = v
			}
		}
	}
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n && tries < 20*n+100; tries++ {
		r, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
		if err != nil {
			return nil, err
		}
		p := lo + int(r.Int64())
		if seen[p] || used[p] {
			continue
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, fmt.Errorf("found %d free ports in [%d, %d), need %d", len(out), lo, hi, n)
	}
	return out, nil
}

// lastLine is the last non-empty line of a file ("" if none).
func lastLine(path string) string {
	lines := strings.Split(strings.TrimSpace(tail(path)), "\n")
	return lines[len(lines)-1]
}

// niced reports whether this fleet's agents after the voters run under
// nice (-scale-replica-nice, -scale-nice-from).
func (f *scaleFleet) niced() bool {
	return f.sc.replicaNice > 0 && len(f.agents) >= f.sc.niceFrom
}
