package testcluster_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/testcluster"
)

// TestTagsWithGophercloud: tags set through gophercloud's JSON-patch
// update are shown, filter lists, and can be replaced, on any node.
func TestTagsWithGophercloud(t *testing.T) {
	c := testcluster.New(t, 2)
	ctx := context.Background()
	a, b := glance(c.URL(0), "p1"), glance(c.URL(1), "p1")
	img, err := images.Create(ctx, a, images.CreateOpts{Name: "tagged", Tags: []string{"x"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	other, err := images.Create(ctx, a, images.CreateOpts{Name: "untagged"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	up, err := images.Update(ctx, b, img.ID, images.UpdateOpts{images.ReplaceImageTags{NewTags: []string{"gold", "linux", "gold"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(up.Tags)
	if !slices.Equal(up.Tags, []string{"gold", "linux"}) {
		t.Fatalf("tags after replace: %v", up.Tags)
	}
	ids := listIDs(t, b, images.ListOpts{Tags: []string{"gold", "linux"}})
	if !slices.Contains(ids, img.ID) || slices.Contains(ids, other.ID) {
		t.Fatalf("list by tags: %v", ids)
	}
	if ids := listIDs(t, b, images.ListOpts{Tags: []string{"gold", "windows"}}); len(ids) != 0 {
		t.Fatalf("list by tags gold+windows: %v", ids)
	}
}
