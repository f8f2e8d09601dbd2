package testcluster_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestOriginForgetsStaleRecipients: a durable holder names the nodes it
// sent a chunk to as copies; once one of them has evicted it, a
// requester that asks as a last resort (the named copies did not help)
// makes the holder forget those names, so later requesters are not sent
// to the evicted copy (and kept waiting a second for the last resort)
// again and again.
func TestOriginForgetsStaleRecipients(t *testing.T) {
	c := testcluster.New(t, 2, testcluster.InMemory(), testcluster.WithSecret(""), testcluster.WithReplicas(1), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 64 << 10
	}))
	data := randomBytes(78, 3*64<<10+1)
	up := createAndUpload(t, glance(c.URL(0), ""), "hints", data)
	if p := placementOf(t, c, 0, up.ID); !slices.Equal(p, []string{c.Node(0).ID()}) {
		t.Fatalf("placement %v", p)
	}
	checkImageData(t, up, data, download(t, glance(c.URL(1), ""), up.ID))
	img, err := c.Node(0).Image(context.Background(), up.ID)
	if err != nil {
		t.Fatal(err)
	}
	peer := c.Member(0).Config.PeerAddr
	// Asked again, the holder names node 1 (it sent the chunk there). It
	// names only nodes gossip sees alive, and on a loaded machine gossip
	// may briefly suspect node 1, when the holder serves instead: poll.
	testcluster.WaitUntil(t, testTimeout, "the holder, asked again, names node 1", func() bool {
		status, hdr := getChunk(t, peer, img, 0, false)
		return status == http.StatusServiceUnavailable && hdr.Get("X-P2pglance-Try") == c.Node(1).ID()
	})
	// Node 1 evicts its copy and tells the image's trackers; the holder
	// asks them.
	apiClient{base: c.URL(1)}.do(t, "DELETE", "/v2/cache/"+up.ID, nil).want(t, http.StatusNoContent)
	testcluster.WaitUntil(t, testTimeout, "the holder sees node 1's copy gone", func() bool {
		nodes, _ := c.Node(0).CacheNodes(context.Background(), up.ID)
		return !slices.Contains(nodes, "http://"+c.Node(1).APIAddr())
	})
	// No copy exists: after a last-resort request the holder serves
	// instead of naming node 1 again. The holder's per-chunk view of
	// node 1 is a lookup kept briefly, so this is polled; a holder
	// that kept its recipient names forever never gets there.
	testcluster.WaitUntil(t, testTimeout, "the holder serves instead of naming the evicted copy", func() bool {
		if status, _ := getChunk(t, peer, img, 0, true); status != http.StatusOK {
			t.Fatalf("last-resort request: %d", status)
		}
		for range 3 {
			if status, _ := getChunk(t, peer, img, 0, false); status != http.StatusOK {
				return false
			}
		}
		return true
	})
}
