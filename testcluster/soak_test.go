package testcluster_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/testcluster"
)

var (
	soakFor = flag.Duration("soak", 0, "run TestSoak for this long (make soak sets it; 0 skips it)")
	soakOps = flag.Int("soak-ops", 150000, "TestSoak stops after this many requests even if -soak has not passed")
)

// TestSoak is the long run behind `make soak`: sustained mixed load on a
// 3-node cluster with random faults, for -soak (default: skipped).
//
//   - Catalog clients run the operations of the linearizability test
//     (catdriver_test.go) on random nodes; the whole history is checked
//     with porcupine at the end.
//   - Data clients create images, upload 64 KiB-2 MiB of data (256 KiB
//     chunks) through one node, download them through another (every
//     byte compared), download ranges, delete old images and list.
//   - A fault loop, one fault at a time, every 2-6 s: stop the leader or
//     a random node and restart it, or cut the leader or a random node
//     off from the others (Raft, gossip and peer HTTP; its Glance API
//     stays reachable) and heal, each after 1-4 s.
//
// Unexpected answers must be zero. Expected, and only counted: 503s
// (no leader yet, no quorum, outcome unknown; an isolated node answers
// every write and linearizable read so), connection errors on a
// node that was stopped or restarted during the request, and a plain
// download answering 204 because the node's replica had not yet applied
// the upload. Unexpected is everything else: any other status, a
// connection error on a node that ran throughout, bytes that differ, an
// uploaded image (acknowledged with 204) that is missing or unreadable on
// any node once the cluster is whole again.
//
// Finally every node is stopped and the process must return to its
// baseline: goroutines, heap and open file descriptors are compared with
// those measured before the cluster started.
func TestSoak(t *testing.T) {
	if *soakFor == 0 {
		t.Skip("long run: make soak (go test ./testcluster -run TestSoak -soak=3m)")
	}
	before := measureProcess()
	t.Logf("baseline: %s", before)

	t.Log("\n" + runSoak(t, *soakFor, *soakOps))

	// Back to baseline once the nodes are gone (bounded poll: shutdown is
	// asynchronous in places, e.g. closing idle connections).
	const (
		goroutineSlack = 3
		fdSlack        = 3
		heapSlack      = 32 << 20
	)
	var after processUsage
	deadline := time.Now().Add(60 * time.Second)
	for {
		testcluster.Client.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		after = measureProcess()
		if after.goroutines <= before.goroutines+goroutineSlack && after.fds <= before.fds+fdSlack && after.heap <= before.heap+heapSlack {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Logf("goroutines still running:\n%s", buf[:n])
			ents, _ := os.ReadDir("/proc/self/fd")
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				t.Logf("open fd %s: %s", e.Name(), l)
			}
			t.Fatalf("leak: after the soak %s, before %s (allowed: +%d goroutines, +%d fds, +%d MiB heap)", after, before, goroutineSlack, fdSlack, heapSlack>>20)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after the soak and every node stopped: %s (baseline %s)", after, before)
}

// processUsage is what the soak compares before and after.
type processUsage struct {
	goroutines int
	heap       uint64 // live heap after GC
	fds        int
}

func (u processUsage) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB heap, %d open fds", u.goroutines, float64(u.heap)/(1<<20), u.fds)
}

func measureProcess() processUsage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	return processUsage{goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc, fds: fds}
}

// soakImage is an image a data client uploaded.
type soakImage struct {
	id   string
	size int
	sum  [32]byte
	seed uint64
}

// runSoak runs the load and the faults, checks the results, stops the
// cluster and returns the report.
func runSoak(t *testing.T, dur time.Duration, maxOps int) string {
	c := testcluster.New(t, 3, smallChunks())
	d := newCatDriver(c, 6)
	ctx := context.Background()
	began := time.Now()
	more := func() bool { return time.Since(began) < dur && d.sent.Load() < int64(maxOps) }

	var wg sync.WaitGroup
	const catClients, dataClients = 6, 2
	for cl := range catClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			for more() {
				d.randomOp(ctx, cl, rng)
			}
		}()
	}
	var (
		imgMu    sync.Mutex
		uploaded []soakImage // acknowledged uploads, not deleted
	)
	for cl := range dataClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(100+cl), uint64(time.Now().UnixNano())))
			for more() {
				switch p := rng.IntN(10); {
				case p == 0:
					soakList(ctx, d, rng)
				case p < 4:
					if img, ok := soakUpload(ctx, d, rng); ok {
						imgMu.Lock()
						uploaded = append(uploaded, img)
						var old *soakImage
						if len(uploaded) > 12 {
							old = &uploaded[0]
							uploaded = uploaded[1:]
						}
						imgMu.Unlock()
						if old != nil {
							soakDelete(ctx, d, rng, old.id)
						}
					}
				default:
					imgMu.Lock()
					var img soakImage
					if len(uploaded) > 0 {
						img = uploaded[rng.IntN(len(uploaded))]
					}
					imgMu.Unlock()
					if img.id != "" {
						soakDownload(ctx, d, rng, d.pickNode(rng), img, rng.IntN(2) == 0, func() bool {
							imgMu.Lock()
							defer imgMu.Unlock()
							return slices.ContainsFunc(uploaded, func(u soakImage) bool { return u.id == img.id })
						})
					}
				}
			}
		}()
	}

	// Faults, one at a time, until the load stops.
	faults := map[string]int{}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()
	rng := rand.New(rand.NewPCG(300, uint64(time.Now().UnixNano())))
	pause := func(lo, hi time.Duration) bool {
		select {
		case <-loadDone:
			return false
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
			return true
		}
	}
	for pause(2*time.Second, 6*time.Second) {
		kind := rng.IntN(4)
		victim, who := rng.IntN(c.Size()), "node"
		if kind%2 == 0 {
			victim, who = c.WaitForLeader(), "leader"
		}
		if kind < 2 {
			faults[who+" stop/restart"]++
			d.stop(victim)
			pause(time.Second, 4*time.Second)
			d.restart(victim)
		} else {
			faults[who+" isolated/healed"]++
			var rest []int
			for i := range c.Size() {
				if i != victim {
					rest = append(rest, i)
				}
			}
			c.Partition([]int{victim}, rest)
			pause(time.Second, 4*time.Second)
			c.Heal()
		}
		c.WaitForLeader()
		c.WaitMembers(c.Size())
	}
	<-loadDone
	elapsed := time.Since(began)

	// The cluster is whole again: final reads, then the checks.
	c.WaitForLeader()
	c.WaitMembers(c.Size())
	d.finalReads(ctx, catClients+dataClients+1)
	imgMu.Lock()
	final := append([]soakImage(nil), uploaded...)
	imgMu.Unlock()
	for _, img := range final {
		for i := range c.Size() {
			soakDownload(ctx, d, rng, i, img, true, func() bool { return true })
		}
	}
	errs := d.errors()
	for _, e := range errs[:min(len(errs), 20)] {
		t.Errorf("unexpected: %s", e)
	}
	ops := d.history()
	real := 0
	for _, op := range ops {
		if op.Input.(catInput).Kind != opAck {
			real++
		}
	}
	checkStart := time.Now()
	d.check(t)
	checkTime := time.Since(checkStart)
	c.Close()
	d.http.CloseIdleConnections()

	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s of load (%d requests), 3 nodes, faults %v\n", elapsed.Round(time.Second), d.sent.Load(), faults)
	fmt.Fprintf(&b, "porcupine: %d catalog operations (and %d node acknowledgements) linearizable, checked in %s\n", real, len(ops)-real, checkTime.Round(time.Millisecond))
	d.mu.Lock()
	fmt.Fprintf(&b, "unexpected answers: %d; expected failures: %d x 503, %d connection errors on a node being stopped or restarted, %d plain downloads before the node applied the upload\n",
		len(errs), d.counts["503"], d.counts["transport error"], d.counts["stale download"])
	fmt.Fprintf(&b, "catalog results: %v\n", d.counts)
	d.mu.Unlock()
	b.WriteString(d.stats.table())
	if len(errs) > 0 {
		t.Fatalf("%d unexpected answers\n%s", len(errs), b.String())
	}
	return b.String()
}

// soakSend sends one request to node i and classifies transport failures
// and 503s; ok is false when the answer is one of those (counted as
// expected if the node was stopped or restarted meanwhile).
func soakSend(ctx context.Context, d *catDriver, i int, method, path string, body []byte, hdr http.Header, what string) (status int, data []byte, dur time.Duration, ok bool) {
	before := d.incs[i].Load()
	start := time.Now()
	status, data, err := d.send(ctx, method, d.urls[i]+path, body, hdr)
	dur = time.Since(start)
	steady := before == d.incs[i].Load() && before%2 == 0
	switch {
	case err != nil:
		if steady {
			d.fail("%s on node %d: %v (the node ran throughout)", what, i, err)
		}
		d.count("transport error")
		return 0, nil, dur, false
	case status == http.StatusServiceUnavailable:
		d.count("503")
		return status, data, dur, false
	}
	return status, data, dur, true
}

// soakUpload creates an image through one node and uploads its data
// through another; ok means both were acknowledged.
func soakUpload(ctx context.Context, d *catDriver, rng *rand.Rand) (soakImage, bool) {
	img := soakImage{size: 64<<10 + rng.IntN(2<<20-64<<10), seed: rng.Uint64()}
	data := randomBytes(img.seed, img.size)
	img.sum = sha256.Sum256(data)
	n := d.pickNode(rng)
	body, _ := json.Marshal(map[string]string{"name": "soak", "disk_format": "raw", "container_format": "bare"})
	status, resp, dur, ok := soakSend(ctx, d, n, http.MethodPost, "/v2/images", body, http.Header{"Content-Type": {"application/json"}}, "create for upload")
	if !ok {
		return img, false
	}
	if status != http.StatusCreated {
		d.fail("create for upload on node %d: status %d: %.300s", n, status, resp)
		return img, false
	}
	d.stats.add("create (data)", dur)
	var m struct{ ID string }
	if err := json.Unmarshal(resp, &m); err != nil || m.ID == "" {
		d.fail("create for upload on node %d: no id in %.300s", n, resp)
		return img, false
	}
	img.id = m.ID
	n = d.pickNode(rng)
	status, resp, dur, ok = soakSend(ctx, d, n, http.MethodPut, "/v2/images/"+img.id+"/file", data, http.Header{"Content-Type": {octetStream}}, "upload")
	if !ok {
		return img, false
	}
	if status != http.StatusNoContent {
		d.fail("upload of %d bytes on node %d: status %d: %.300s", img.size, n, status, resp)
		return img, false
	}
	d.stats.add("upload", dur)
	return img, true
}

// soakDownload downloads an uploaded image (whole, or a random range)
// from node i and compares every byte. fresh sends the linearizable read
// header; without it the node may not have applied the upload yet. A 404
// is expected only if listed reports false afterwards (another client
// deleted the image meanwhile).
func soakDownload(ctx context.Context, d *catDriver, rng *rand.Rand, i int, img soakImage, fresh bool, listed func() bool) {
	hdr := http.Header{}
	if fresh {
		hdr.Set(api.ConsistencyHeader, api.ConsistencyLinearizable)
	}
	off, end := 0, img.size
	ranged := rng.IntN(3) == 0
	if ranged {
		off = rng.IntN(img.size)
		end = off + 1 + rng.IntN(img.size-off)
		hdr.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
	}
	status, data, dur, ok := soakSend(ctx, d, i, http.MethodGet, "/v2/images/"+img.id+"/file", nil, hdr, "download")
	if !ok {
		return
	}
	want := randomBytes(img.seed, img.size)[off:end]
	switch {
	case status == http.StatusNoContent && !fresh:
		d.count("stale download")
	case status == http.StatusNotFound && !listed():
		d.count("download of a deleted image")
	case ranged && status == http.StatusPartialContent, !ranged && status == http.StatusOK:
		if !bytes.Equal(data, want) {
			d.fail("download of %s [%d,%d) on node %d: %d bytes differ from what was uploaded", img.id, off, end, i, len(data))
			return
		}
		d.stats.add("download", dur)
	default:
		d.fail("download of %s on node %d: status %d: %.300s", img.id, i, status, data)
	}
}

// soakDelete deletes an uploaded image (no longer checked afterwards,
// whatever the outcome).
func soakDelete(ctx context.Context, d *catDriver, rng *rand.Rand, id string) {
	n := d.pickNode(rng)
	status, data, dur, ok := soakSend(ctx, d, n, http.MethodDelete, "/v2/images/"+id, nil, http.Header{}, "delete (data)")
	if !ok {
		return
	}
	if status != http.StatusNoContent {
		d.fail("delete of %s on node %d: status %d: %.300s", id, n, status, data)
		return
	}
	d.stats.add("delete (data)", dur)
}

// soakList lists a page of images on a random node.
func soakList(ctx context.Context, d *catDriver, rng *rand.Rand) {
	n := d.pickNode(rng)
	status, data, dur, ok := soakSend(ctx, d, n, http.MethodGet, "/v2/images?limit=20&sort_key=created_at", nil, http.Header{"Accept": {"application/json"}}, "list")
	if !ok {
		return
	}
	if status != http.StatusOK || !bytes.Contains(data, []byte(`"images"`)) {
		d.fail("list on node %d: status %d: %.300s", n, status, data)
		return
	}
	d.stats.add("list", dur)
}
