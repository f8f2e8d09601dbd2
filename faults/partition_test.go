package faults

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// writeTimeout is the agents' WriteTimeout (node.Config's default, not a
// flag): how long a write may wait for a leader before 503.
const writeTimeout = 10 * time.Second

// refusedWrites sends, at once, a create, a patch, an upload and a delete
// through nodes cut off from the leader (target i of targets takes write
// i mod len), and checks each answers 503 within the write timeout (a few
// seconds' grace for the forward and the answer). It returns the id the
// create asked for.
func refusedWrites(c *cluster, l *ledger, targets []int, patchID, queuedID, deleteID string) string {
	c.t.Helper()
	createID := uuid.NewString()
	writes := []func(i int) answer{
		func(i int) answer { _, a := l.create(c, i, createID, "refused-"+createID); return a },
		func(i int) answer { return l.patch(c, i, patchID, "refused", "x") },
		func(i int) answer { return l.upload(c, i, queuedID, randomData(77, 600<<10), false) },
		func(i int) answer { return c.do(i, http.MethodDelete, "/v2/images/"+deleteID, nil, "") },
	}
	answers := make([]answer, len(writes))
	var wg sync.WaitGroup
	for k, w := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[k] = w(targets[k%len(targets)])
		}()
	}
	wg.Wait()
	for k, a := range answers {
		c.t.Logf("write %d through node %d, cut off from the leader: %s", k, targets[k%len(targets)], answerStatus(a))
		if a.status != http.StatusServiceUnavailable || a.took > writeTimeout+5*time.Second {
			c.t.Errorf("write %d through node %d cut off from the leader answered %v; want 503 within %s", k, targets[k%len(targets)], a, writeTimeout)
		}
	}
	return createID
}

// checkRefused checks, on every node, that the refused writes left no
// trace: no image createID, no "refused" property, queuedID still
// queued, deleteID still there.
func checkRefused(c *cluster, createID, patchID, queuedID, deleteID string) {
	c.t.Helper()
	for i := range c.nodes {
		imgs, err := c.list(i)
		if err != nil {
			c.t.Fatal(err)
		}
		byID := map[string]image{}
		for _, img := range imgs {
			byID[img.ID] = img
		}
		if _, ok := byID[createID]; ok {
			c.t.Errorf("node %d: the create refused with 503 was applied", i)
		}
		if v, ok := byID[patchID].props["refused"]; ok {
			c.t.Errorf("node %d: the patch refused with 503 was applied (refused=%v)", i, v)
		}
		if st := byID[queuedID].Status; st != "queued" {
			c.t.Errorf("node %d: the image whose upload was refused with 503 is %q", i, st)
		}
		if _, ok := byID[deleteID]; !ok {
			c.t.Errorf("node %d: the delete refused with 503 was applied", i)
		}
	}
}

// waitImages waits until every node shows the images ids.
func (c *cluster) waitImages(ids ...string) {
	c.t.Helper()
	c.eventuallyWhy(30*time.Second, fmt.Sprintf("every node shows images %v", ids), func() (bool, string) {
		for i := range c.nodes {
			for _, id := range ids {
				if a := c.do(i, http.MethodGet, "/v2/images/"+id, nil, ""); a.status != http.StatusOK {
					return false, fmt.Sprintf("node %d: image %s: %v", i, id, a)
				}
			}
		}
		return true, ""
	})
}

// TestPartitions: five voters under load. First a two-way partition cuts
// the leader and one other node off from the other three: the three elect
// a leader and take writes, the two answer every write 503 within the
// write timeout and apply none. Then, healed, a one-way cut drops every
// packet the (new) leader sends: the others elect again and take writes,
// the cut-off leader steps down and refuses writes with 503. After each
// heal the nodes converge with every acknowledged write and nothing twice.
func TestPartitions(t *testing.T) {
	c := newCluster(t, config{n: 5, voters: 5, replicas: 2})
	l := newLedger()
	ld := startLoad(c, l, "part", c.all(), 2, 1)
	defer ld.halt()
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 3 })
	setup := func(name string) (patchID, queuedID, deleteID string) {
		ids := make([]string, 3)
		for k := range ids {
			if ids[k], _ = l.create(c, k, "", fmt.Sprintf("%s-%d", name, k)); ids[k] == "" {
				t.Fatalf("create %s-%d failed", name, k)
			}
		}
		return ids[0], ids[1], ids[2]
	}

	// A two-way partition: {leader, one} | {three}.
	patchID, queuedID, deleteID := setup("target-a")
	c.waitImages(patchID, queuedID, deleteID)
	leader := c.waitCluster(c.all()...)
	minority := []int{leader, (leader + 1) % 5}
	majority := c.others(minority...)
	for _, i := range minority {
		ld.avoid(i)
	}
	c.net.partition(minority, majority)
	t.Logf("partition: %v | %v", minority, majority)
	newLeader := c.waitCluster(majority...)
	t.Logf("the majority elected node %d", newLeader)
	createID := refusedWrites(c, l, minority, patchID, queuedID, deleteID)
	c.waitProgress(l, 20, "by the majority")
	c.net.heal()
	for _, i := range minority {
		ld.use(i)
	}
	c.waitCluster(c.all()...)
	c.waitProgress(l, 10, "after healing the partition")
	refusedA := []string{createID, patchID, queuedID, deleteID}

	// A one-way cut: the leader's packets to every other node are dropped;
	// theirs still reach it.
	patchID, queuedID, deleteID = setup("target-b")
	c.waitImages(patchID, queuedID, deleteID)
	leader = c.waitCluster(c.all()...)
	ld.avoid(leader)
	c.net.cut(leader, c.others(leader)...)
	t.Logf("one-way cut: node %d's packets to the others dropped", leader)
	newLeader = c.waitCluster(c.others(leader)...)
	t.Logf("the others elected node %d", newLeader)
	c.eventually(30*time.Second, fmt.Sprintf("cut-off node %d is no longer leader", leader), func() bool {
		v, err := c.view(leader)
		return err == nil && v.Leader != c.nodes[leader].id
	})
	createID = refusedWrites(c, l, []int{leader}, patchID, queuedID, deleteID)
	c.waitProgress(l, 20, "by the others")
	c.net.heal()
	ld.use(leader)
	c.waitCluster(c.all()...)
	c.waitProgress(l, 10, "after healing the one-way cut")
	ld.halt()
	c.waitConverged(2*time.Minute, c.all()...)
	checkRefused(c, refusedA[0], refusedA[1], refusedA[2], refusedA[3])
	checkRefused(c, createID, patchID, queuedID, deleteID)
	l.verify(c, c.all()...)
}
