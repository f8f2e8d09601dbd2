package testcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestRepairAfterHolderLoss: when a durable holder is gone past the
// grace period, the leader has another node copy the image, so it is back
// at R live copies; the time to repair is logged.
func TestRepairAfterHolderLoss(t *testing.T) {
	c := testcluster.New(t, 4, testcluster.WithReplicas(2), testcluster.WithZones("z1", "z2"),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.RepairGrace = time.Second
		}))
	data := randomBytes(140, 2<<20)
	leader := c.WaitForLeader()
	img := createAndUpload(t, glance(c.URL(leader), ""), "precious", data)
	pl := placementOf(t, c, leader, img.ID)
	// Lose a holder that is not the leader.
	victim := -1
	for i := range 4 {
		if i != leader && slices.Contains(pl, c.Node(i).ID()) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no holder besides the leader in %v", pl)
	}
	victimID := c.Node(victim).ID()
	lost := time.Now()
	c.Stop(victim)
	var newPl []string
	c.Eventually(30*time.Second, "the image is back at 2 live holders", func() bool {
		cur, err := c.Node(leader).Image(context.Background(), img.ID)
		if err != nil {
			return false
		}
		newPl = cur.Placement
		return len(newPl) == 2 && !slices.Contains(newPl, victimID)
	})
	t.Logf("time to repair: %s (grace 1s); placement %v -> %v", time.Since(lost).Round(10*time.Millisecond), pl, newPl)
	for i := range 4 {
		if i == victim || !slices.Contains(newPl, c.Node(i).ID()) {
			continue
		}
		if m := c.Node(i).Metrics(); m.StoredChunks < 8 {
			t.Fatalf("new holder node %d has %d chunks", i, m.StoredChunks)
		}
		checkImageData(t, img, data, download(t, glance(c.URL(i), ""), img.ID))
	}
}

// TestTopUpAfterNodeReturns: an image uploaded while a node was down is
// placed on fewer than R nodes; once the node is back the leader copies
// it there, up to R.
func TestTopUpAfterNodeReturns(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(3),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.RepairGrace = time.Second
		}))
	leader := c.WaitForLeader()
	down := (leader + 1) % 3
	c.Stop(down)
	data := randomBytes(141, 1<<20+7)
	img := createAndUpload(t, glance(c.URL(leader), ""), "short", data)
	if pl := placementOf(t, c, leader, img.ID); len(pl) != 2 {
		t.Fatalf("placement with a node down: %v, want 2 holders", pl)
	}
	c.Restart(down)
	c.Eventually(30*time.Second, "the image is topped up to 3 holders", func() bool {
		cur, err := c.Node(c.Leader()).Image(context.Background(), img.ID)
		return err == nil && len(cur.Placement) == 3
	})
	if m := c.Node(down).Metrics(); m.StoredChunks < 5 {
		t.Fatalf("the returned node holds %d chunks of 5", m.StoredChunks)
	}
	checkImageData(t, img, data, download(t, glance(c.URL(down), ""), img.ID))
}

// TestStoreDeleteIsNotToppedUp: a placement reduced on purpose (DELETE
// /v2/stores/{zone}/{id} releasing a copy no remaining store needs)
// stays as it is; only a placement committed short is topped up.
func TestStoreDeleteIsNotToppedUp(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(3), testcluster.WithZones("z1", "z2", "z3"),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.RepairGrace = 500 * time.Millisecond
		}))
	leader := c.WaitForLeader()
	a := apiClient{base: c.URL(leader)}
	id := a.uploadRawImage(t, "three", randomBytes(142, 600<<10), "X-Image-Meta-Store", "z3")
	if pl := placementOf(t, c, leader, id); len(pl) != 3 {
		t.Fatalf("placement %v, want 3 holders", pl)
	}
	// In z3 and z1; out of z3, only the z1 copy is needed.
	a.importOK(t, id, `{"method": {"name": "copy-image"}, "stores": ["z1"]}`)
	a.do(t, "DELETE", "/v2/stores/z3/"+id, nil).want(t, http.StatusNoContent)
	if pl := placementOf(t, c, leader, id); len(pl) != 2 {
		t.Fatalf("placement after the store delete: %v, want 2", pl)
	}
	// Several repair passes (every 0.5 s, grace 0.5 s) go by.
	time.Sleep(3 * time.Second)
	if pl := placementOf(t, c, c.Leader(), id); len(pl) != 2 {
		t.Fatalf("placement %v: the store delete was undone", pl)
	}
	if r := c.Node(c.Leader()).Metrics().Repairs; r != 0 {
		t.Fatalf("the leader ran %d repairs", r)
	}
}

// TestRepairManyImages: a holder of several images is lost in a 6-node,
// 3-zone cluster with capped uploads, so the leader repairs several
// images at once, each copy fetching several chunks at a time. Every
// image gets back to 3 live holders in 3 zones, a new holder appears in
// the catalog only once it holds every chunk of the image, and every
// new copy serves the right bytes.
func TestRepairManyImages(t *testing.T) {
	c := testcluster.New(t, 6, testcluster.WithReplicas(3), testcluster.WithZones("z1", "z2", "z3"),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.RepairGrace = time.Second
			cfg.UploadBandwidth = 2 << 20 // copies take a while, so they overlap
		}))
	leader := c.WaitForLeader()
	type upload struct {
		img  *images.Image
		data []byte
		pl   []string
	}
	var ups []upload
	for k := range 6 {
		data := randomBytes(uint64(200+k), 1<<20+k*4096)
		img := createAndUpload(t, glance(c.URL(k), ""), fmt.Sprintf("many-%d", k), data)
		ups = append(ups, upload{img, data, placementOf(t, c, leader, img.ID)})
	}
	// Lose the non-leader node holding the most of them.
	victim, most := -1, 0
	for i := range 6 {
		held := 0
		for _, u := range ups {
			if slices.Contains(u.pl, c.Node(i).ID()) {
				held++
			}
		}
		if i != leader && held > most {
			victim, most = i, held
		}
	}
	victimID := c.Node(victim).ID()
	zoneOf := map[string]string{}
	for i := range 6 {
		zoneOf[c.Node(i).ID()] = []string{"z1", "z2", "z3"}[i%3]
	}
	c.Stop(victim)
	held := func(i int, id string) bool {
		ok, err := c.Node(i).HoldsImage(context.Background(), id)
		if err != nil {
			t.Fatalf("holdings of node %d: %v", i, err)
		}
		return ok
	}
	repaired := map[string][]string{}
	c.Eventually(60*time.Second, fmt.Sprintf("the %d images node %d held are back at 3 live holders", most, victim), func() bool {
		for _, u := range ups {
			if !slices.Contains(u.pl, victimID) || repaired[u.img.ID] != nil {
				continue
			}
			cur, err := c.Node(leader).Image(context.Background(), u.img.ID)
			if err != nil || slices.Contains(cur.Placement, victimID) {
				continue
			}
			// Committed: every holder it names must hold every chunk now.
			for _, p := range cur.Placement {
				if i := nodeIndex(c, p); i < 0 || !held(i, u.img.ID) {
					t.Fatalf("image %s placed on %v, but %s lacks chunks of it", u.img.ID, cur.Placement, p)
				}
			}
			repaired[u.img.ID] = cur.Placement
		}
		return len(repaired) == most
	})
	var repairs int64
	for i := range 6 {
		if i != victim {
			repairs += c.Node(i).Metrics().Repairs
		}
	}
	if repairs < int64(most) {
		t.Errorf("Repairs counters sum to %d, want at least %d", repairs, most)
	}
	for _, u := range ups {
		pl, ok := repaired[u.img.ID]
		if !ok {
			continue
		}
		zones := map[string]bool{}
		for _, p := range pl {
			zones[zoneOf[p]] = true
		}
		if len(pl) != 3 || len(zones) != 3 {
			t.Errorf("image %s placed on %v: want 3 holders in 3 zones", u.img.ID, pl)
		}
		for _, p := range pl {
			if !slices.Contains(u.pl, p) {
				checkImageData(t, u.img, u.data, download(t, glance(c.URL(nodeIndex(c, p)), ""), u.img.ID))
			}
		}
	}
}

// nodeIndex returns the index of the running node with id, or -1.
func nodeIndex(c *testcluster.Cluster, id string) int {
	for i := range c.Size() {
		if nd := c.Node(i); nd != nil && nd.ID() == id {
			return i
		}
	}
	return -1
}
