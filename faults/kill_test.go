package faults

import (
	"fmt"
	"testing"
	"time"
)

// waitProgress waits until the clients had n more writes acknowledged.
func (c *cluster) waitProgress(l *ledger, n int, what string) {
	c.t.Helper()
	start := l.acked()
	c.eventually(60*time.Second, fmt.Sprintf("%d more writes are acknowledged %s", n, what), func() bool { return l.acked() >= start+n })
}

// waitUploading waits until an upload through node i is under way.
func (c *cluster) waitUploading(l *ledger, i int) {
	c.t.Helper()
	c.eventually(60*time.Second, fmt.Sprintf("an upload through node %d is under way", i), func() bool { return l.uploading(i) > 0 })
}

// durableHolder is the node other than not holding the most bytes as
// durable copies, as the cluster view reports them.
func (c *cluster) durableHolder(not int) int {
	c.t.Helper()
	holder := -1
	c.eventually(30*time.Second, "a node other than the leader holds durable copies", func() bool {
		v, err := c.view(not)
		if err != nil {
			return false
		}
		var most int64
		for _, n := range v.Nodes {
			if i := c.index(n.ID); i != not && n.PinnedBytes > most {
				holder, most = i, n.PinnedBytes
			}
		}
		return holder >= 0
	})
	return holder
}

// TestKillLeaderAndHolder: while clients upload and write metadata
// through every node, the leader is SIGKILLed, the others elect a leader
// and take writes, the old leader restarts; then a durable holder is
// SIGKILLed and restarts. Afterwards the nodes converge, every
// acknowledged write is on every node, nothing was applied twice, and
// every active image downloads byte-exact from every node.
func TestKillLeaderAndHolder(t *testing.T) {
	c := newCluster(t, config{n: 4, replicas: 2})
	l := newLedger()
	ld := startLoad(c, l, "kill", c.all(), 3, 2)
	defer ld.halt()
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 3 })

	leader := c.waitCluster(c.all()...)
	c.waitUploading(l, leader)
	c.kill(leader)
	newLeader := c.waitCluster(c.others(leader)...)
	t.Logf("leader node %d killed; node %d leads", leader, newLeader)
	c.waitProgress(l, 10, "without the old leader")
	c.restart(leader)
	c.waitCluster(c.all()...)
	c.waitProgress(l, 10, "after the old leader's restart")

	leader = c.waitCluster(c.all()...)
	holder := c.durableHolder(leader)
	c.waitUploading(l, holder)
	c.kill(holder)
	c.waitCluster(c.others(holder)...)
	t.Logf("durable holder node %d killed", holder)
	c.waitProgress(l, 10, "without the durable holder")
	c.restart(holder)
	c.waitCluster(c.all()...)
	c.waitProgress(l, 10, "after the holder's restart")

	ld.halt()
	c.waitConverged(2*time.Minute, c.all()...)
	l.verify(c, c.all()...)
}
