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

	"github.com/p2pglance/p2pglance/api"
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

	// The read barrier header takes one value; anything else is a 400.
	cl := newAPIClient(c)
	cl.do(t, "GET", "/v2/images", nil, api.ConsistencyHeader, "eventual").wantErr(t, 400, "linearizable")
	cl.do(t, "GET", "/v2/images", nil, api.ConsistencyHeader, "Linearizable").want(t, 200)

	// The fault: the leader is stopped once a third of the operations
	// have started, and restarted after two thirds. The operations are
	// the clock: those past half wait until the stop has completed, those
	// past two thirds until the restart, so some run while the leader
	// shuts down and a sixth of them with the leader down.
	var done atomic.Int64
	stopped, restarted := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			for {
				n := done.Add(1)
				if n > total {
					return
				}
				if n > total/2 {
					<-stopped
				}
				if n > 2*total/3 {
					<-restarted
				}
				d.randomOp(ctx, cl, rng)
			}
		}()
	}
	c.Eventually(2*time.Minute, "the clients make progress", func() bool { return done.Load() >= total/3 })
	leader := c.WaitForLeader()
	d.stop(leader)
	t.Logf("stopped leader node %d after %d operations", leader, done.Load())
	before := d.okWrites()
	close(stopped)
	c.Eventually(2*time.Minute, "the clients make progress", func() bool { return done.Load() >= 2*total/3 })
	during := d.okWrites() - before
	d.restart(leader)
	t.Logf("restarted node %d after %d operations", leader, done.Load())
	close(restarted)
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
			op(20, 30, catInput{Kind: opDelete, Tok: "d", Inc: "n1.0"}, ok),
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
		{"plain read older than a linearizable read the node answered before", false, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 30, cas("a", "b", "n0.0"), ok),
			op(40, 50, catInput{Kind: opGet, Inc: "n1.0"}, saw("b")),
			op(60, 70, read("n1.0"), saw("a")),
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
		{"a plain read concurrent with its node's write may miss it", true, []porcupine.Operation{
			op(0, 10, create("a"), ok),
			op(20, 50, cas("a", "b", "n1.0"), ok),
			op(25, 30, read("n0.0"), saw("b")),
			op(35, 40, read("n1.0"), saw("a")),
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
		var h []porcupine.Operation
		for _, op := range tc.h {
			h = append(h, op)
			if ack, ok := ackFor(op); ok {
				h = append(h, ack)
			}
		}
		got := porcupine.CheckOperations(catalogModel, h)
		if got != tc.good {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.good)
		}
	}
}
