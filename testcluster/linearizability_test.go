package testcluster_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/p2pglance/p2pglance/testcluster"
)

// TestLinearizability runs catalog operations (create, compare-and-set
// patch, delete, linearizable and plain get) from concurrent clients
// against all three nodes of a real cluster, kills the Raft leader a third
// of the way through and restarts it at two thirds, then reads every
// image on every node, and checks the whole history with porcupine
// against the model in catalogmodel_test.go.
func TestLinearizability(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const (
		clients = 6
		total   = 360
	)
	c := testcluster.New(t, 3)
	d := newCatDriver(c, 3)
	ctx := context.Background()

	var done atomic.Int64
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			for done.Add(1) <= total {
				d.randomOp(ctx, cl, rng)
			}
		}()
	}

	// The fault: the leader dies a third of the way through and comes
	// back at two thirds (a client's op count is the clock, not time).
	waitOps := func(n int64) {
		c.Eventually(2*time.Minute, "the clients make progress", func() bool { return done.Load() >= n })
	}
	waitOps(total / 3)
	leader := c.WaitForLeader()
	d.stop(leader)
	t.Logf("stopped leader node %d after %d operations", leader, done.Load())
	before := d.okWrites()
	waitOps(2 * total / 3)
	during := d.okWrites() - before
	d.restart(leader)
	t.Logf("restarted node %d after %d operations", leader, done.Load())
	wg.Wait()

	c.WaitForLeader()
	c.WaitMembers(3)
	d.finalReads(ctx, clients)

	if errs := d.errors(); len(errs) > 0 {
		t.Fatalf("%d unexpected answers, first: %v", len(errs), errs[:min(len(errs), 10)])
	}
	n := d.check(t)
	t.Logf("porcupine: %d operations linearizable; counts %v", n, d.counts)
	// The run must have exercised what it claims to check.
	if during == 0 {
		t.Fatalf("no write succeeded while the old leader was down")
	}
	for _, k := range []string{"create ok", "cas ok", "cas precondition", "delete ok", "get ok", "get 404", "read ok"} {
		if d.counts[k] == 0 {
			t.Errorf("the run had no %q operation; counts %v", k, d.counts)
		}
	}
}

// okWrites counts the writes acknowledged so far.
func (d *catDriver) okWrites() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts["create ok"] + d.counts["cas ok"] + d.counts["delete ok"]
}

// TestCatalogModelRejects feeds the model histories that a correct
// catalog could never produce, and a few it could: the checker must tell
// them apart.
func TestCatalogModelRejects(t *testing.T) {
	const k = "img"
	inf := int64(math.MaxInt64)
	op := func(call, ret int64, in catInput, out catOutput) porcupine.Operation {
		in.Key = k
		return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
	}
	create := func(tok string) catInput { return catInput{Kind: opCreate, Tok: tok, Inc: "n0.0"} }
	cas := func(old, tok, inc string) catInput { return catInput{Kind: opCAS, Old: old, Tok: tok, Inc: inc} }
	get := catInput{Kind: opGet, Inc: "n2.0"}
	read := func(inc string) catInput { return catInput{Kind: opRead, Inc: inc} }
	ok := catOutput{Res: resOK}
	saw := func(tok string) catOutput { return catOutput{Res: resOK, Tok: tok} }
	notFound := catOutput{Res: resNotFound}

	cases := []struct {
		name string
		good bool
		h    []porcupine.Operation
	}{
		{"stale linearizable read", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n0.0"), ok),
			op(40, 50, get, saw("a")),
		}},
		{"acknowledged create lost", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, get, notFound),
		}},
		{"create answered 409 but it was its own", false, []porcupine.Operation{
			op(0, 10, create("a"), catOutput{Res: resExists}),
			op(20, 30, get, saw("a")),
		}},
		{"two compare-and-sets from the same token both succeed", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 40, cas("a", "b", "n0.0"), ok),
			op(20, 40, cas("a", "c", "n1.0"), ok),
		}},
		{"deleted id created again", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, catInput{Kind: opDelete, Inc: "n1.0"}, ok),
			op(40, 50, create("b"), ok),
		}},
		{"plain read goes back in time on one node", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n0.0"), ok),
			op(40, 50, read("n1.0"), saw("b")),
			op(60, 70, read("n1.0"), saw("a")),
		}},
		{"plain read misses the node's own acknowledged write", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n1.0"), ok),
			op(40, 50, read("n1.0"), saw("a")),
		}},
		{"plain read of a value never written", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, read("n1.0"), saw("z")),
		}},
		{"plain read from the future", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, read("n1.0"), saw("b")),
			op(40, 50, cas("a", "b", "n0.0"), ok),
		}},
		{"stale plain read on another node", true, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n0.0"), ok),
			op(40, 50, read("n1.0"), saw("a")),
			op(60, 70, read("n1.0"), saw("b")),
		}},
		{"a restarted node may serve an older state", true, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n1.0"), ok),
			op(40, 50, read("n1.1"), saw("a")),
		}},
		{"a write of unknown outcome takes effect late", true, []porcupine.Operation{
			op(0, inf, create("a"), catOutput{Res: resUnknown}),
			op(10, 20, get, notFound),
			op(30, 40, get, saw("a")),
		}},
		{"a write of unknown outcome never takes effect", true, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, inf, cas("a", "b", "n0.0"), catOutput{Res: resUnknown}),
			op(30, 40, cas("a", "c", "n1.0"), ok),
			op(50, 60, get, saw("c")),
		}},
		{"concurrent compare-and-sets, one wins", true, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 40, cas("a", "b", "n0.0"), ok),
			op(20, 40, cas("a", "c", "n1.0"), catOutput{Res: resPrecond}),
			op(25, 35, get, saw("b")),
		}},
	}
	for _, tc := range cases {
		got := porcupine.CheckOperations(catalogModel, tc.h)
		if got != tc.good {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.good)
		}
	}
}
