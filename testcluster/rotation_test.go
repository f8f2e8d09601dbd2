package testcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/clusterauth"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/nodetest"
	"github.com/p2pglance/p2pglance/testcluster"
)

// rotationLoad uploads images through one node and reads them back
// through another, over and over, counting the round trips that worked.
type rotationLoad struct {
	urls []string // the nodes' API endpoints (fixed across restarts)
	mu   sync.Mutex
	ok   int
	errs map[string]int // what went wrong, for the log
}

func (l *rotationLoad) done() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

func (l *rotationLoad) record(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.ok++
		return
	}
	l.errs[err.Error()]++
}

// run does round trips until stop closes: create and upload through one
// node, then (once that node's peer sees it active) download through
// the next, which fetches the chunks it does not hold from the others.
func (l *rotationLoad) run(worker int, stop <-chan struct{}) {
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		from, to := l.urls[(worker+k)%len(l.urls)], l.urls[(worker+k+1)%len(l.urls)]
		l.record(l.roundTrip(from, to, randomBytes(uint64(1000*worker+k), 600<<10+k)))
	}
}

func (l *rotationLoad) roundTrip(from, to string, data []byte) error {
	code, m := sendJSON(http.MethodPost, from+"/v2/images", `{"name": "rotation", "disk_format": "raw", "container_format": "bare"}`, "application/json")
	id, _ := m["id"].(string)
	if code != http.StatusCreated || id == "" {
		return fmt.Errorf("create: status %d", code)
	}
	if !putData(from, id, bytes.NewReader(data), len(data)) {
		return fmt.Errorf("upload refused")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, m := sendJSON(http.MethodGet, to+"/v2/images/"+id, "", "application/json")
		if code == http.StatusOK && m["status"] == "active" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not active on the reading node: status %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := testcluster.Client.Get(to + "/v2/images/" + id + "/file")
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		return fmt.Errorf("download: status %d, %d of %d bytes, %v", resp.StatusCode, len(got), len(data), err)
	}
	return nil
}

// TestSecretRotation: the cluster secret changes by rolling restarts,
// with uploads and peer downloads going on throughout: every node is
// restarted with the new secret and the old one as previous, then each
// again with the new one alone. No node ever refuses another's request
// or Raft connection, gossip keeps every node alive in every other's
// view, and the load keeps working after every restart. At the end a
// node that knows only the old secret is refused on every port.
func TestSecretRotation(t *testing.T) {
	const oldSecret, newSecret = "the old secret of the cluster", "the new secret of the cluster"
	c := testcluster.New(t, 3, testcluster.WithSecret(oldSecret), testcluster.WithReplicas(2), smallChunks())
	load := &rotationLoad{errs: map[string]int{}}
	for i := range 3 {
		load.urls = append(load.urls, c.URL(i))
	}
	var stopped int64 // refusals counted by node instances since stopped
	refusals := func() int64 {
		total := stopped
		for i := range 3 {
			if n := c.Node(i); n != nil {
				m := n.Metrics()
				total += m.AuthRejected + m.RaftRejected
			}
		}
		return total
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); load.run(w, stop) }()
	}
	defer func() {
		close(stop)
		wg.Wait()
		t.Logf("%d round trips; failures (nodes restarting): %v", load.done(), load.errs)
	}()
	c.Eventually(60*time.Second, "the load to get going", func() bool { return load.done() >= 2 })

	restart := func(i int, secret, previous string) {
		t.Helper()
		m := c.Node(i).Metrics()
		c.Stop(i)
		stopped += m.AuthRejected + m.RaftRejected
		c.Member(i).Config.ClusterSecret, c.Member(i).Config.ClusterSecretPrevious = secret, previous
		c.Restart(i)
		c.WaitMembers(3)
		c.WaitForLeader()
		before := load.done()
		c.Eventually(60*time.Second, fmt.Sprintf("round trips after node %d restarted", i), func() bool { return load.done() >= before+3 })
		for j := range 3 {
			if got := c.Node(j).AliveMembers(); got != 3 {
				t.Errorf("after node %d restarted, node %d sees %d live members", i, j, got)
			}
		}
		if got := refusals(); got != 0 {
			t.Fatalf("after node %d restarted (secret %q, previous %q): %d refusals", i, secret, previous, got)
		}
	}
	for i := range 3 {
		restart(i, newSecret, oldSecret)
	}
	for i := range 3 {
		restart(i, newSecret, "")
	}

	// A node with only the old secret: its join is refused, its Raft
	// handshake fails, its gossip is dropped.
	before := c.Node(0).Metrics().AuthRejected
	out := startOutsider(t, oldSecret, []string{c.Member(0).Config.PeerAddr})
	c.Eventually(20*time.Second, "node 0 refuses a node with the old secret", func() bool { return c.Node(0).Metrics().AuthRejected > before })
	if got := out.AliveMembers(); got != 1 {
		t.Errorf("the node with the old secret gossips with %d members", got)
	}
	conn, err := net.DialTimeout("tcp", c.Member(1).Config.RaftAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := clusterauth.ClientHandshake(conn, [][]byte{keysOf(t, oldSecret).Raft}, 5*time.Second); err == nil {
		t.Error("a Raft handshake with the old secret passed")
	}
	g, err := gossip.New(gossip.Config{Meta: gossip.Meta{ID: "old-gossip"}, BindAddr: "127.0.0.1:0", SecretKey: keysOf(t, oldSecret).Gossip, Timing: nodetest.Timing().Gossip})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := g.Join(ctx, []string{c.Node(2).GossipAddr()}); err == nil {
		t.Error("gossip with the old secret's key joined")
	}
}
