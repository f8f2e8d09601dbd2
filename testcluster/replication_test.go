package testcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// chain configures the log's tree with degree 1: inside a rack every
// replica feeds the next, so a few nodes make a deep tree.
func chain(every int) testcluster.Option {
	return testcluster.WithConfig(func(_ int, c *node.Config) {
		c.FanoutDegree = 1
		if every > 0 {
			c.CheckpointEvery = every
		}
	})
}

// createN creates n queued images through the node at url and returns
// their ids.
func createN(t *testing.T, url string, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		img, err := images.Create(context.Background(), glance(url, ""), images.CreateOpts{Name: fmt.Sprintf("%s-%d", prefix, i), DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
		if err != nil {
			t.Fatalf("create %s-%d through %s: %v", prefix, i, url, err)
		}
		ids = append(ids, img.ID)
	}
	return ids
}

// seenByAll waits until every running node's replica holds every image.
func seenByAll(t *testing.T, c *testcluster.Cluster, ids []string) {
	t.Helper()
	testcluster.WaitUntil(t, 20*time.Second, fmt.Sprintf("every node holds the %d images", len(ids)), func() bool {
		for i := range c.Size() {
			n := c.Node(i)
			if n == nil {
				continue
			}
			for _, id := range ids {
				if _, err := n.Image(context.Background(), id); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// sameCatalog checks that every running node applied the same log: the
// same image at the same revision.
func sameCatalog(t *testing.T, c *testcluster.Cluster, ids []string) {
	t.Helper()
	for _, id := range ids {
		var rev uint64
		for i := range c.Size() {
			n := c.Node(i)
			if n == nil {
				continue
			}
			img, err := n.Image(context.Background(), id)
			if err != nil {
				t.Fatalf("node %d: image %s: %v", i, id, err)
			}
			if rev == 0 {
				rev = img.Revision
			} else if img.Revision != rev {
				t.Fatalf("node %d holds image %s at revision %d, another node at %d", i, id, img.Revision, rev)
			}
		}
	}
}

// TestReplicasPullTheLogFromPeers: beyond the three voters every node is
// a replica outside Raft; the log reaches the deep end of the tree
// through other replicas, and writes through any node are read back
// there at once and reach every node at the same revision.
func TestReplicasPullTheLogFromPeers(t *testing.T) {
	c := testcluster.New(t, 7, testcluster.WithVoters(3), testcluster.WithRacks("r1"), chain(0))
	for i := range 3 {
		if c.Node(i).IsReplica() {
			t.Fatalf("node %d is a replica; the first three vote", i)
		}
	}
	replicaUpstream := false
	testcluster.WaitUntil(t, 20*time.Second, "nodes 3-6 are replicas, each pulling from an upstream", func() bool {
		replicaUpstream = false
		for i := 3; i < 7; i++ {
			n := c.Node(i)
			up := n.CatalogUpstream()
			if !n.IsReplica() || up == "" {
				return false
			}
			for j := 3; j < 7; j++ {
				if c.Node(j).ID() == up {
					replicaUpstream = true
				}
			}
		}
		return replicaUpstream
	})
	// Writes through a voter and through the replica deepest in the
	// chain; the writer reads its own write back at once.
	ids := createN(t, c.URL(0), "v", 5)
	for i := 3; i < 7; i++ {
		got := createN(t, c.URL(i), fmt.Sprintf("r%d", i), 3)
		for _, id := range got {
			if _, err := c.Node(i).Image(context.Background(), id); err != nil {
				t.Fatalf("node %d does not read its own write %s: %v", i, id, err)
			}
		}
		ids = append(ids, got...)
		// The leader's answers carried the entries up to each write:
		// the writer did not wait for them to come down the chain.
		if n := c.Node(i).Metrics().CatchUps; n == 0 {
			t.Errorf("replica %d forwarded 3 writes and caught up with none of their answers", i)
		}
	}
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
	// The leader fed none of them: replicas pull from the other voters
	// and from each other.
	if l := c.Leader(); c.Node(l).Metrics().LogPollsServed != 0 {
		t.Errorf("the leader answered %d log polls", c.Node(l).Metrics().LogPollsServed)
	}
}

// TestRelayLoss stops the replica that feeds the others: they move on to
// the next upstream in their ranking and keep up.
func TestRelayLoss(t *testing.T) {
	c := testcluster.New(t, 7, testcluster.WithVoters(3), testcluster.WithRacks("r1"), chain(0))
	// The relay: a replica that another replica pulls from.
	relay := -1
	testcluster.WaitUntil(t, 20*time.Second, "a replica feeds another", func() bool {
		for i := 3; i < 7; i++ {
			for j := 3; j < 7; j++ {
				if c.Node(j).CatalogUpstream() == c.Node(i).ID() {
					relay = i
					return true
				}
			}
		}
		return false
	})
	ids := createN(t, c.URL(0), "before", 3)
	seenByAll(t, c, ids)
	c.Stop(relay)
	ids = append(ids, createN(t, c.URL(1), "after", 3)...)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
}

// TestReplicaWritesAcrossLeaderChange stops the leader: writes through a
// replica (forwarded, redirected to the new leader) keep working once a
// new one is elected, and reach every node.
func TestReplicaWritesAcrossLeaderChange(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithVoters(3))
	ids := createN(t, c.URL(4), "before", 2)
	leader := c.Leader()
	c.Stop(leader)
	c.WaitForLeader()
	ids = append(ids, createN(t, c.URL(4), "after", 3)...)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
}

// TestLaggingReplicaInstallsACheckpoint stops a replica while the log
// moves on past several checkpoints: restarted, it is too far behind
// for its upstream's log and installs a certified checkpoint from a peer
// (verified against the committed digest), then continues from the log.
// Every node certifies the checkpoints it captured: none diverged.
func TestLaggingReplicaInstallsACheckpoint(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithVoters(3), chain(10))
	ids := createN(t, c.URL(0), "a", 3)
	seenByAll(t, c, ids)
	c.Stop(4)
	ids = append(ids, advanceCheckpoints(t, c, 3)...)
	c.Restart(4)
	ids = append(ids, createN(t, c.URL(4), "c", 2)...)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
	if got := c.Node(4).Metrics().CheckpointInstalls; got == 0 {
		t.Fatal("the restarted replica caught up without installing a checkpoint")
	}
	for i := range c.Size() {
		if d := c.Node(i).Metrics().CheckpointsDiverged; d != 0 {
			t.Errorf("node %d: %d checkpoints diverged", i, d)
		}
	}
	if l := c.Leader(); c.Node(l).Metrics().CheckpointsServed != 0 {
		t.Errorf("the leader served %d checkpoints", c.Node(l).Metrics().CheckpointsServed)
	}
}

// advanceCheckpoints writes through node 3 until every running node
// certified n more checkpoints (each keeps the log back to its older one
// only), and returns the ids created.
func advanceCheckpoints(t *testing.T, c *testcluster.Cluster, n int64) []string {
	t.Helper()
	base := map[int]int64{}
	for i := range c.Size() {
		if c.Node(i) != nil {
			base[i] = c.Node(i).Metrics().CheckpointsCertified
		}
	}
	advanced := func() bool {
		for i, b := range base {
			if c.Node(i).Metrics().CheckpointsCertified < b+n {
				return false
			}
		}
		return true
	}
	var ids []string
	for round := 0; !advanced(); round++ {
		if round == 30 {
			t.Fatalf("the nodes did not certify %d checkpoints in 30 rounds of writes", n)
		}
		ids = append(ids, createN(t, c.URL(3), fmt.Sprintf("adv%d", round), 12)...)
		deadline := time.Now().Add(3 * time.Second)
		for !advanced() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ids
}

// corruptCheckpoints flips a byte in every checkpoint a node receives
// while on.
type corruptCheckpoints struct {
	on   atomic.Bool
	hits atomic.Int64
}

func (cc *corruptCheckpoints) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !cc.on.Load() || !strings.Contains(r.URL.Path, "/checkpoints/") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		body[len(body)/3] ^= 0x20
		cc.hits.Add(1)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// TestCorruptCheckpointIsNeverInstalled: a replica that receives
// checkpoints whose bytes do not match the certified digest installs
// none of them (its catalog stays as it was), and catches up once the
// bytes are right.
func TestCorruptCheckpointIsNeverInstalled(t *testing.T) {
	cc := &corruptCheckpoints{}
	c := testcluster.New(t, 5, testcluster.WithVoters(3), chain(10), testcluster.WithPeerTransport(4, cc))
	ids := createN(t, c.URL(0), "a", 3)
	seenByAll(t, c, ids)
	c.Stop(4)
	later := advanceCheckpoints(t, c, 3)
	cc.on.Store(true)
	c.Restart(4)
	testcluster.WaitUntil(t, 20*time.Second, "the replica was sent corrupt checkpoints", func() bool { return cc.hits.Load() >= 2 })
	if got := c.Node(4).Metrics().CheckpointInstalls; got != 0 {
		t.Fatalf("the replica installed %d corrupt checkpoints", got)
	}
	if _, err := c.Node(4).Image(context.Background(), later[len(later)-1]); err == nil {
		t.Fatal("the replica holds an image it could only have from a corrupt checkpoint")
	}
	cc.on.Store(false)
	ids = append(ids, later...)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
}

// TestCorruptLocalCheckpointIsDropped: a replica whose own checkpoint
// file was damaged while it was down does not restore from it; it gets
// a certified one from a peer instead.
func TestCorruptLocalCheckpointIsDropped(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithVoters(3), chain(10))
	ids := advanceCheckpoints(t, c, 2)
	seenByAll(t, c, ids)
	c.Stop(4)
	files, _ := filepath.Glob(filepath.Join(c.DataDir(4), "catalog", "ckpt-*[0-9]"))
	if len(files) == 0 {
		t.Fatal("the replica kept no checkpoint")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			t.Fatalf("read %s: %v", f, err)
		}
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ids = append(ids, advanceCheckpoints(t, c, 3)...)
	c.Restart(4)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
	if got := c.Node(4).Metrics().CheckpointInstalls; got == 0 {
		t.Fatal("the replica caught up without a checkpoint from a peer")
	}
}

// TestReplicaPartitioned cuts a replica off: its writes fail, reads stay
// local; healed, it catches up with what was written meanwhile.
func TestReplicaPartitioned(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithVoters(3))
	ids := createN(t, c.URL(0), "a", 2)
	seenByAll(t, c, ids)
	c.Partition([]int{0, 1, 2, 3}, []int{4})
	ids = append(ids, createN(t, c.URL(3), "b", 3)...)
	// The cut-off replica still answers reads from its own catalog.
	if _, err := c.Node(4).Image(context.Background(), ids[0]); err != nil {
		t.Fatalf("partitioned replica lost an image: %v", err)
	}
	// Long enough for gossip to declare each side dead to the other:
	// memberlist never contacts a dead node again, so only the replica's
	// rejoin of the voters (after several passes) brings the sides
	// together.
	c.Eventually(30*time.Second, "each side declares the other dead", func() bool {
		return c.Node(4).AliveMembers() == 1 && c.Node(0).AliveMembers() == 4
	})
	c.Heal()
	c.WaitMembers(5)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
}

// TestReplicaRestartRejoinsGossip: a replica restarts without a Raft
// address; its join only brings it back into gossip.
func TestReplicaRestartRejoinsGossip(t *testing.T) {
	c := testcluster.New(t, 4, testcluster.WithVoters(3))
	c.Restart(3)
	c.WaitMembers(4)
	if !c.Node(3).IsReplica() {
		t.Fatal("node 3 restarted as a voter")
	}
}

// TestFullRestart stops every node and starts them all again: voters from
// Raft, replicas from their own certified checkpoint and the log their
// peers kept.
func TestFullRestart(t *testing.T) {
	c := testcluster.New(t, 6, testcluster.WithVoters(3), chain(10))
	ids := createN(t, c.URL(5), "a", 30)
	seenByAll(t, c, ids)
	// Each replica holds a certified checkpoint: one it captured and
	// certified, or (one that started late, its upstream's log already
	// trimmed) one it installed from a peer.
	testcluster.WaitUntil(t, 20*time.Second, "every replica holds a certified checkpoint", func() bool {
		for i := 3; i < 6; i++ {
			if m := c.Node(i).Metrics(); m.CheckpointsCertified == 0 && m.CheckpointInstalls == 0 {
				return false
			}
		}
		return true
	})
	for i := range c.Size() {
		c.Stop(i)
	}
	for i := range c.Size() {
		c.Restart(i)
	}
	leader := c.WaitForLeader()
	c.WaitMembers(c.Size()) // gossip formed again, replicas included
	// Every replica restored its own checkpoint and catches up with the
	// log from its upstream before the next writes.
	want := c.Node(leader).AppliedIndex()
	testcluster.WaitUntil(t, 30*time.Second, "the replicas catch up after the restart", func() bool {
		for i := 3; i < 6; i++ {
			if c.Node(i).AppliedIndex() < want {
				return false
			}
		}
		return true
	})
	ids = append(ids, createN(t, c.URL(4), "b", 3)...)
	seenByAll(t, c, ids)
	sameCatalog(t, c, ids)
	for i := 3; i < 6; i++ {
		if !c.Node(i).IsReplica() {
			t.Errorf("node %d restarted as a voter", i)
		}
	}
}
