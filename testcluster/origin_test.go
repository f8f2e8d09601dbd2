package testcluster_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestDurableHoldersServeEachChunkOnce: once a cached copy of an image
// exists, its durable holders (the origin) send further requests for a
// chunk they served already to that copy, so a fleet fetch costs the
// holders at most R x S bytes however many nodes fetch. Every download
// stays byte-exact. In single-origin mode (NoCache: no cached copies are
// announced) the holders keep serving everyone.
func TestDurableHoldersServeEachChunkOnce(t *testing.T) {
	const n, replicas, chunk = 7, 2, 64 << 10
	type result struct {
		c                *testcluster.Cluster
		id               string
		holders          []int
		served, refusals int64
		size             int
	}
	run := func(t *testing.T, noCache bool) result {
		// No cluster secret: the test speaks the peer protocol itself.
		c := testcluster.New(t, n, testcluster.InMemory(), testcluster.WithSecret(""), testcluster.WithReplicas(replicas), testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = chunk
			cfg.NoCache = noCache
		}))
		data := randomBytes(77, 24*chunk+5)
		img := createAndUpload(t, glance(c.URL(0), ""), "origin", data)
		pl := placementOf(t, c, 0, img.ID)
		r := result{c: c, id: img.ID, size: len(data)}
		var others []int
		for i := range n {
			if slices.Contains(pl, c.Node(i).ID()) {
				r.holders = append(r.holders, i)
			} else {
				others = append(others, i)
			}
		}
		// The first fetcher takes every chunk from the holders; wait
		// until both holders see its copy.
		first := others[0]
		checkImageData(t, img, data, download(t, glance(c.URL(first), ""), img.ID))
		if !noCache {
			want := "http://" + c.Node(first).APIAddr()
			c.Eventually(30*time.Second, "holders see the first fetcher's copy", func() bool {
				for _, h := range r.holders {
					nodes, _ := c.Node(h).CacheNodes(context.Background(), img.ID)
					if !slices.Contains(nodes, want) {
						return false
					}
				}
				return true
			})
		}
		var wg sync.WaitGroup
		for _, i := range others[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				checkImageData(t, img, data, download(t, glance(c.URL(i), ""), img.ID))
			}()
		}
		wg.Wait()
		for _, h := range r.holders {
			m := c.Node(h).Metrics()
			r.served += m.ServedBytes - m.LastResortBytes
			r.refusals += m.OriginRefusals
		}
		return r
	}
	t.Run("Swarm", func(t *testing.T) {
		r := run(t, false)
		t.Logf("holders served %d bytes (%.2f S), %d origin refusals", r.served, float64(r.served)/float64(r.size), r.refusals)
		if r.served > int64(replicas*r.size) {
			t.Fatalf("durable holders served %d bytes to peers, over R x S = %d", r.served, replicas*r.size)
		}
		// The protocol itself, on chunk 0: a holder asked twice serves
		// at most once and then names the cached copy; asked as a last
		// resort it serves.
		img, err := r.c.Node(r.holders[0]).Image(context.Background(), r.id)
		if err != nil {
			t.Fatal(err)
		}
		holderIDs := []string{r.c.Node(r.holders[0]).ID(), r.c.Node(r.holders[1]).ID()}
		for _, h := range r.holders {
			peer := r.c.Member(h).Config.PeerAddr
			for range 2 {
				getChunk(t, peer, img, 0, false)
			}
			status, hdr := getChunk(t, peer, img, 0, false)
			try := strings.Split(hdr.Get("X-P2pglance-Try"), ",")
			if status != http.StatusServiceUnavailable || hdr.Get("X-P2pglance-Origin") == "" || try[0] == "" ||
				slices.ContainsFunc(try, func(id string) bool { return slices.Contains(holderIDs, id) }) {
				t.Fatalf("holder %d asked again for a chunk it served: %d %v (holders %v)", h, status, hdr, holderIDs)
			}
			if status, _ := getChunk(t, peer, img, 0, true); status != http.StatusOK {
				t.Fatalf("holder %d refused a last-resort request: %d", h, status)
			}
		}
	})
	t.Run("SingleOrigin", func(t *testing.T) {
		r := run(t, true)
		if r.refusals != 0 || r.served != int64((n-replicas)*r.size) {
			t.Fatalf("single-origin: holders served %d bytes (want (N-R) x S = %d), %d refusals", r.served, (n-replicas)*r.size, r.refusals)
		}
	})
}

// getChunk asks a node's peer port for chunk idx of img, as a peer does.
func getChunk(t *testing.T, peerAddr string, img *catalog.Image, idx int, lastResort bool) (int, http.Header) {
	t.Helper()
	u := "http://" + peerAddr + "/internal/v1/chunks/" + img.Manifest.Chunks[idx].Digest + "?image=" + img.ID + "&idx=0"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastResort {
		req.Header.Set("X-P2pglance-Last-Resort", "1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}
