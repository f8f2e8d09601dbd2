package faults

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestFreezeLeader: while clients write through every node, the leader is
// frozen (SIGSTOP) with an upload through it under way, for longer than
// the election timeout: alive, its sockets open, not running. The others
// elect a leader and take writes; writes sent to the frozen node wait.
// Then it resumes (SIGCONT): it steps down and follows the new leader, no
// Raft term has two leaders, the writes it held are answered, and each
// write is applied at most once and, if acknowledged, is on every node.
func TestFreezeLeader(t *testing.T) {
	c := newCluster(t, config{n: 3, replicas: 2})
	l := newLedger()
	ld := startLoad(c, l, "freeze", c.all(), 3, 2)
	defer ld.halt()
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 3 })

	old := c.waitCluster(c.all()...)
	c.waitUploading(l, old)
	ld.avoid(old)
	c.freeze(old)
	frozenAt := time.Now()
	// Creates sent to the frozen leader wait in its socket backlog.
	var wg sync.WaitGroup
	held := make([]answer, 5)
	for k := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, held[k] = l.create(c, old, "", fmt.Sprintf("held-%d", k))
		}()
	}
	leader := c.waitCluster(c.others(old)...)
	t.Logf("leader node %d frozen; node %d elected after %s", old, leader, time.Since(frozenAt).Round(time.Millisecond))
	c.waitProgress(l, 20, "while the old leader is frozen")
	c.thaw(old)
	t.Logf("node %d resumed after %s frozen", old, time.Since(frozenAt).Round(time.Millisecond))

	c.eventually(30*time.Second, fmt.Sprintf("node %d follows node %d", old, leader), func() bool {
		v, err := c.view(old)
		return err == nil && v.Leader == c.nodes[leader].id
	})
	wg.Wait()
	for k, a := range held {
		t.Logf("create sent to the frozen leader: held-%d %v", k, answerStatus(a))
		if a.status != http.StatusCreated && a.status != http.StatusServiceUnavailable {
			t.Errorf("create held by the frozen leader answered %v; want 201 or 503", a)
		}
	}
	ld.use(old)
	c.waitProgress(l, 10, "after the old leader resumed")
	ld.halt()
	if got := c.waitCluster(c.all()...); got != leader {
		t.Logf("leadership moved on to node %d", got)
	}
	c.waitConverged(2*time.Minute, c.all()...)
	l.verify(c, c.all()...)
}

// answerStatus is a short form of an answer for the log.
func answerStatus(a answer) string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	return fmt.Sprintf("%d after %s", a.status, a.took.Round(time.Millisecond))
}
