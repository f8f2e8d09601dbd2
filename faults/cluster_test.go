package faults

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The ports every node listens on, each at its own address.
const (
	apiPort    = 9292
	peerPort   = 9492
	raftPort   = 9592
	gossipPort = 9692
)

// config is how a test's cluster is built.
type config struct {
	n, voters, replicas int
	// dataDir gives node i's data directory (nil or "": one under
	// t.TempDir()).
	dataDir func(i int) string
	// args are extra agent flags for node i.
	args func(i int) []string
}

// cluster is n agent processes, node 0 bootstrapping and the others
// joining it, on a network of namespaces.
type cluster struct {
	t      *testing.T
	cfg    config
	net    *network
	dir    string
	secret string
	nodes  []*proc
	http   *http.Client
}

// proc is one node: its process while it runs.
type proc struct {
	i       int
	id      string
	dataDir string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error
	stopped bool // the test stopped or killed it (an exit is expected)
	starts  int
}

// newCluster starts cfg.n nodes and waits until every one sees all of
// them alive and agrees on a leader. The test's cleanup kills them all.
func newCluster(t *testing.T, cfg config) *cluster {
	t.Helper()
	requireFaults(t)
	if cfg.voters == 0 {
		cfg.voters = 3
	}
	if cfg.replicas == 0 {
		cfg.replicas = 3
	}
	c := &cluster{
		t:      t,
		cfg:    cfg,
		dir:    t.TempDir(),
		secret: rand.Text(),
		http: &http.Client{Transport: &http.Transport{
			DialContext:         (&netDialer).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	c.net = newNetwork(t, cfg.n)
	t.Cleanup(c.close) // before the network's cleanup runs: processes die first
	secretFile := filepath.Join(c.dir, "secret")
	if err := os.WriteFile(secretFile, []byte(c.secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.n {
		p := &proc{i: i, id: fmt.Sprintf("node%d", i), logPath: filepath.Join(c.dir, fmt.Sprintf("node%d.log", i))}
		p.dataDir = filepath.Join(c.dir, p.id)
		if cfg.dataDir != nil && cfg.dataDir(i) != "" {
			p.dataDir = cfg.dataDir(i)
		}
		c.nodes = append(c.nodes, p)
		c.start(i)
		if i == 0 {
			c.waitLeader(0)
		}
	}
	c.waitCluster(c.all()...)
	return c
}

// all is every node's index.
func (c *cluster) all() []int {
	idx := make([]int, len(c.nodes))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// others is every node's index but the given ones.
func (c *cluster) others(not ...int) []int {
	var idx []int
	for i := range c.nodes {
		if !contains(not, i) {
			idx = append(idx, i)
		}
	}
	return idx
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// url is node i's Glance API.
func (c *cluster) url(i int) string { return fmt.Sprintf("http://%s:%d", nodeIP(i), apiPort) }

// start starts node i's process on its data directory. Every start but
// node 0's first names the other nodes' peer addresses to join.
func (c *cluster) start(i int) {
	c.t.Helper()
	p := c.nodes[i]
	ip := nodeIP(i)
	args := []string{"netns", "exec", nsName(i), agentBin, "agent",
		"--node-id", p.id,
		"--data-dir", p.dataDir,
		"--api-addr", fmt.Sprintf("%s:%d", ip, apiPort),
		"--peer-addr", fmt.Sprintf("%s:%d", ip, peerPort),
		"--raft-addr", fmt.Sprintf("%s:%d", ip, raftPort),
		"--gossip-addr", fmt.Sprintf("%s:%d", ip, gossipPort),
		"--voters", fmt.Sprint(c.cfg.voters),
		"--replicas", fmt.Sprint(c.cfg.replicas),
		"--cluster-secret-file", filepath.Join(c.dir, "secret"),
		"--chunk-size", fmt.Sprint(256 << 10),
		"--log-level", "info",
	}
	if i > 0 || p.starts > 0 {
		var join []string
		for j := range c.nodes {
			if j != i {
				join = append(join, fmt.Sprintf("%s:%d", nodeIP(j), peerPort))
			}
		}
		args = append(args, "--join", strings.Join(join, ","))
	}
	if c.cfg.args != nil {
		args = append(args, c.cfg.args(i)...)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %d of %s: ip %s\n", p.starts+1, p.id, strings.Join(args, " "))
	cmd := exec.Command("ip", args...) // ip netns exec execs the agent: same pid
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = agentEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start node %d: %v", i, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.stopped, p.exitErr = cmd, done, false, nil
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
}

// agentEnv is the test's environment without P2PGLANCE_* variables (the
// agent reads its flags from them).
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "P2PGLANCE_") {
			env = append(env, kv)
		}
	}
	return env
}

// signal sends sig to node i's process.
func (c *cluster) signal(i int, sig syscall.Signal) {
	c.t.Helper()
	p := c.nodes[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		c.t.Fatalf("node %d is not running", i)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		p.stopped = true
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to node %d: %v", sig, i, err)
	}
}

// kill SIGKILLs node i and waits until it is gone.
func (c *cluster) kill(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGKILL)
	<-c.nodes[i].done
	c.t.Logf("node %d killed (SIGKILL)", i)
}

// stop stops node i with SIGTERM (a clean shutdown) and waits for it.
func (c *cluster) stop(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGTERM)
	select {
	case <-c.nodes[i].done:
	case <-time.After(60 * time.Second):
		c.t.Fatalf("node %d did not stop within a minute of SIGTERM", i)
	}
}

// freeze stops node i's process (SIGSTOP): alive, holding its sockets, not
// running. thaw resumes it.
func (c *cluster) freeze(i int) { c.t.Helper(); c.signal(i, syscall.SIGSTOP) }
func (c *cluster) thaw(i int)   { c.t.Helper(); c.signal(i, syscall.SIGCONT) }

// restart starts node i again on its data directory after kill or stop.
func (c *cluster) restart(i int) {
	c.t.Helper()
	select {
	case <-c.nodes[i].done:
	default:
		c.t.Fatalf("restart node %d: still running", i)
	}
	c.start(i)
}

// checkRunning fails the test if a node the test did not stop has exited
// (a crash).
func (c *cluster) checkRunning() {
	c.t.Helper()
	for i, p := range c.nodes {
		p.mu.Lock()
		stopped, done, err := p.stopped, p.done, p.exitErr
		p.mu.Unlock()
		select {
		case <-done:
			if !stopped {
				c.t.Fatalf("node %d exited by itself (%v); its log ends:\n%s", i, err, c.logTail(i, 40))
			}
		default:
		}
	}
}

// running reports whether node i's process is up.
func (c *cluster) running(i int) bool {
	select {
	case <-c.nodes[i].done:
		return false
	default:
		return true
	}
}

// close kills every process (thawing frozen ones first), checks no
// Raft term had two leaders, and prints the logs' ends when the test
// failed.
func (c *cluster) close() {
	for i, p := range c.nodes {
		p.mu.Lock()
		cmd, done := p.cmd, p.done
		p.mu.Unlock()
		if cmd == nil {
			continue
		}
		select {
		case <-done:
			continue
		default:
		}
		if c.t.Failed() {
			c.t.Logf("node %d still running at the end", i)
		}
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	if !c.t.Failed() {
		c.checkOneLeaderPerTerm()
	}
	if c.t.Failed() {
		for i := range c.nodes {
			c.t.Logf("node %d log ends:\n%s", i, c.logTail(i, 60))
		}
	}
	if *logsDir != "" {
		_ = os.MkdirAll(*logsDir, 0o755)
		for i, p := range c.nodes {
			if b, err := os.ReadFile(p.logPath); err == nil {
				name := fmt.Sprintf("%s-node%d.log", strings.ReplaceAll(c.t.Name(), "/", "_"), i)
				_ = os.WriteFile(filepath.Join(*logsDir, name), b, 0o644)
			}
		}
	}
}

// logTail is the last n lines of node i's log.
func (c *cluster) logTail(i, n int) string {
	b, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond every 100ms until it holds, failing the test
// after timeout with what.
func (c *cluster) eventually(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	c.eventuallyWhy(timeout, what, func() (bool, string) { return cond(), "" })
}

// eventuallyWhy is eventually with a condition that says why it does not
// hold yet (the last reason is in the failure).
func (c *cluster) eventuallyWhy(timeout time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		c.checkRunning()
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting until %s (%s)", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterView is GET /p2p/v1/cluster.
type clusterView struct {
	Self     string `json:"self"`
	Leader   string `json:"leader"`
	Upstream string `json:"catalog_upstream"`
	Nodes    []struct {
		ID          string `json:"id"`
		Role        string `json:"role"`
		Alive       bool   `json:"alive"`
		PinnedBytes int64  `json:"pinned_bytes"`
	} `json:"nodes"`
}

// view asks node i for its view of the cluster.
func (c *cluster) view(i int) (*clusterView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(i)+"/p2p/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster view of node %d: %s", i, resp.Status)
	}
	var v clusterView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// index is the node index of a node id (-1 if unknown).
func (c *cluster) index(id string) int {
	for i, p := range c.nodes {
		if p.id == id {
			return i
		}
	}
	return -1
}

// waitLeader waits until node i names a leader and returns its index.
func (c *cluster) waitLeader(i int) int {
	c.t.Helper()
	leader := -1
	c.eventually(60*time.Second, fmt.Sprintf("node %d knows a leader", i), func() bool {
		v, err := c.view(i)
		if err != nil || v.Leader == "" {
			return false
		}
		leader = c.index(v.Leader)
		return leader >= 0
	})
	return leader
}

// waitCluster waits until every node of idx sees every node of idx alive
// and in the Raft configuration, and all of them name the same leader,
// one of idx; it returns the leader's index.
func (c *cluster) waitCluster(idx ...int) int {
	c.t.Helper()
	leader := -1
	c.eventually(90*time.Second, fmt.Sprintf("nodes %v agree on a leader among them and see each other", idx), func() bool {
		leader = -1
		for _, i := range idx {
			v, err := c.view(i)
			if err != nil || v.Leader == "" {
				return false
			}
			l := c.index(v.Leader)
			if !contains(idx, l) || (leader >= 0 && l != leader) {
				return false
			}
			leader = l
			seen := 0
			for _, n := range v.Nodes {
				if contains(idx, c.index(n.ID)) && n.Alive && n.Role != "none" {
					seen++
				}
			}
			if seen != len(idx) {
				return false
			}
		}
		return true
	})
	return leader
}

// netDialer dials the nodes: a node cut off or frozen does not answer a
// SYN, so the dial gives up instead of hanging.
var netDialer = net.Dialer{Timeout: 5 * time.Second}

// electionWon matches Raft's log line for a won election.
var electionWon = regexp.MustCompile(`election won: term=(\d+)`)

// checkOneLeaderPerTerm reads every node's log (all its runs) and fails
// the test if two nodes won an election for the same term.
func (c *cluster) checkOneLeaderPerTerm() {
	c.t.Helper()
	winners := map[string]int{}
	for i, p := range c.nodes {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			c.t.Errorf("read node %d log: %v", i, err)
			continue
		}
		for _, m := range electionWon.FindAllStringSubmatch(string(b), -1) {
			if w, ok := winners[m[1]]; ok && w != i {
				c.t.Errorf("split brain: nodes %d and %d both won the election for term %s", w, i, m[1])
			}
			winners[m[1]] = i
		}
	}
	c.t.Logf("elections won: %v (term: node)", winners)
}
