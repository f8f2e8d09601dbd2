package testcluster_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/testcluster"
)

// catDriver runs catalog operations (catalogmodel_test.go) against the
// nodes of a cluster through the real HTTP API, records them as a
// porcupine history, and stops and restarts nodes on request while
// keeping track of each node's incarnation.
type catDriver struct {
	c     *testcluster.Cluster
	urls  []string // fixed: a restarted node keeps its addresses
	http  *http.Client
	start time.Time

	// incs[i] counts node i's stops and restarts: even while it runs.
	incs []atomic.Int64

	sent atomic.Int64 // requests sent

	slots []*catSlot
	hints sync.Map // image id -> the last token some answer showed
	seq   atomic.Int64

	mu      sync.Mutex
	ops     []porcupine.Operation
	unknown []int // indexes into ops of operations with unknown outcome
	errs    []string
	stats   opStats
	// counts per kind and result, for the report and for the tests'
	// sanity checks
	counts map[string]int
}

// catSlot is a place in the working set of image ids: it holds one id
// until that image is deleted or has seen enough operations, then moves
// on to a fresh id (deleted ids are never reused by the catalog).
type catSlot struct {
	mu  sync.Mutex
	id  string
	ops int
}

// maxOpsPerKey bounds a porcupine partition, which keeps the check fast.
const maxOpsPerKey = 48

func newCatDriver(c *testcluster.Cluster, slots int) *catDriver {
	d := &catDriver{
		c:      c,
		http:   &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		start:  time.Now(),
		incs:   make([]atomic.Int64, c.Size()),
		counts: map[string]int{},
		stats:  opStats{},
	}
	for i := range c.Size() {
		d.urls = append(d.urls, c.URL(i))
	}
	for range slots {
		d.slots = append(d.slots, &catSlot{id: uuid.NewString()})
	}
	return d
}

func (d *catDriver) now() int64 { return int64(time.Since(d.start)) }

// stop stops node i; its answers from now on are not attributed to an
// incarnation until restart has returned.
func (d *catDriver) stop(i int) {
	d.incs[i].Add(1)
	d.c.Stop(i)
}

// restart starts node i again as a new incarnation.
func (d *catDriver) restart(i int) {
	d.c.Restart(i)
	d.incs[i].Add(1)
}

// up reports whether node i is running (as far as the driver knows).
func (d *catDriver) up(i int) bool { return d.incs[i].Load()%2 == 0 }

// pickNode returns a random running node (or any node if none runs).
func (d *catDriver) pickNode(rng *rand.Rand) int {
	var up []int
	for i := range d.urls {
		if d.up(i) {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return rng.IntN(len(d.urls))
	}
	return up[rng.IntN(len(up))]
}

// fail records an unexpected answer: the tests require none.
func (d *catDriver) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.errs) < 1000 {
		d.errs = append(d.errs, fmt.Sprintf(format, args...))
	}
}

func (d *catDriver) count(key string) {
	d.mu.Lock()
	d.counts[key]++
	d.mu.Unlock()
}

// errors returns the unexpected answers so far.
func (d *catDriver) errors() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.errs)
}

// record adds an operation to the history.
func (d *catDriver) record(client int, in catInput, out catOutput, call, ret int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if out.Res == resUnknown {
		d.unknown = append(d.unknown, len(d.ops))
	}
	op := porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
	d.ops = append(d.ops, op)
	if ack, ok := ackFor(op); ok {
		d.ops = append(d.ops, ack)
	}
	d.counts[in.Kind.String()+" "+out.Res.String()]++
}

// history returns the recorded operations, those with an unknown outcome
// returning after everything else.
func (d *catDriver) history() []porcupine.Operation {
	d.mu.Lock()
	defer d.mu.Unlock()
	ops := slices.Clone(d.ops)
	var end int64
	for _, op := range ops {
		end = max(end, op.Return, op.Call)
	}
	for _, i := range d.unknown {
		ops[i].Return = end + 1
	}
	return ops
}

// check runs porcupine on the history; on a violation it writes the
// visualization to a file and fails the test.
func (d *catDriver) check(t testing.TB) int {
	t.Helper()
	ops := d.history()
	res, info := porcupine.CheckOperationsVerbose(catalogModel, ops, 0)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("p2pglance-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(catalogModel, info, path); err != nil {
			t.Logf("write visualization: %v", err)
		}
		for _, part := range catalogModel.Partition(ops) {
			if porcupine.CheckOperations(catalogModel, part) {
				continue
			}
			slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
			t.Logf("operations on %s, the first image whose history is not linearizable (times in ms since the start):", part[0].Input.(catInput).Key)
			for _, op := range part {
				t.Logf("  [%9.3f, %9.3f] client %2d %s", float64(op.Call)/1e6, float64(op.Return)/1e6, op.ClientId, catalogModel.DescribeOperation(op.Input, op.Output))
			}
			break
		}
		t.Fatalf("porcupine: the history of %d catalog operations is %v against the model; visualization in %s", len(ops), res, path)
	}
	return len(ops)
}

// randomOp does one random catalog operation from client through a random
// running node.
func (d *catDriver) randomOp(ctx context.Context, client int, rng *rand.Rand) {
	slot := d.slots[rng.IntN(len(d.slots))]
	slot.mu.Lock()
	key := slot.id
	slot.ops++
	if slot.ops >= maxOpsPerKey {
		slot.id, slot.ops = uuid.NewString(), 0
	}
	slot.mu.Unlock()

	in := catInput{Key: key}
	switch p := rng.IntN(100); {
	case p < 18:
		in.Kind = opCreate
	case p < 45:
		in.Kind = opCAS
	case p < 50:
		in.Kind = opDelete
	case p < 72:
		in.Kind = opGet
	default:
		in.Kind = opRead
	}
	if in.Kind == opCreate || in.Kind == opCAS || in.Kind == opDelete {
		in.Tok = fmt.Sprintf("c%dn%d", client, d.seq.Add(1))
	}
	if in.Kind == opCAS {
		if h, ok := d.hints.Load(key); ok {
			in.Old = h.(string)
		} else {
			in.Old = "none"
		}
	}
	out := d.do(ctx, client, d.pickNode(rng), in)
	if in.Kind == opDelete && out.Res == resOK {
		slot.mu.Lock()
		if slot.id == key {
			slot.id, slot.ops = uuid.NewString(), 0
		}
		slot.mu.Unlock()
	}
}

// do sends one operation to node and records it.
func (d *catDriver) do(ctx context.Context, client, node int, in catInput) catOutput {
	var (
		method, path = "", "/v2/images"
		body         []byte
		hdr          = http.Header{"Accept": {"application/json"}}
	)
	switch in.Kind {
	case opCreate:
		method = http.MethodPost
		body, _ = json.Marshal(map[string]string{"id": in.Key, "name": "lin", "t_" + in.Tok: "1"})
		hdr.Set("Content-Type", "application/json")
	case opCAS:
		method, path = http.MethodPatch, path+"/"+in.Key
		body, _ = json.Marshal([]map[string]string{{"op": "remove", "path": "/t_" + in.Old}, {"op": "add", "path": "/t_" + in.Tok, "value": "1"}})
		hdr.Set("Content-Type", patchV21Type)
	case opDelete:
		method, path = http.MethodDelete, path+"/"+in.Key
	case opGet:
		method, path = http.MethodGet, path+"/"+in.Key
		hdr.Set(api.ConsistencyHeader, api.ConsistencyLinearizable)
	case opRead:
		method, path = http.MethodGet, path+"/"+in.Key
	}
	incBefore := d.incs[node].Load()
	call := d.now()
	status, data, err := d.send(ctx, method, d.urls[node]+path, body, hdr)
	ret := d.now()
	incAfter := d.incs[node].Load()
	steady := incBefore == incAfter && incBefore%2 == 0
	if steady {
		in.Inc = fmt.Sprintf("n%d.%d", node, incBefore/2)
	}
	write := in.Kind == opCreate || in.Kind == opCAS || in.Kind == opDelete
	out := catOutput{Res: resUnknown}
	what := fmt.Sprintf("%s %s on node %d", in.Kind, in.Key, node)
	switch {
	case err != nil:
		if steady && ctx.Err() == nil {
			d.fail("%s: %v (the node ran throughout)", what, err)
		}
		d.count("transport error")
	case status == http.StatusServiceUnavailable:
		d.count("503")
	default:
		out = d.classify(in, status, data, what)
	}
	if out.Res == resUnknown && !write {
		return out // a failed read changes nothing: left out of the history
	}
	if out.Res != resUnknown {
		d.stats.add(in.Kind.String(), time.Duration(ret-call))
	}
	d.record(client, in, out, call, ret)
	if out.Res == resOK && out.Tok != "" {
		d.hints.Store(in.Key, out.Tok)
	} else if out.Res == resOK && (in.Kind == opCreate || in.Kind == opCAS) {
		d.hints.Store(in.Key, in.Tok)
	}
	return out
}

// classify maps an HTTP answer to the model's result; anything the API
// contract does not allow is recorded as an error (and as unknown).
func (d *catDriver) classify(in catInput, status int, data []byte, what string) catOutput {
	unexpected := func() catOutput {
		d.fail("%s: unexpected status %d: %.300s", what, status, data)
		return catOutput{Res: resUnknown}
	}
	text := string(data)
	switch in.Kind {
	case opCreate:
		switch status {
		case http.StatusCreated:
			if tok, err := tokenOf(data); err != nil || tok != in.Tok {
				d.fail("%s: 201 shows token %q (%v), want %q", what, tok, err, in.Tok)
			}
			return catOutput{Res: resOK}
		case http.StatusConflict:
			if strings.Contains(text, "already exists") {
				return catOutput{Res: resExists}
			}
		}
	case opCAS:
		switch status {
		case http.StatusOK:
			if tok, err := tokenOf(data); err != nil || tok != in.Tok {
				d.fail("%s: 200 shows token %q (%v), want %q", what, tok, err, in.Tok)
			}
			return catOutput{Res: resOK}
		case http.StatusNotFound:
			return catOutput{Res: resNotFound}
		case http.StatusConflict:
			switch {
			case strings.Contains(text, "does not exist"):
				return catOutput{Res: resPrecond}
			case strings.Contains(text, "changed by another request"):
				return catOutput{Res: resConflict}
			}
		}
	case opDelete:
		switch status {
		case http.StatusNoContent:
			return catOutput{Res: resOK}
		case http.StatusNotFound:
			return catOutput{Res: resNotFound}
		case http.StatusConflict:
			if strings.Contains(text, "changed by another request") {
				return catOutput{Res: resConflict}
			}
		}
	case opGet, opRead:
		switch status {
		case http.StatusOK:
			tok, err := tokenOf(data)
			if err != nil {
				d.fail("%s: %v", what, err)
			}
			return catOutput{Res: resOK, Tok: tok}
		case http.StatusNotFound:
			return catOutput{Res: resNotFound}
		}
	}
	return unexpected()
}

// tokenOf returns the token of an image body: the name of its one t_*
// property without the prefix.
func tokenOf(data []byte) (string, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("image body: %w", err)
	}
	var toks []string
	for k := range m {
		if t, ok := strings.CutPrefix(k, "t_"); ok {
			toks = append(toks, t)
		}
	}
	if len(toks) != 1 {
		slices.Sort(toks)
		return "<" + strings.Join(toks, ",") + ">", fmt.Errorf("image shows %d tokens %v, want 1", len(toks), toks)
	}
	return toks[0], nil
}

// send does one HTTP request and reads the whole answer.
func (d *catDriver) send(ctx context.Context, method, url string, body []byte, hdr http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = hdr
	d.sent.Add(1)
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

// finalReads reads every image id the history touched on every node,
// linearizably and plainly, once the cluster is whole again: an
// acknowledged write that was lost shows up here.
func (d *catDriver) finalReads(ctx context.Context, client int) {
	keys := map[string]bool{}
	d.mu.Lock()
	for _, op := range d.ops {
		keys[op.Input.(catInput).Key] = true
	}
	d.mu.Unlock()
	for k := range keys {
		for i := range d.urls {
			d.do(ctx, client, i, catInput{Kind: opGet, Key: k})
			d.do(ctx, client, i, catInput{Kind: opRead, Key: k})
		}
	}
}

// opStats collects latencies per operation type.
type opStats struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func (s *opStats) add(kind string, dur time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string][]time.Duration{}
	}
	s.by[kind] = append(s.by[kind], dur)
}

// table returns one line per operation type: count, p50, p99, max.
func (s *opStats) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kinds []string
	for k := range s.by {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "| op | count | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n")
	for _, k := range kinds {
		ds := slices.Clone(s.by[k])
		slices.Sort(ds)
		q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", k, len(ds), q(0.50).Round(time.Microsecond*100), q(0.99).Round(time.Microsecond*100), ds[len(ds)-1].Round(time.Millisecond))
	}
	return b.String()
}
