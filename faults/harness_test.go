package faults

import (
	"testing"
	"time"
)

// TestHarness starts three agents, writes through each under load, and
// checks the ledger on all of them: the harness itself works (processes,
// namespaces, the cluster view, the ledger's checks).
func TestHarness(t *testing.T) {
	c := newCluster(t, config{n: 3})
	l := newLedger()
	ld := startLoad(c, l, "smoke", c.all(), 2, 1)
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 4 })
	ld.halt()
	c.waitConverged(30*time.Second, c.all()...)
	l.verify(c, c.all()...)
}
