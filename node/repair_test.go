package node_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// uploadImage creates a raw image through node n and uploads data to it.
func uploadImage(t *testing.T, n *node.Node, data []byte) *catalog.Image {
	t.Helper()
	ctx := context.Background()
	raw, bare, owner := "raw", "bare", "p1"
	now := time.Now().UTC()
	img, err := n.CreateImage(ctx, &catalog.Image{
		ID: uuid.NewString(), Status: catalog.StatusQueued, Visibility: catalog.VisibilityPrivate,
		DiskFormat: &raw, ContainerFormat: &bare, Owner: &owner,
		CreatedAt: now, UpdatedAt: now, Properties: map[string]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = n.Upload(ctx, img, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestRepairKeepsHoldersAddedMeanwhile: a repair that copies an image
// while its placement grows (a copy-image to a zone committing) removes
// only the holders its pass found gone, never the one added meanwhile.
func TestRepairKeepsHoldersAddedMeanwhile(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(2), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 64 << 10
	}))
	data := make([]byte, 3*64<<10+9)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	n0 := c.Node(0)
	img := uploadImage(t, n0, data)
	if len(img.Placement) != 2 || img.Placement[0] != n0.ID() {
		t.Fatalf("placement %v", img.Placement)
	}
	added := img.Placement[1]
	third := ""
	for i := range 3 {
		if id := c.Node(i).ID(); !slices.Contains(img.Placement, id) {
			third = id
		}
	}
	// The pass saw one live holder and one gone; the second live holder
	// joined the placement after.
	seen := img.Clone()
	seen.Placement = []string{img.Placement[0], "gone-node"}
	got, err := n0.RepairImage(context.Background(), seen, []string{n0.ID(), third})
	if err != nil || !slices.Equal(got, []string{third}) {
		t.Fatalf("repair added %v, %v", got, err)
	}
	after, err := n0.Image(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(after.Placement, added) || !slices.Contains(after.Placement, third) || !slices.Contains(after.Placement, n0.ID()) {
		t.Fatalf("placement after the repair %v: the holder added meanwhile (%s) or the new one (%s) is missing", after.Placement, added, third)
	}
}
