package testcluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/p2pglance/p2pglance/node/tracker"
	"github.com/p2pglance/p2pglance/testcluster"
)

// Who holds which chunk is kept by each image's three trackers (the
// live nodes with the highest rendezvous hash of image and node id,
// node/tracker). These tests pick image ids whose trackers sit where the
// test needs them, then take those nodes down, restart them, add nodes
// and withdraw copies, and check that every holder stays findable.

// uuid4 returns a random UUID (Glance accepts it as an image id).
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pickID returns a random image id for which ok holds.
func pickID(t *testing.T, ok func(id string) bool) string {
	t.Helper()
	for range 100000 {
		if id := uuid4(); ok(id) {
			return id
		}
	}
	t.Fatal("no image id fits")
	return ""
}

// trackersAmong returns an image's trackers, best first, were the given
// nodes all alive.
func trackersAmong(image string, ids []string) []string {
	var ms []tracker.Member
	for _, id := range ids {
		ms = append(ms, tracker.Member{ID: id, PeerAddr: "-", Alive: true})
	}
	return tracker.Trackers(image, ms, tracker.DefaultTrackers)
}

func nodeIDs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("node%d", i))
	}
	return out
}

// index returns the cluster index of node id ("nodeN").
func index(t *testing.T, id string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(id, "node%d", &i); err != nil {
		t.Fatalf("node id %q: %v", id, err)
	}
	return i
}

// uploadWithID creates a raw image with id through node i and uploads
// data, returning its durable holders.
func uploadWithID(t *testing.T, c *testcluster.Cluster, i int, id string, data []byte) []string {
	t.Helper()
	api := apiClient{base: c.URL(i)}
	api.create(t, `{"id": "`+id+`", "name": "tracked", "disk_format": "raw", "container_format": "bare"}`)
	api.upload(t, id, data).want(t, http.StatusNoContent)
	return placementOf(t, c, i, id)
}

// sameData fails the test unless a download returned what was uploaded.
func sameData(t *testing.T, want, got []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(want))
	}
}

// tracks holds once node i, as a tracker, knows every one of holders as
// holding every chunk.
func tracks(c *testcluster.Cluster, i int, id string, holders ...string) func() bool {
	return func() bool { return holdsAll(c.Node(i).TrackedHolders(id), holders) }
}

// holdsAll reports whether got names every one of holders as holding
// every chunk.
func holdsAll(got map[string][]bool, holders []string) bool {
	for _, h := range holders {
		if len(got[h]) == 0 || slices.Contains(got[h], false) {
			return false
		}
	}
	return true
}

// lookupFinds asks node i's trackers afresh and reports whether every
// one of holders is named as holding every chunk.
func lookupFinds(t *testing.T, c *testcluster.Cluster, i int, id string, holders ...string) bool {
	t.Helper()
	got, err := c.Node(i).LookupHolders(context.Background(), id)
	if err != nil {
		t.Logf("lookup from node %d: %v", i, err)
		return false
	}
	return holdsAll(got, holders)
}

// TestHoldersWhenNodesFail: a tracker dies (lookups fall back to the
// next at once; the holders tell the node that took its place, nothing
// is lost), a holder dies (no tracker names it any more), a cached copy
// is evicted and an image deleted (both withdrawn from the trackers).
func TestHoldersWhenNodesFail(t *testing.T) {
	const n = 7
	c := testcluster.New(t, n, testcluster.InMemory(), testcluster.WithReplicas(2), smallChunks())
	// Node 0 (the first leader) tracks nothing here; node 1 will read
	// the image (a cached copy), node 2 ask about it.
	id := pickID(t, func(id string) bool {
		return !slices.ContainsFunc(trackersAmong(id, nodeIDs(n)), func(s string) bool { return s == "node0" || s == "node1" || s == "node2" })
	})
	data := randomBytes(11, 3*256<<10+17)
	placement := uploadWithID(t, c, 0, id, data)
	reader, asker := 1, 2
	if slices.Contains(placement, "node1") || slices.Contains(placement, "node2") {
		// The replicas went elsewhere than the test hoped: still a
		// reader and an asker outside the placement are needed.
		var free []int
		for i := 1; i < n; i++ {
			if !slices.Contains(placement, c.Node(i).ID()) && !slices.Contains(c.Node(0).Trackers(id), c.Node(i).ID()) {
				free = append(free, i)
			}
		}
		if len(free) < 2 {
			t.Skipf("placement %v and trackers %v leave no reader and asker", placement, c.Node(0).Trackers(id))
		}
		reader, asker = free[0], free[1]
	}
	readerID := c.Node(reader).ID()
	sameData(t, data, download(t, glance(c.URL(reader), ""), id))
	trackers := c.Node(asker).Trackers(id)
	holders := append(slices.Clone(placement), readerID)
	for _, tr := range trackers {
		c.Eventually(testTimeout, tr+" tracks every holder", tracks(c, index(t, tr), id, holders...))
	}

	// A tracker dies (one that holds no copy, so every holder stays);
	// before gossip notices, lookups ask the next one.
	dead := trackers[slices.IndexFunc(trackers, func(tr string) bool { return !slices.Contains(placement, tr) })]
	c.Stop(index(t, dead))
	for range 5 {
		if !lookupFinds(t, c, asker, id, holders...) {
			t.Fatalf("a lookup with tracker %s down lost a holder of %v", dead, holders)
		}
	}
	c.Eventually(testTimeout, "gossip sees "+dead+" dead and picks another tracker", func() bool {
		ts := c.Node(asker).Trackers(id)
		return len(ts) == 3 && !slices.Contains(ts, dead)
	})
	for _, tr := range c.Node(asker).Trackers(id) {
		c.Eventually(testTimeout, tr+" tracks every holder after "+dead+" died", tracks(c, index(t, tr), id, holders...))
	}

	// A holder dies: no tracker names it any more. The reader may have
	// become a tracker in place of the dead one; the asker must see it
	// gone before its trackers are asked.
	c.Stop(reader)
	c.Eventually(testTimeout, "the asker's trackers leave out "+readerID, func() bool {
		return !slices.Contains(c.Node(asker).Trackers(id), readerID)
	})
	for _, tr := range c.Node(asker).Trackers(id) {
		c.Eventually(testTimeout, tr+" forgets "+readerID, func() bool {
			_, ok := c.Node(index(t, tr)).TrackedHolders(id)[readerID]
			return !ok
		})
	}
	if nodes, err := c.Node(asker).CacheNodes(context.Background(), id); err != nil || slices.Contains(nodes, "http://"+c.Member(reader).Config.APIAddr) {
		t.Fatalf("cache nodes after %s died: %v %v", readerID, nodes, err)
	}

	// A cached copy evicted: withdrawn.
	sameData(t, data, download(t, glance(c.URL(asker), ""), id))
	askerID := c.Node(asker).ID()
	c.Eventually(testTimeout, "the asker's copy is tracked", func() bool { return lookupFinds(t, c, 0, id, askerID) })
	apiClient{base: c.URL(asker)}.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusNoContent)
	for _, tr := range c.Node(0).Trackers(id) {
		c.Eventually(testTimeout, tr+" forgets the evicted copy", func() bool {
			_, ok := c.Node(index(t, tr)).TrackedHolders(id)[askerID]
			return !ok
		})
	}

	// The image deleted: every holder withdraws it.
	apiClient{base: c.URL(0)}.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
	for _, tr := range c.Node(0).Trackers(id) {
		c.Eventually(testTimeout, tr+" forgets the deleted image", func() bool { return len(c.Node(index(t, tr)).TrackedHolders(id)) == 0 })
	}
}

// TestHoldersWhenTrackersChange: a tracker restarts (it lost its table;
// the holders tell it again) and a node joins that outranks the
// image's trackers (the holders tell it; the tracker it pushed out
// forgets the image); lookups name every holder throughout.
func TestHoldersWhenTrackersChange(t *testing.T) {
	const n = 5
	c := testcluster.New(t, n, testcluster.WithReplicas(2), smallChunks())
	// node5, added later, will be the image's first tracker; node0 (the
	// first leader, and the asker here) and node1 (the reader) track
	// nothing before.
	id := pickID(t, func(id string) bool {
		before := trackersAmong(id, nodeIDs(n))
		return trackersAmong(id, nodeIDs(n+1))[0] == "node5" && !slices.Contains(before, "node0") && !slices.Contains(before, "node1")
	})
	before := trackersAmong(id, nodeIDs(n))
	data := randomBytes(12, 2*256<<10+5)
	placement := uploadWithID(t, c, 0, id, data)
	sameData(t, data, download(t, glance(c.URL(1), ""), id))
	holders := placement
	if !slices.Contains(holders, "node1") {
		holders = append(slices.Clone(placement), "node1")
	}
	if got := c.Node(0).Trackers(id); !slices.Equal(got, before) {
		t.Fatalf("node0 computes trackers %v, want %v", got, before)
	}
	for _, tr := range before {
		c.Eventually(testTimeout, tr+" tracks every holder", tracks(c, index(t, tr), id, holders...))
	}

	// A tracker restarts with an empty table. While the holders have not
	// told it again, askers complete its (partial) answer from the next
	// tracker. (A holder that is the restarted node itself is named
	// again once it has caught up and announced.)
	restarted := before[0]
	others := slices.DeleteFunc(slices.Clone(holders), func(h string) bool { return h == restarted })
	c.Restart(index(t, restarted))
	c.Eventually(testTimeout, restarted+" tracks every holder again", func() bool {
		if !lookupFinds(t, c, 0, id, others...) {
			t.Fatalf("a lookup lost a holder of %v while %s restarted", others, restarted)
		}
		return tracks(c, index(t, restarted), id, holders...)()
	})

	// node5 joins and outranks every tracker of the image.
	added := c.Add()
	c.WaitMembers(n + 1)
	if got := c.Node(0).Trackers(id); got[0] != "node5" || slices.Contains(got, before[2]) {
		t.Fatalf("trackers after node5 joined: %v (before %v)", got, before)
	}
	c.Eventually(testTimeout, "node5 tracks every holder", func() bool {
		if !lookupFinds(t, c, 0, id, holders...) {
			t.Fatalf("a lookup lost a holder of %v while node5 joined", holders)
		}
		return tracks(c, added, id, holders...)()
	})
	c.Eventually(testTimeout, before[2]+", pushed out, forgets the image", func() bool {
		return len(c.Node(index(t, before[2])).TrackedHolders(id)) == 0
	})
	if !lookupFinds(t, c, 0, id, holders...) {
		t.Fatalf("a lookup lost a holder of %v after node5 joined", holders)
	}
}
