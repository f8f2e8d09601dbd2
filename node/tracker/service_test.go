package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node/tracker"
	"github.com/p2pglance/p2pglance/peer"
)

// world is a cluster of Services over real HTTP on loopback, with one
// member list every Service reads (the test plays gossip).
type world struct {
	t      *testing.T
	client *peer.Client

	release chan struct{} // closed: hung requests end (before the nodes stop)

	mu      sync.Mutex
	members map[string]tracker.Member
	nodes   map[string]*testNode
}

type testNode struct {
	id     string
	svc    *tracker.Service
	refuse *atomic.Bool // the holdings route answers 503
	hang   *atomic.Bool // the holdings route answers when the request ends
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// view is a Service's tracker.Cluster: the world's member list.
type view struct{ w *world }

func (v view) Members() []tracker.Member {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	var out []tracker.Member
	for _, m := range v.w.members {
		out = append(out, m)
	}
	return out
}

type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// server is a test node's peer.Server: the holdings routes only.
type server struct {
	svc     *tracker.Service
	refuse  *atomic.Bool
	hang    *atomic.Bool
	release <-chan struct{} // ends every hung request
}

var errNotServed = errors.New("not served in this test")

func (s server) Apply(context.Context, []byte, *peer.CatchUp) (peer.ApplyResponse, error) {
	return peer.ApplyResponse{}, errNotServed
}
func (s server) Join(context.Context, peer.JoinRequest) (peer.JoinResponse, error) {
	return peer.JoinResponse{}, errNotServed
}
func (s server) GetChunk(context.Context, peer.ChunkRequest, peer.ChunkBody) error {
	return errNotServed
}
func (s server) PutChunk(context.Context, peer.ChunkPut, int64, io.Reader) error {
	return errNotServed
}
func (s server) Missing(context.Context, peer.MissingRequest) ([]string, error) {
	return nil, errNotServed
}
func (s server) PrefetchProgress(context.Context, string) peer.Progress { return peer.Progress{} }
func (s server) Replicate(context.Context, string) error                { return errNotServed }
func (s server) Stats(context.Context) (peer.Usage, error)              { return peer.Usage{}, errNotServed }
func (s server) Holdings(ctx context.Context, h peer.Holdings) error {
	if s.hang.Load() {
		select {
		case <-ctx.Done():
		case <-s.release:
		}
		return peer.ErrUnavailable
	}
	if s.refuse.Load() {
		return peer.ErrUnavailable
	}
	s.svc.Record(h)
	return nil
}
func (s server) Holders(_ context.Context, q peer.HoldersQuery) (peer.HoldersAnswer, error) {
	return s.svc.Answer(q), nil
}

var timing = tracker.Timing{
	FlushDelay:    10 * time.Millisecond,
	LookupTTL:     20 * time.Millisecond,
	LookupTimeout: time.Second,
	Settle:        300 * time.Millisecond,
	Refresh:       time.Hour,
	SendTimeout:   time.Hour, // a hung tracker never times out here
}

func newWorld(t *testing.T, ids ...string) *world {
	w := &world{t: t, client: peer.NewClient(&http.Client{}, "http"), release: make(chan struct{}), members: map[string]tracker.Member{}, nodes: map[string]*testNode{}}
	t.Cleanup(func() {
		w.mu.Lock()
		nodes := w.nodes
		w.nodes = nil
		w.mu.Unlock()
		for _, n := range nodes {
			n.stop()
		}
	})
	for _, id := range ids {
		w.start(id)
	}
	w.changed()
	return w
}

// start runs a node (again, after stop: a restart, with a new boot
// time); the others hear of it at the next changed.
func (w *world) start(id string) *testNode {
	w.mu.Lock()
	boot := time.Now().UnixNano()
	if m, ok := w.members[id]; ok && m.Boot >= boot {
		boot = m.Boot + 1
	}
	w.mu.Unlock()
	svc := tracker.New(tracker.Config{Self: id, Epoch: boot, Timing: timing, Logger: slog.New(slog.NewTextHandler(tlog{w.t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)}, view{w}, w.client)
	refuse, hang := &atomic.Bool{}, &atomic.Bool{}
	n := &testNode{id: id, svc: svc, refuse: refuse, hang: hang, srv: httptest.NewServer(peer.Handler(server{svc, refuse, hang, w.release})), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	w.mu.Lock()
	w.members[id] = tracker.Member{ID: id, PeerAddr: strings.TrimPrefix(n.srv.URL, "http://"), Alive: true, Boot: boot}
	w.nodes[id] = n
	w.mu.Unlock()
	go func() { defer close(n.done); svc.Run(ctx) }()
	return n
}

func (n *testNode) stop() {
	n.cancel()
	<-n.done
	n.srv.Close()
}

// kill stops a node without telling anyone: its member entry stays
// alive until markDead (gossip has not noticed yet).
func (w *world) kill(id string) {
	w.mu.Lock()
	n := w.nodes[id]
	delete(w.nodes, id)
	w.mu.Unlock()
	n.stop()
}

func (w *world) markDead(id string) {
	w.mu.Lock()
	m := w.members[id]
	m.Alive = false
	w.members[id] = m
	w.mu.Unlock()
	w.changed()
}

// changed tells every running node that the member list changed.
func (w *world) changed() {
	w.mu.Lock()
	var svcs []*tracker.Service
	for _, n := range w.nodes {
		svcs = append(svcs, n.svc)
	}
	w.mu.Unlock()
	for _, svc := range svcs {
		svc.MembershipChanged()
	}
}

func (w *world) node(id string) *tracker.Service {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodes[id].svc
}

func (w *world) trackers(image string) []string {
	return tracker.Trackers(image, view{w}.Members(), tracker.DefaultTrackers)
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pickImage returns an image id whose trackers, in the world now,
// satisfy ok.
func (w *world) pickImage(t *testing.T, ok func(trackers []string) bool) string {
	t.Helper()
	for i := range 100000 {
		img := fmt.Sprintf("img-%d", i)
		if ok(w.trackers(img)) {
			return img
		}
	}
	t.Fatal("no image id fits")
	return ""
}

func names(hs []peer.Holder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Node)
	}
	return out
}

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("n%d", i))
	}
	return out
}

// TestAnnounceLookupWithdraw: a holder's chunks reach all three of the
// image's trackers; any node then finds the holder of each chunk it
// holds and not of the others; a withdrawal reaches the trackers too.
func TestAnnounceLookupWithdraw(t *testing.T) {
	w := newWorld(t, ids(6)...)
	img := "image-a"
	ts := w.trackers(img)
	holder := w.node("n0")
	holder.Announce(img, 12, []int{0, 11})
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" knows the holder", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0"}) })
	}
	asker := w.node("n5")
	waitUntil(t, "the asker finds n0 for chunk 11", func() bool { return slices.Equal(asker.Holders(img, 11), []string{"n0"}) })
	if got := asker.Holders(img, 5); len(got) != 0 {
		t.Fatalf("holders of a chunk nobody holds: %v", got)
	}
	if got := holder.Holders(img, 0); !slices.Equal(got, []string{"n0"}) {
		t.Fatalf("the holder's own view of chunk 0: %v", got)
	}
	if got, err := asker.FullHolders(context.Background(), img); err != nil || len(got) != 0 {
		t.Fatalf("full holders of a partly held image: %v %v", got, err)
	}
	holder.AnnounceAll(img, 12)
	waitUntil(t, "n0 is a full holder", func() bool {
		got, err := asker.FullHolders(context.Background(), img)
		return err == nil && slices.Equal(got, []string{"n0"})
	})
	t.Logf("trackers %v", ts)
	holder.Withdraw(img)
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" forgets the holder", func() bool { return len(names(w.node(id).Tracked(img))) == 0 })
	}
	waitUntil(t, "the asker no longer finds n0", func() bool { return len(asker.Holders(img, 0)) == 0 })
	if st := holder.Stats(); st.Held != 0 {
		t.Fatalf("a withdrawal every tracker acknowledged is still kept: %+v", st)
	}
}

// TestTrackerDies: while gossip has not noticed a dead tracker, lookups
// fall back to the next; once it has, the holders tell the tracker that
// took its place, and nothing is lost.
func TestTrackerDies(t *testing.T) {
	w := newWorld(t, ids(7)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n0") && !slices.Contains(ts, "n6") })
	ts := w.trackers(img)
	w.node("n0").AnnounceAll(img, 3)
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" knows the holder", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0"}) })
	}
	dead := ts[0]
	w.kill(dead)
	asker := w.node("n6")
	for range 10 { // the trackers are asked in random order
		got, err := asker.Lookup(context.Background(), img)
		if err != nil || !slices.Equal(names(got), []string{"n0"}) {
			t.Fatalf("lookup with tracker %s dead: %v %v", dead, names(got), err)
		}
	}
	w.markDead(dead)
	next := w.trackers(img)
	if slices.Contains(next, dead) || len(next) != 3 {
		t.Fatalf("trackers after %s died: %v", dead, next)
	}
	for _, id := range next {
		waitUntil(t, "tracker "+id+" knows the holder", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0"}) })
	}
}

// TestTrackerRestarts: a restarted tracker has forgotten everything and
// says so (partial), so askers complete its answer from the next
// tracker; the holders tell it again once gossip shows its new boot.
func TestTrackerRestarts(t *testing.T) {
	w := newWorld(t, ids(6)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n0") })
	ts := w.trackers(img)
	w.node("n0").Announce(img, 9, []int{8})
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" knows the holder", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0"}) })
	}
	w.kill(ts[0])
	restarted := w.start(ts[0]).svc
	// Nobody was told yet: its table is empty, its own lookup asks
	// itself first (partial), then the next tracker.
	if got := names(restarted.Tracked(img)); len(got) != 0 {
		t.Fatalf("a restarted tracker knows %v", got)
	}
	if got, err := restarted.Lookup(context.Background(), img); err != nil || !slices.Equal(names(got), []string{"n0"}) {
		t.Fatalf("lookup through a restarted tracker: %v %v", names(got), err)
	}
	w.changed()
	waitUntil(t, "the restarted tracker knows the holder again", func() bool { return slices.Equal(names(restarted.Tracked(img)), []string{"n0"}) })
}

// TestHolderDies: a holder gossip reports dead is forgotten by every
// tracker at once.
func TestHolderDies(t *testing.T) {
	w := newWorld(t, ids(6)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n0") && !slices.Contains(ts, "n1") })
	ts := w.trackers(img)
	w.node("n0").AnnounceAll(img, 2)
	w.node("n1").AnnounceAll(img, 2)
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" knows both holders", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0", "n1"}) })
	}
	w.kill("n0")
	w.markDead("n0")
	for _, id := range ts {
		waitUntil(t, "tracker "+id+" forgets n0", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n1"}) })
	}
	asker := w.node(ts[0])
	if got, err := asker.Lookup(context.Background(), img); err != nil || !slices.Equal(names(got), []string{"n1"}) {
		t.Fatalf("lookup after n0 died: %v %v", names(got), err)
	}
}

// TestJoinTakesOver: a node that joins and outranks an image's trackers
// gets every holder from them; the tracker it pushed out forgets the
// image after Settle; lookups find every holder throughout.
func TestJoinTakesOver(t *testing.T) {
	w := newWorld(t, ids(5)...)
	// An image the newcomer will track first, none of whose trackers
	// holds it.
	img := ""
	for i := 0; img == ""; i++ {
		cand := fmt.Sprintf("img-%d", i)
		all := append(view{w}.Members(), tracker.Member{ID: "newcomer", PeerAddr: "x:1", Alive: true})
		if ts := tracker.Trackers(cand, all, 3); ts[0] == "newcomer" && !slices.Contains(ts, "n0") && !slices.Contains(ts, "n1") {
			img = cand
		}
	}
	before := w.trackers(img)
	w.node("n0").AnnounceAll(img, 4)
	w.node("n1").Announce(img, 4, []int{2})
	for _, id := range before {
		waitUntil(t, "tracker "+id+" knows both holders", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0", "n1"}) })
	}
	joined := w.start("newcomer").svc
	w.changed()
	pushedOut := before[2]
	if after := w.trackers(img); after[0] != "newcomer" || slices.Contains(after, pushedOut) {
		t.Fatalf("trackers %v -> %v", before, after)
	}
	for deadline := time.Now().Add(2 * timing.Settle); time.Now().Before(deadline); {
		got, err := joined.Lookup(context.Background(), img)
		if err != nil || !slices.Equal(names(got), []string{"n0", "n1"}) {
			t.Fatalf("lookup through the newcomer: %v %v", names(got), err)
		}
	}
	waitUntil(t, "the newcomer knows both holders", func() bool { return slices.Equal(names(joined.Tracked(img)), []string{"n0", "n1"}) })
	waitUntil(t, "the tracker pushed out forgets the image", func() bool { return len(names(w.node(pushedOut).Tracked(img))) == 0 })
	if got := joined.Holders(img, 2); !slices.Equal(got, []string{"n0", "n1"}) {
		t.Fatalf("holders of chunk 2: %v", got)
	}
	if got := joined.Holders(img, 1); !slices.Equal(got, []string{"n0"}) {
		t.Fatalf("holders of chunk 1: %v", got)
	}
}

// TestAnswerPartial: a tracker's answer is partial while it may not know
// every holder (it started, or the member list changed, within Settle),
// and always from a node that is not one of the image's trackers in its
// own view (the asker's view differs from its own).
func TestAnswerPartial(t *testing.T) {
	w := newWorld(t, ids(5)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n4") })
	tr := w.node(w.trackers(img)[0])
	q := peer.HoldersQuery{Image: img}
	if !tr.Answer(q).Partial {
		t.Fatal("a tracker that just started answers complete")
	}
	waitUntil(t, "the tracker's answer is complete once it settled", func() bool { return !tr.Answer(q).Partial })
	if !w.node("n4").Answer(q).Partial {
		t.Fatal("a node that does not track the image answers complete")
	}
	w.markDead(w.trackers(img)[2])
	if !tr.Answer(q).Partial {
		// The member list change reaches the service's loop at once;
		// poll for it rather than race it.
		waitUntil(t, "a tracker of the image left: partial", func() bool { return tr.Answer(q).Partial })
	}
}

// TestTrackerRefusesThenRecovers: a tracker that fails a batch is left
// alone for a while and sent it again; nothing is lost.
func TestTrackerRefusesThenRecovers(t *testing.T) {
	w := newWorld(t, ids(5)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n0") })
	ts := w.trackers(img)
	w.mu.Lock()
	w.nodes[ts[1]].refuse.Store(true)
	w.mu.Unlock()
	w.node("n0").Announce(img, 3, []int{1})
	for _, id := range []string{ts[0], ts[2]} {
		waitUntil(t, "tracker "+id+" knows the holder", func() bool { return slices.Equal(names(w.node(id).Tracked(img)), []string{"n0"}) })
	}
	if got := w.node(ts[1]).Tracked(img); len(got) != 0 {
		t.Fatalf("a refusing tracker knows %v", names(got))
	}
	w.node("n0").Announce(img, 3, []int{2}) // a change while it is backed off
	w.mu.Lock()
	w.nodes[ts[1]].refuse.Store(false)
	w.mu.Unlock()
	waitUntil(t, "the recovered tracker has the holder's latest bitmap", func() bool {
		got := w.node(ts[1]).Tracked(img)
		return len(got) == 1 && got[0].Node == "n0" && len(got[0].Bits) == 1 && got[0].Bits[0] == 0b110
	})
}

// TestTrackerHangs: one of an image's trackers takes the holder's batch
// and never answers (alive in gossip all the while). The other two
// trackers hear of that change, and of every later one, while the hung
// batch is still open.
func TestTrackerHangs(t *testing.T) {
	w := newWorld(t, ids(5)...)
	img := w.pickImage(t, func(ts []string) bool { return !slices.Contains(ts, "n0") })
	ts := w.trackers(img)
	w.mu.Lock()
	w.nodes[ts[1]].hang.Store(true)
	w.mu.Unlock()
	t.Cleanup(func() { close(w.release) }) // before the nodes stop: a server waits for its requests
	healthy := []string{ts[0], ts[2]}
	for i := range 3 {
		w.node("n0").Announce(img, 4, []int{i}) // never all 4: a bitmap
		want := byte(1<<(i+1) - 1)
		for _, id := range healthy {
			waitUntil(t, fmt.Sprintf("tracker %s has change %d", id, i), func() bool {
				got := w.node(id).Tracked(img)
				return len(got) == 1 && got[0].Node == "n0" && len(got[0].Bits) == 1 && got[0].Bits[0] == want
			})
		}
	}
	if got := w.node(ts[1]).Tracked(img); len(got) != 0 {
		t.Fatalf("the hung tracker recorded %v", names(got))
	}
}
