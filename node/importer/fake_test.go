package importer

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// fakeCatalog is an in-memory catalog with revisions, as the replicated
// one answers: a write at a stale revision is a catalog.ErrConflict.
type fakeCatalog struct {
	mu     sync.Mutex
	rev    uint64
	images map[string]*catalog.Image
	docs   map[string]*catalog.Doc // kind + "/" + id
}

var _ Catalog = (*fakeCatalog)(nil)

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{images: map[string]*catalog.Image{}, docs: map[string]*catalog.Doc{}}
}

// put stores img as it is (a test's starting state) and returns it with
// its new revision.
func (c *fakeCatalog) put(img *catalog.Image) *catalog.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rev++
	img = img.Clone()
	img.Revision = c.rev
	c.images[img.ID] = img
	return img.Clone()
}

func (c *fakeCatalog) Image(id string) (*catalog.Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.images[id]
	if !ok {
		return nil, catalog.ErrNotFound
	}
	return img.Clone(), nil
}

func (c *fakeCatalog) EachLocked(fn func(*catalog.Image) bool) {
	c.mu.Lock()
	var all []*catalog.Image
	for _, img := range c.images {
		if img.Upload != nil {
			all = append(all, img.Clone())
		}
	}
	c.mu.Unlock()
	for _, img := range all {
		if !fn(img) {
			return
		}
	}
}

func (c *fakeCatalog) Doc(kind, id string) (*catalog.Doc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.docs[kind+"/"+id]
	if !ok {
		return nil, catalog.ErrNotFound
	}
	cp := *d
	return &cp, nil
}

func (c *fakeCatalog) Docs(kind string) []*catalog.Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*catalog.Doc
	for _, d := range c.docs {
		if d.Kind == kind {
			cp := *d
			out = append(out, &cp)
		}
	}
	return out
}

func (c *fakeCatalog) UpdateImage(_ context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.images[img.ID]
	if !ok {
		return nil, catalog.ErrNotFound
	}
	if cur.Revision != expect {
		return nil, catalog.ErrConflict
	}
	c.rev++
	next := img.Clone()
	next.Revision = c.rev
	c.images[img.ID] = next
	return next.Clone(), nil
}

func (c *fakeCatalog) MutateImage(ctx context.Context, id string, fn func(*catalog.Image) error) (*catalog.Image, error) {
	var out *catalog.Image
	err := catalog.RetryOnConflict(ctx, 7, nil, func(ctx context.Context) error {
		cur, err := c.Image(id)
		if err != nil {
			return err
		}
		if err := fn(cur); err != nil {
			return err
		}
		out, err = c.UpdateImage(ctx, cur, cur.Revision)
		return err
	})
	return out, err
}

func (c *fakeCatalog) PutDoc(_ context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := d.Kind + "/" + d.ID
	cur, exists := c.docs[key]
	switch {
	case create && exists:
		return nil, catalog.ErrExists
	case !create && !exists:
		return nil, catalog.ErrNotFound
	case !create && expect != 0 && cur.Revision != expect:
		return nil, catalog.ErrConflict
	}
	c.rev++
	cp := *d
	cp.Revision = c.rev
	c.docs[key] = &cp
	out := cp
	return &out, nil
}

func (c *fakeCatalog) DeleteDoc(_ context.Context, kind, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.docs, kind+"/"+id)
	return nil
}

func (c *fakeCatalog) Sync(context.Context) error { return nil }
func (c *fakeCatalog) Ready() bool                { return true }

// task returns the stored task id.
func (c *fakeCatalog) task(t *testing.T, id string) *catalog.Task {
	t.Helper()
	d, err := c.Doc(catalog.TaskKind, id)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	task, err := catalog.TaskFromDoc(d)
	if err != nil {
		t.Fatalf("decode task %s: %v", id, err)
	}
	return task
}

// fakeData keeps each ingested stream whole, as one chunk held by this
// node.
type fakeData struct {
	mu        sync.Mutex
	self      string
	stored    map[string][]byte // chunk digest (hex sha512 here) -> data
	ingests   int
	aborted   []string // image ids of uploads aborted
	copied    []string // zones copied to
	copyErr   error
	unprotect int
}

var _ Data = (*fakeData)(nil)

func newFakeData(self string) *fakeData {
	return &fakeData{self: self, stored: map[string][]byte{}}
}

func (d *fakeData) Ingest(_ context.Context, _ string, r io.Reader) (*catalog.Manifest, []string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read upload stream: %w: %w", catalog.ErrUploadInterrupted, err)
	}
	m, s := md5.Sum(data), sha512.Sum512(data)
	digest := hex.EncodeToString(s[:])
	d.mu.Lock()
	d.ingests++
	d.stored[digest] = data
	d.mu.Unlock()
	man := &catalog.Manifest{
		Size: int64(len(data)), Checksum: hex.EncodeToString(m[:]),
		OSHashAlgo: "sha512", OSHashValue: digest,
	}
	if len(data) > 0 {
		man.Chunks = []catalog.ChunkRef{{Digest: digest, Size: int64(len(data))}}
	}
	return man, []string{d.self}, nil
}

func (d *fakeData) FetchChunk(_ context.Context, src *catalog.Image, idx int) ([]byte, func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, ok := d.stored[src.Manifest.Chunks[idx].Digest]
	if !ok {
		return nil, nil, fmt.Errorf("chunk %d of %s: %w", idx, src.ID, catalog.ErrUnavailable)
	}
	return data, func() {}, nil
}

func (d *fakeData) CopyToZone(_ context.Context, _ string, _ *catalog.Manifest, _ []string, zone string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.copyErr != nil {
		return "", d.copyErr
	}
	d.copied = append(d.copied, zone)
	return "node-in-" + zone, nil
}

func (d *fakeData) Unprotect(string) {
	d.mu.Lock()
	d.unprotect++
	d.mu.Unlock()
}

func (d *fakeData) KickGC() {}

func (d *fakeData) AbortUpload(imageID, _ string) {
	d.mu.Lock()
	d.aborted = append(d.aborted, imageID)
	d.mu.Unlock()
}

// fakeCluster is a cluster whose members are listed as alive or not.
type fakeCluster struct {
	mu     sync.Mutex
	self   string
	alive  map[string]bool
	leader bool
}

var _ Cluster = (*fakeCluster)(nil)

func (c *fakeCluster) Self() string { return c.self }
func (c *fakeCluster) Alive(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return id == c.self || c.alive[id]
}
func (c *fakeCluster) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}
func (c *fakeCluster) ZoneHolds(zone string, nodes []string) bool {
	for _, n := range nodes {
		if n == "node-in-"+zone {
			return true
		}
	}
	return false
}
func (c *fakeCluster) AnnounceAll(string, int) {}

// harness is an Importer over fakes, running until the test ends.
type harness struct {
	im      *Importer
	cat     *fakeCatalog
	data    *fakeData
	cluster *fakeCluster
}

// newHarness builds an Importer over fakes. Unless cfg has a Filter, the
// importer may read from 127.0.0.1 on any port (the test servers): the
// operator's explicit opt-out of the internal-address check.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{cat: newFakeCatalog(), data: newFakeData("self"), cluster: &fakeCluster{self: "self", alive: map[string]bool{}}}
	cfg.Replicas = max(cfg.Replicas, 1)
	if cfg.Filter == nil {
		cfg.Filter = mustFilter(t, urlfilter.Rules{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{}})
	}
	h.im = New(cfg, Deps{Catalog: h.cat, Data: h.data, Cluster: h.cluster})
	return h
}

// mustFilter builds a filter policy or fails the test.
func mustFilter(t *testing.T, r urlfilter.Rules, opts ...urlfilter.Option) *urlfilter.Policy {
	t.Helper()
	p, err := urlfilter.New(r, opts...)
	if err != nil {
		t.Fatalf("urlfilter.New: %v", err)
	}
	return p
}

// run runs the importer until the test ends (and waits for it).
func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.im.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the importer to run", h.im.running)
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// queuedImage returns a queued raw/bare image named id.
func queuedImage(id string) *catalog.Image {
	raw, bare := "raw", "bare"
	return &catalog.Image{ID: id, Status: catalog.StatusQueued, DiskFormat: &raw, ContainerFormat: &bare, Properties: map[string]string{}}
}

// newTask returns a pending import task.
func newTask(id string) *catalog.Task {
	now := time.Now().UTC()
	return &catalog.Task{ID: id, Type: catalog.TaskTypeAPIImageImport, Status: catalog.TaskPending, CreatedAt: now, UpdatedAt: now}
}
