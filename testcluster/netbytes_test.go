package testcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestNetBytes: every node counts what it sends and receives on its Raft
// and internal HTTP connections (Metrics), so a benchmark can tell what a
// node costs the network. The leader sends Raft traffic to its
// followers; a write through a follower travels over the internal API
// to the leader.
func TestNetBytes(t *testing.T) {
	c := testcluster.New(t, 3)
	leader := c.WaitForLeader()
	follower := (leader + 1) % c.Size()
	before := c.Node(follower).Metrics()
	name := "counted"
	if _, err := c.Node(follower).CreateImage(context.Background(), &catalog.Image{ID: "5d0e3c55-8f3c-4a57-9d2e-5bb0c1a1f0aa", Name: &name, Status: catalog.StatusQueued, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	after := c.Node(follower).Metrics()
	if after.PeerSentBytes <= before.PeerSentBytes || after.PeerReceivedBytes <= before.PeerReceivedBytes {
		t.Errorf("a forwarded write: follower's internal HTTP bytes sent %d -> %d, received %d -> %d; want both to grow",
			before.PeerSentBytes, after.PeerSentBytes, before.PeerReceivedBytes, after.PeerReceivedBytes)
	}
	lm := c.Node(leader).Metrics()
	if lm.RaftSentBytes == 0 || lm.PeerReceivedBytes == 0 {
		t.Errorf("leader: Raft bytes sent %d, internal HTTP bytes received %d; want both > 0", lm.RaftSentBytes, lm.PeerReceivedBytes)
	}
	for i := range c.Size() {
		if i == leader {
			continue
		}
		if m := c.Node(i).Metrics(); m.RaftReceivedBytes == 0 || m.RaftSentBytes == 0 {
			t.Errorf("follower %d: Raft bytes received %d, sent %d; want both > 0", i, m.RaftReceivedBytes, m.RaftSentBytes)
		}
	}
}
