package faults

import (
	"fmt"
	"testing"
	"time"
)

// relay returns a replica that feeds another replica the catalog log
// (with the child), as their cluster views report it.
func (c *cluster) relay() (relay, child int) {
	c.t.Helper()
	relay, child = -1, -1
	c.eventually(60*time.Second, "a replica pulls the log from another replica", func() bool {
		for i := range c.nodes {
			v, err := c.view(i)
			if err != nil || v.Upstream == "" {
				continue
			}
			up := c.index(v.Upstream)
			uv, err := c.view(up)
			if err == nil && uv.Upstream != "" {
				relay, child = up, i
				return true
			}
		}
		return false
	})
	return relay, child
}

// TestRelayKilledAndFrozen: seven agents, three voters, four replicas in
// one rack with a fan-out of one, so the replicas feed each other in a
// chain. While clients write through every node, a replica that feeds
// another is SIGKILLed and restarted, then one is SIGSTOPped (its port
// still accepts connections, it answers nothing): the replicas below it
// move on to another upstream, and a write through one of them is
// acknowledged and read back there. Afterwards the nodes converge and
// every acknowledged write is on every node.
func TestRelayKilledAndFrozen(t *testing.T) {
	c := newCluster(t, config{n: 7, replicas: 2, args: func(int) []string {
		return []string{"--fanout-degree", "1", "--zone", "z1", "--rack", "r1"}
	}})
	l := newLedger()
	ld := startLoad(c, l, "relay", c.all(), 2, 2)
	defer ld.halt()
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 2 })
	c.waitCluster(c.all()...)

	relay, child := c.relay()
	t.Logf("node %d feeds node %d; killing node %d", relay, child, relay)
	c.kill(relay)
	c.waitProgress(l, 10, "without the relay")
	c.restart(relay)
	c.waitCluster(c.all()...)

	relay, child = c.relay()
	t.Logf("node %d feeds node %d; freezing node %d", relay, child, relay)
	c.freeze(relay)
	for k := range 3 {
		id, a := l.create(c, child, "", fmt.Sprintf("below-frozen-relay-%d", k))
		if id == "" {
			t.Fatalf("create through node %d below the frozen relay: %d %s", child, a.status, a.body)
		}
		if got := c.do(child, "GET", "/v2/images/"+id, nil, ""); got.status != 200 {
			t.Fatalf("node %d does not read back its own write: %d", child, got.status)
		}
	}
	c.waitProgress(l, 10, "with a frozen relay")
	c.thaw(relay)

	ld.halt()
	c.waitConverged(2*time.Minute, c.all()...)
	l.verify(c, c.all()...)
}
