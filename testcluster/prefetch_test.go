package testcluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// prefetchCall sends a prefetch API request and decodes the job.
func prefetchCall(t *testing.T, method, url string, body any) (int, *catalog.PrefetchJob) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var job catalog.PrefetchJob
	_ = json.NewDecoder(resp.Body).Decode(&job)
	return resp.StatusCode, &job
}

func waitJob(t *testing.T, c *testcluster.Cluster, i int, id, state string) *catalog.PrefetchJob {
	t.Helper()
	var job *catalog.PrefetchJob
	c.Eventually(30*time.Second, fmt.Sprintf("job %s is %s", id, state), func() bool {
		_, job = prefetchCall(t, http.MethodGet, c.URL(i)+"/p2p/v1/prefetch/"+id, nil)
		return job.State == state
	})
	return job
}

func TestPrefetchJobs(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithReplicas(2), testcluster.WithZones("z1", "z2"),
		testcluster.WithConfig(func(_ int, cfg *node.Config) { cfg.ChunkSize = 256 << 10 }))
	data := randomBytes(120, 3<<20) // 12 chunks
	img := createAndUpload(t, glance(c.URL(0), ""), "seed", data)
	pl := placementOf(t, c, 0, img.ID)

	// Bad requests change nothing.
	if code, _ := prefetchCall(t, http.MethodPost, c.URL(1)+"/p2p/v1/prefetch", map[string]any{"image_id": img.ID}); code != 400 {
		t.Fatalf("no target: %d", code)
	}
	if code, _ := prefetchCall(t, http.MethodPost, c.URL(1)+"/p2p/v1/prefetch", map[string]any{"image_id": "nope", "target": map[string]any{"all": true}}); code != 400 {
		t.Fatalf("unknown image: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, c.URL(1)+"/p2p/v1/prefetch", nil)
	req.Header.Set("X-Project-Id", "p1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("non-admin list: %v %v", resp.StatusCode, err)
	}

	// Zone z2 only (nodes 1 and 3).
	code, job := prefetchCall(t, http.MethodPost, c.URL(2)+"/p2p/v1/prefetch", map[string]any{"image_id": img.ID, "target": map[string]any{"zone": "z2"}})
	if code != 202 || job.State != "running" || job.ID == "" {
		t.Fatalf("start zone job: %d %+v", code, job)
	}
	done := waitJob(t, c, 4, job.ID, "done")
	var ids []string
	for _, n := range done.Nodes {
		ids = append(ids, n.ID)
		if n.State != "done" || n.ChunksDone != 12 || n.BytesDone != int64(len(data)) {
			t.Fatalf("node entry %+v", n)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"node1", "node3"}) {
		t.Fatalf("zone job targeted %v", ids)
	}
	for _, i := range []int{1, 3} {
		if got := c.Node(i).Metrics().StoredChunks; got < 12 {
			t.Fatalf("node %d holds %d chunks after its zone's job", i, got)
		}
	}

	// Every node; re-running moves nothing that is already there.
	fetchedBefore := int64(0)
	for i := range 5 {
		fetchedBefore += c.Node(i).Metrics().FetchedChunks
	}
	_, all := prefetchCall(t, http.MethodPost, c.URL(0)+"/p2p/v1/prefetch", map[string]any{"image_id": img.ID, "target": map[string]any{"all": true}})
	waitJob(t, c, 1, all.ID, "done")
	fetched := int64(0)
	for i := range 5 {
		m := c.Node(i).Metrics()
		if m.StoredChunks < 12 {
			t.Fatalf("node %d holds %d chunks after the fleet job", i, m.StoredChunks)
		}
		fetched += m.FetchedChunks
	}
	// Only nodes 2 and 4 (or whichever lacked it) needed chunks: at most 12 each.
	missing := 0
	for i := range 5 {
		if !slices.Contains(pl, c.Node(i).ID()) && i != 1 && i != 3 {
			missing++
		}
	}
	if fetched-fetchedBefore > int64(12*missing) {
		t.Fatalf("fleet job fetched %d chunks; at most %d were missing", fetched-fetchedBefore, 12*missing)
	}
	_, again := prefetchCall(t, http.MethodPost, c.URL(3)+"/p2p/v1/prefetch", map[string]any{"image_id": img.ID, "target": map[string]any{"all": true}})
	waitJob(t, c, 3, again.ID, "done")
	after := int64(0)
	for i := range 5 {
		after += c.Node(i).Metrics().FetchedChunks
	}
	if after != fetched {
		t.Fatalf("re-running the job fetched %d more chunks", after-fetched)
	}

	// A node that joins later picks up the fleet job.
	k := c.Add()
	c.WaitMembers(6)
	c.Eventually(30*time.Second, "the new node fills itself", func() bool { return c.Node(k).Metrics().StoredChunks >= 12 })
	waitJob(t, c, k, all.ID, "done")

	// Jobs are listed; cancel answers the job as cancelled.
	resp, err := http.Get(c.URL(2) + "/p2p/v1/prefetch")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Jobs []catalog.PrefetchJob }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Jobs) != 3 {
		t.Fatalf("listed %d jobs", len(list.Jobs))
	}
	code, cancelled := prefetchCall(t, http.MethodDelete, c.URL(0)+"/p2p/v1/prefetch/"+all.ID, nil)
	if code != 200 || cancelled.State != "cancelled" {
		t.Fatalf("cancel: %d %+v", code, cancelled)
	}
	if code, _ := prefetchCall(t, http.MethodGet, c.URL(0)+"/p2p/v1/prefetch/nope", nil); code != 404 {
		t.Fatalf("unknown job: %d", code)
	}
}
