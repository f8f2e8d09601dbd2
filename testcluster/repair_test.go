package testcluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

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
