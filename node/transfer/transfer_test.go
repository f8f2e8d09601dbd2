package transfer_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/transfer"
	"github.com/p2pglance/p2pglance/peer"
)

// The tests run several Transfers in one process, each with an
// in-memory store and a real peer API (package peer's Handler and
// Client over loopback HTTP); a shared world stands in for gossip and
// the catalog.

const testChunk = 1 << 10

// world is the cluster every test node sees: members, who announced
// which chunk, the catalog's images.
type world struct {
	mu      sync.Mutex
	members map[string]transfer.Member
	holders map[string]map[int][]string // image -> chunk -> node ids
	images  map[string]*catalog.Image
}

// view is one node's transfer.Cluster, transfer.Catalog, Protector and
// Events over the world.
type view struct {
	w    *world
	self string

	mu        sync.Mutex
	protected map[chunkstore.Digest]string
	corrupt   int
	cached    int64
}

func (v *view) Self() string { return v.self }
func (v *view) Members() []transfer.Member {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	var out []transfer.Member
	for _, m := range v.w.members {
		out = append(out, m)
	}
	return out
}
func (v *view) Member(id string) (transfer.Member, bool) {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	m, ok := v.w.members[id]
	return m, ok
}
func (v *view) Holders(imageID string, idx int) []string {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	return slices.Clone(v.w.holders[imageID][idx])
}
func (v *view) Announce(imageID string, _ int, have []int) {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	if v.w.holders[imageID] == nil {
		v.w.holders[imageID] = map[int][]string{}
	}
	for _, i := range have {
		if !slices.Contains(v.w.holders[imageID][i], v.self) {
			v.w.holders[imageID][i] = append(v.w.holders[imageID][i], v.self)
		}
	}
}
func (v *view) Image(id string) (*catalog.Image, error) {
	v.w.mu.Lock()
	defer v.w.mu.Unlock()
	if img, ok := v.w.images[id]; ok {
		return img, nil
	}
	return nil, catalog.ErrNotFound
}
func (v *view) Protect(imageID string, d chunkstore.Digest) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.protected[d] = imageID
}
func (v *view) CorruptDropped() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.corrupt++
}
func (v *view) Cached(size int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cached += size
}

// testNode is one Transfer with its store, its view and its peer API.
type testNode struct {
	id    string
	x     *transfer.Transfer
	store *chunkstore.MemStore
	view  *view
	// lie, when set, flips a byte of every chunk this node serves.
	lie bool
}

// peerServer is a test node's peer.Server: the chunk routes only.
type peerServer struct{ n *testNode }

var errNotServed = errors.New("not served in this test")

func (s peerServer) Apply(context.Context, []byte, *peer.CatchUp) (peer.ApplyResponse, error) {
	return peer.ApplyResponse{}, errNotServed
}
func (s peerServer) Join(context.Context, peer.JoinRequest) (peer.JoinResponse, error) {
	return peer.JoinResponse{}, errNotServed
}
func (s peerServer) GetChunk(ctx context.Context, req peer.ChunkRequest, body peer.ChunkBody) error {
	if s.n.lie {
		honest := body
		body = func(size int) io.Writer { return flipWriter{honest(size)} }
	}
	return s.n.x.ServeChunk(ctx, req, body)
}
func (s peerServer) PutChunk(ctx context.Context, req peer.ChunkPut, size int64, r io.Reader) error {
	return s.n.x.PutChunk(ctx, req, size, r)
}
func (s peerServer) Missing(ctx context.Context, req peer.MissingRequest) ([]string, error) {
	ds := make([]chunkstore.Digest, len(req.Digests))
	for i, h := range req.Digests {
		d, err := chunkstore.ParseDigest(h)
		if err != nil {
			return nil, err
		}
		ds[i] = d
	}
	return s.n.x.Lacking(ctx, req.Image, req.Digests, ds)
}
func (s peerServer) PrefetchProgress(context.Context, string) peer.Progress { return peer.Progress{} }
func (s peerServer) Replicate(context.Context, string) error                { return errNotServed }
func (s peerServer) Stats(context.Context) (peer.Usage, error)              { return peer.Usage{}, errNotServed }
func (s peerServer) Holdings(context.Context, peer.Holdings) error          { return errNotServed }
func (s peerServer) Holders(context.Context, peer.HoldersQuery) (peer.HoldersAnswer, error) {
	return peer.HoldersAnswer{}, errNotServed
}

// flipWriter inverts the first byte of every write.
type flipWriter struct{ w io.Writer }

func (f flipWriter) Write(p []byte) (int, error) {
	q := bytes.Clone(p)
	if len(q) > 0 {
		q[0] ^= 0xff
	}
	return f.w.Write(q)
}

// newWorld starts one node per zone given, each with a Transfer of
// cfg (ChunkSize and logger set here).
func newWorld(t *testing.T, cfg transfer.Config, zones ...string) (*world, []*testNode) {
	t.Helper()
	w := &world{members: map[string]transfer.Member{}, holders: map[string]map[int][]string{}, images: map[string]*catalog.Image{}}
	client := peer.NewClient(&http.Client{}, "http")
	cfg.ChunkSize = testChunk
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.FetchWindow == 0 {
		cfg.FetchWindow = 2
	}
	var nodes []*testNode
	for i, zone := range zones {
		n := &testNode{id: string(rune('a' + i)), store: chunkstore.NewMemStore()}
		n.view = &view{w: w, self: n.id, protected: map[chunkstore.Digest]string{}}
		n.x = transfer.New(cfg, transfer.Deps{Store: n.store, Cluster: n.view, Catalog: n.view, Peers: client, Protector: n.view, Events: n.view})
		srv := httptest.NewServer(peer.Handler(peerServer{n}))
		t.Cleanup(srv.Close)
		w.members[n.id] = transfer.Member{ID: n.id, PeerAddr: strings.TrimPrefix(srv.URL, "http://"), Zone: zone, Alive: true}
		nodes = append(nodes, n)
	}
	return w, nodes
}

func randomData(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

// ingest uploads data through n and records the image in the world's
// catalog and its holders' announcements, as the node's commit would.
func ingest(t *testing.T, w *world, n *testNode, id string, data []byte) *catalog.Image {
	t.Helper()
	man, placement, err := n.x.Ingest(context.Background(), id, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	img := &catalog.Image{ID: id, Status: catalog.StatusActive, Manifest: man, Placement: placement}
	w.mu.Lock()
	w.images[id] = img
	w.mu.Unlock()
	for _, p := range placement {
		(&view{w: w, self: p}).Announce(id, len(man.Chunks), seq(len(man.Chunks)))
	}
	return img
}

// setZone moves node id to zone.
func (w *world) setZone(id, zone string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.members[id]
	m.Zone = zone
	w.members[id] = m
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestIngestThenOpen: an upload lands durably on R nodes in different
// zones with its hashes, every chunk protected; a node outside the
// placement reads any range back verified from the holders and keeps
// what it fetched.
func TestIngestThenOpen(t *testing.T) {
	w, nodes := newWorld(t, transfer.Config{Replicas: 2, UploadSlots: 4}, "z1", "z1", "z2")
	a, c := nodes[0], nodes[2]
	data := randomData(5*testChunk+300, 1)
	img := ingest(t, w, a, "img", data)
	if sum := md5.Sum(data); img.Manifest.Checksum != hex.EncodeToString(sum[:]) || img.Manifest.Size != int64(len(data)) {
		t.Fatalf("manifest %+v", img.Manifest)
	}
	// The second copy goes to the other zone.
	if !slices.Equal(img.Placement, []string{a.id, c.id}) {
		t.Fatalf("placement %v, want [a c] (a new zone first)", img.Placement)
	}
	for _, n := range []*testNode{a, c} {
		for _, ref := range img.Manifest.Chunks {
			d, _ := chunkstore.ParseDigest(ref.Digest)
			if ok, _ := n.store.Has(context.Background(), d); !ok {
				t.Fatalf("holder %s lacks chunk %s", n.id, ref.Digest)
			}
			if n.view.protected[d] != "img" {
				t.Fatalf("chunk %s on %s not protected for the upload", ref.Digest, n.id)
			}
		}
	}
	b := nodes[1]
	for _, r := range [][2]int64{{0, int64(len(data))}, {testChunk - 10, 20}, {3*testChunk + 5, 2*testChunk + 295}, {0, 0}} {
		rc, err := b.x.Open(context.Background(), img, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: %d bytes, %v", r, len(got), err)
		}
	}
	if got := b.x.Counters().FetchedChunks; got != int64(len(img.Manifest.Chunks)) {
		t.Fatalf("fetched %d chunks, want each once (then cached)", got)
	}
	if b.view.cached == 0 || !slices.Contains(b.view.Holders("img", 0), b.id) {
		t.Fatal("fetched chunks were not kept and announced")
	}
	if _, err := b.x.Open(context.Background(), img, 10, int64(len(data))); !errors.Is(err, transfer.ErrBadRange) {
		t.Fatalf("open beyond the image: %v", err)
	}
}

// TestLyingPeerDemoted: a holder that sends bytes not matching the
// digest is never believed — the reader gets the chunk from an honest
// holder — and is ranked last afterwards.
func TestLyingPeerDemoted(t *testing.T) {
	w, nodes := newWorld(t, transfer.Config{Replicas: 2, UploadSlots: 4}, "z1", "z2", "z3")
	a := nodes[0]
	data := randomData(testChunk, 2)
	img := ingest(t, w, a, "img", data)
	liar := a
	var honest, reader *testNode
	for _, n := range nodes[1:] {
		if slices.Contains(img.Placement, n.id) {
			honest = n
		} else {
			reader = n
		}
	}
	liar.lie = true
	// The reader asks the liar first: same zone.
	w.setZone(reader.id, "z1")
	buf, got, err := reader.x.FetchChunk(context.Background(), img, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetch: %v", err)
	}
	buf.Release()
	if got := reader.x.Counters().CorruptPeer; got != 1 {
		t.Fatalf("corrupt answers counted %d, want 1", got)
	}
	if r := reader.x.RankHolders([]string{liar.id, honest.id}, nil); len(r) != 2 || r[0].ID != honest.id {
		t.Fatalf("ranking after the lie %v, want the honest holder %s first", r, honest.id)
	}
}

// TestBusyHolderNamesCopies: a holder with no free upload slot refuses
// at once and names the nodes holding cached copies; the requester, told
// every holder is busy, gets ErrAllBusy from TryFetchChunk.
func TestBusyHolderNamesCopies(t *testing.T) {
	w, nodes := newWorld(t, transfer.Config{Replicas: 1, UploadSlots: 0}, "z1", "z1", "z1")
	a, b, c := nodes[0], nodes[1], nodes[2]
	img := ingest(t, w, a, "img", randomData(testChunk, 3))
	// b holds a cached copy (gossip says so), not durably.
	b.view.Announce("img", 1, []int{0})
	req := peer.ChunkRequest{Digest: img.Manifest.Chunks[0].Digest, Image: "img", Idx: 0}
	err := a.x.ServeChunk(context.Background(), req, func(int) io.Writer { return io.Discard })
	var busy *peer.BusyError
	if !errors.As(err, &busy) || busy.Origin || !slices.Equal(busy.Try, []string{b.id}) {
		t.Fatalf("serve at the slot limit: %v, want busy naming [%s]", err, b.id)
	}
	if _, _, err := c.x.TryFetchChunk(context.Background(), img, 0); !errors.Is(err, transfer.ErrAllBusy) {
		t.Fatalf("try fetch with every holder busy: %v", err)
	}
	if got := a.x.Counters().BusyRefusals; got < 2 {
		t.Fatalf("busy refusals %d", got)
	}
}

// TestSpreadPick: copies go to unused zones first, then unused racks.
func TestSpreadPick(t *testing.T) {
	used := []transfer.Member{{ID: "self", Zone: "z1", Rack: "r1"}}
	cands := []transfer.Member{
		{ID: "same-rack", Zone: "z1", Rack: "r1"},
		{ID: "other-rack", Zone: "z1", Rack: "r2"},
		{ID: "other-zone", Zone: "z2", Rack: "r1"},
	}
	for range 20 {
		got := transfer.SpreadPick(3, cands, used)
		ids := []string{got[0].ID, got[1].ID, got[2].ID}
		if !slices.Equal(ids, []string{"other-zone", "other-rack", "same-rack"}) {
			t.Fatalf("picked %v", ids)
		}
	}
	if got := transfer.SpreadPick(1, nil, used); len(got) != 0 {
		t.Fatalf("picked %v from no candidates", got)
	}
}
