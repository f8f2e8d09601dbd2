package testcluster_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// cacheListing is GET /v2/cache on a node: the cached images by id and
// the queued ids.
func (c apiClient) cacheListing(t testing.TB) (map[string]map[string]any, []string) {
	t.Helper()
	m := c.do(t, "GET", "/v2/cache", nil).want(t, http.StatusOK).obj(t)
	cached := map[string]map[string]any{}
	list, ok := m["cached_images"].([]any)
	if !ok {
		t.Fatalf("GET /v2/cache: no cached_images list: %v", m)
	}
	for _, v := range list {
		e := v.(map[string]any)
		cached[e["image_id"].(string)] = e
	}
	var queued []string
	q, ok := m["queued_images"].([]any)
	if !ok {
		t.Fatalf("GET /v2/cache: no queued_images list: %v", m)
	}
	for _, v := range q {
		queued = append(queued, v.(string))
	}
	return cached, queued
}

// uploadRawImage creates a raw/bare image through a and uploads data.
func (c apiClient) uploadRawImage(t testing.TB, name string, data []byte, hdr ...string) string {
	t.Helper()
	id := c.create(t, `{"name": "`+name+`", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	c.upload(t, id, data, hdr...).want(t, http.StatusNoContent)
	return id
}

// TestCacheQueueWaitsForThePass: an image queued for caching is listed
// under queued_images, not cached, until the prefetch pass (Glance's
// cache_prefetcher_interval, an hour on node 0 here) takes it; deleting
// it from the cache takes it off the queue. Node 1 fetches at once.
func TestCacheQueueWaitsForThePass(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(1), smallChunks(),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			if i == 0 {
				cfg.CachePrefetchInterval = time.Hour
			}
		}))
	waitSettled(c)
	a0, a1 := newAPIClient(c), apiClient{base: c.URL(1)}
	id := a1.uploadRawImage(t, "queued-for-cache", randomBytes(33, 3*256<<10))
	a0.do(t, "PUT", "/v2/cache/"+id, nil).want(t, http.StatusAccepted)
	cached, queued := a0.cacheListing(t)
	if cached[id] != nil || !slices.Equal(queued, []string{id}) {
		t.Fatalf("right after queueing: cached %v, queued %v", cached[id], queued)
	}
	a0.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusNoContent)
	if cached, queued := a0.cacheListing(t); cached[id] != nil || len(queued) != 0 {
		t.Fatalf("after deleting the entry: cached %v, queued %v", cached[id], queued)
	}
	a1.do(t, "PUT", "/v2/cache/"+id, nil).want(t, http.StatusAccepted)
	c.Eventually(testTimeout, "node 1 caches the image", func() bool {
		cached, queued := a1.cacheListing(t)
		return cached[id] != nil && len(queued) == 0
	})
}

// TestCacheAPI drives /v2/cache on a node that holds no durable copy: it
// prefetches from peers, lists, counts hits, evicts and clears; eviction
// on a durable holder keeps its pinned chunks.
func TestCacheAPI(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(2), smallChunks())
	waitSettled(c)
	adm := newAPIClient(c)
	data := randomBytes(31, 5*256<<10+777) // 6 chunks
	id := adm.uploadRawImage(t, "cached", data)
	placement := placementOf(t, c, 0, id)
	far := outsider(c, placement)
	holder := slices.Index([]string{"node0", "node1", "node2"}, placement[0])
	x, h := apiClient{base: c.URL(far)}, apiClient{base: c.URL(holder)}

	// Policy: admin only, after the image lookup (404 first, as Glance).
	user := x.as("p1")
	user.do(t, "GET", "/v2/cache", nil).want(t, http.StatusForbidden)
	user.do(t, "PUT", "/v2/cache/"+id, nil).want(t, http.StatusForbidden)
	user.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusForbidden)
	user.do(t, "DELETE", "/v2/cache", nil).want(t, http.StatusForbidden)
	user.do(t, "POST", "/v2/cache/prune", nil).want(t, http.StatusForbidden)
	user.do(t, "POST", "/v2/cache/clean", nil).want(t, http.StatusForbidden)
	user.do(t, "GET", "/v2/cache/nodes/"+id, nil).want(t, http.StatusForbidden)
	x.do(t, "PUT", "/v2/cache/00000000-0000-0000-0000-000000000000", nil).wantErr(t, http.StatusNotFound, "not found")
	x.do(t, "DELETE", "/v2/cache/00000000-0000-0000-0000-000000000000", nil).want(t, http.StatusNotFound)
	queued := adm.create(t, `{"name": "empty"}`)["id"].(string)
	x.do(t, "PUT", "/v2/cache/"+queued, nil).wantErr(t, http.StatusBadRequest, "Only images with status active")
	x.do(t, "PATCH", "/v2/cache", nil).want(t, http.StatusMethodNotAllowed)

	cached, q := x.cacheListing(t)
	if len(cached) != 0 || len(q) != 0 {
		t.Fatalf("node %d caches %v and queues %v before anything", far, cached, q)
	}
	// Queue: the node fetches every chunk from the holders.
	r := x.do(t, "PUT", "/v2/cache/"+id, nil).want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Fatalf("PUT /v2/cache answered a body: %q", r.body)
	}
	var entry map[string]any
	c.Eventually(testTimeout, "the image is cached on the non-holder", func() bool {
		cached, q := x.cacheListing(t)
		entry = cached[id]
		return entry != nil && len(q) == 0
	})
	if entry["size"] != float64(len(data)) || entry["hits"] != float64(0) || entry["last_modified"].(float64) <= 0 {
		t.Fatalf("cache entry %v", entry)
	}
	if m := c.Node(far).Metrics(); m.FetchedChunks < 6 || m.StoredChunks != 6 {
		t.Fatalf("node %d fetched %d chunks and holds %d, want >= 6 and 6", far, m.FetchedChunks, m.StoredChunks)
	}
	got := download(t, glance(c.URL(far), ""), id)
	if !bytes.Equal(got, data) {
		t.Fatal("download from the cache differs")
	}
	cached, _ = x.cacheListing(t)
	if e := cached[id]; e["hits"] != float64(1) || e["last_accessed"].(float64) < e["last_modified"].(float64) {
		t.Fatalf("after one download: %v", e)
	}
	c.Eventually(testTimeout, "the trackers list the three holders", func() bool {
		var urls []string
		if err := json.Unmarshal(x.do(t, "GET", "/v2/cache/nodes/"+id, nil).want(t, http.StatusOK).body, &urls); err != nil {
			t.Fatal(err)
		}
		return len(urls) == 3 && slices.Contains(urls, c.URL(far))
	})

	// A durable holder lists the image once it served it (Glance lists
	// what the node cached, not its store); evicting it there keeps the
	// pinned chunks and forgets the entry.
	if cached, _ := h.cacheListing(t); cached[id] != nil {
		t.Fatalf("holder %d lists an image it only stores: %v", holder, cached[id])
	}
	download(t, glance(c.URL(holder), ""), id)
	if cached, _ := h.cacheListing(t); cached[id] == nil {
		t.Fatalf("holder %d does not list the image it served", holder)
	}
	before := c.Node(holder).Metrics().StoredChunks
	h.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusNoContent)
	if after := c.Node(holder).Metrics().StoredChunks; after != before || before < 6 {
		t.Fatalf("holder %d had %d chunks, has %d after eviction", holder, before, after)
	}
	if cached, _ := h.cacheListing(t); cached[id] != nil {
		t.Fatalf("holder %d still lists the image it evicted: %v", holder, cached[id])
	}
	// On the non-holder everything goes, and a download fetches again.
	x.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusNoContent)
	if m := c.Node(far).Metrics(); m.StoredChunks != 0 {
		t.Fatalf("node %d keeps %d chunks after eviction", far, m.StoredChunks)
	}
	if cached, _ := x.cacheListing(t); cached[id] != nil {
		t.Fatalf("evicted image still listed: %v", cached[id])
	}
	if got := download(t, glance(c.URL(far), ""), id); !bytes.Equal(got, data) {
		t.Fatal("download after eviction differs")
	}

	// Clear: a bad target is 400; "cache" evicts, "queue" empties the queue.
	x.do(t, "DELETE", "/v2/cache", nil, "X-Image-Cache-Clear-Target", "bogus").wantErr(t, http.StatusBadRequest, "x-image-cache-clear-target")
	x.do(t, "DELETE", "/v2/cache", nil, "X-Image-Cache-Clear-Target", "Cache").want(t, http.StatusNoContent)
	if m := c.Node(far).Metrics(); m.StoredChunks != 0 {
		t.Fatalf("node %d keeps %d chunks after clearing the cache", far, m.StoredChunks)
	}
	x.do(t, "PUT", "/v2/cache/"+id, nil).want(t, http.StatusAccepted)
	x.do(t, "DELETE", "/v2/cache", nil, "X-Image-Cache-Clear-Target", "queue").want(t, http.StatusNoContent)
	if _, q := x.cacheListing(t); len(q) != 0 {
		t.Fatalf("queue %v after clearing it", q)
	}
	x.do(t, "DELETE", "/v2/cache", nil).want(t, http.StatusNoContent)
	if r := x.do(t, "POST", "/v2/cache/clean", nil).want(t, http.StatusOK); len(r.body) != 0 {
		t.Fatalf("clean answered a body: %q", r.body)
	}
	// No budget configured: prune evicts nothing.
	m := x.do(t, "POST", "/v2/cache/prune", nil).want(t, http.StatusOK).obj(t)
	if m["total_files_pruned"] != float64(0) || m["total_bytes_pruned"] != float64(0) {
		t.Fatalf("prune without a budget: %v", m)
	}
}

// TestCachePruneLeastRecentlyUsed fills a non-holder's cache with three
// images used in turn; prune with a budget for one evicts the two used
// least recently, and never touches a durable holder's chunks.
func TestCachePruneLeastRecentlyUsed(t *testing.T) {
	const chunk = 256 << 10
	c := testcluster.New(t, 2, testcluster.InMemory(), testcluster.WithReplicas(1), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = chunk
		cfg.CacheBudget = 2*chunk + chunk/2
	}))
	waitSettled(c)
	holder, far := newAPIClient(c), apiClient{base: c.URL(1)}
	var ids []string
	for i, name := range []string{"old", "middle", "new"} {
		data := randomBytes(uint64(40+i), 2*chunk)
		id := holder.uploadRawImage(t, name, data)
		if p := placementOf(t, c, 0, id); !slices.Equal(p, []string{"node0"}) {
			t.Fatalf("placement %v, want node0 alone", p)
		}
		ids = append(ids, id)
	}
	for _, id := range ids { // used in this order: old is the least recent
		download(t, glance(c.URL(1), ""), id)
	}
	// The budget is kept on its own: the GC loop evicts least recently
	// used chunks while the downloads run.
	c.Eventually(10*time.Second, "node 1 evicts down to its budget", func() bool {
		return c.Node(1).Metrics().StoredChunks <= 2
	})
	// Use the newest image once more (eviction may have raced its
	// download), then prune synchronously: only it stays cached.
	download(t, glance(c.URL(1), ""), ids[2])
	far.do(t, "POST", "/v2/cache/prune", nil).want(t, http.StatusOK).obj(t)
	cached, _ := far.cacheListing(t)
	if len(cached) != 1 || cached[ids[2]] == nil {
		t.Fatalf("after prune node 1 caches %v, want only %s", cached, ids[2])
	}
	if m := c.Node(1).Metrics(); m.StoredChunks != 2 {
		t.Fatalf("node 1 holds %d chunks after prune, want 2", m.StoredChunks)
	}
	// Everything on node 0 is a durable copy: nothing to prune.
	m := holder.do(t, "POST", "/v2/cache/prune", nil).want(t, http.StatusOK).obj(t)
	if m["total_files_pruned"] != float64(0) || c.Node(0).Metrics().StoredChunks != 6 {
		t.Fatalf("prune on the holder: %v, %d chunks left", m, c.Node(0).Metrics().StoredChunks)
	}
	// The pruned images still download on node 1, from the holder.
	for i, id := range ids[:2] {
		if got := download(t, glance(c.URL(1), ""), id); !bytes.Equal(got, randomBytes(uint64(40+i), 2*chunk)) {
			t.Fatalf("image %s after prune differs", id)
		}
	}
}
