package testcluster_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"

	"github.com/p2pglance/p2pglance/testcluster"
)

// listIDs lists the image ids a client sees with opts.
func listIDs(t *testing.T, client *gophercloud.ServiceClient, opts images.ListOpts) []string {
	t.Helper()
	pages, err := images.List(client, opts).AllPages(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	imgs, err := images.ExtractImages(pages)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, img := range imgs {
		out = append(out, img.ID)
	}
	return out
}

// statusOf returns the HTTP status of a gophercloud error (0 for nil).
func statusOf(err error) int {
	if err == nil {
		return 0
	}
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return -1
}

func TestImageSharing(t *testing.T) {
	c := testcluster.New(t, 3)
	ctx := context.Background()
	owner, consumer, stranger := glance(c.URL(0), "p1"), glance(c.URL(1), "p2"), glance(c.URL(2), "p3")
	img, err := images.Create(ctx, owner, images.CreateOpts{Name: "shared-img"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if img.Visibility != "shared" {
		t.Fatalf("default visibility %q", img.Visibility)
	}
	// Not a member yet: invisible to p2.
	if _, err := images.Get(ctx, consumer, img.ID).Extract(); statusOf(err) != http.StatusNotFound {
		t.Fatalf("non-member get: %v", err)
	}
	added := members.Create(ctx, owner, img.ID, "p2")
	m, err := added.Extract()
	if err != nil {
		t.Fatalf("add member: %v", err)
	}
	// The consumer reads through another node and is another client: it
	// learns of the share out of band, with the revision the owner's
	// write answered, and its reads wait for that revision there.
	rev := added.Header.Get("X-P2pglance-Revision")
	if rev == "" {
		t.Fatal("member create answered no X-P2pglance-Revision")
	}
	consumer.MoreHeaders = map[string]string{"X-P2pglance-Revision": rev}
	if m.Status != "pending" || m.MemberID != "p2" || m.ImageID != img.ID {
		t.Fatalf("member %+v", m)
	}
	if _, err := members.Create(ctx, owner, img.ID, "p2").Extract(); statusOf(err) != http.StatusConflict {
		t.Fatalf("duplicate member: %v", err)
	}
	// Pending: p2 can read it by id but does not list it by default.
	if _, err := images.Get(ctx, consumer, img.ID).Extract(); err != nil {
		t.Fatalf("pending member get: %v", err)
	}
	if ids := listIDs(t, consumer, images.ListOpts{}); slices.Contains(ids, img.ID) {
		t.Fatal("pending image in the member's default list")
	}
	if ids := listIDs(t, consumer, images.ListOpts{MemberStatus: images.ImageMemberStatusPending}); !slices.Contains(ids, img.ID) {
		t.Fatal("pending image missing from member_status=pending list")
	}
	// Only the member may accept; the owner gets 403, a stranger 404.
	if _, err := members.Update(ctx, owner, img.ID, "p2", members.UpdateOpts{Status: "accepted"}).Extract(); statusOf(err) != http.StatusForbidden {
		t.Fatalf("owner accepting: %v", err)
	}
	if _, err := members.Update(ctx, stranger, img.ID, "p2", members.UpdateOpts{Status: "accepted"}).Extract(); statusOf(err) != http.StatusNotFound {
		t.Fatalf("stranger accepting: %v", err)
	}
	if _, err := members.Update(ctx, consumer, img.ID, "p2", members.UpdateOpts{Status: "accepted"}).Extract(); err != nil {
		t.Fatalf("member accepting: %v", err)
	}
	c.Eventually(5*time.Second, "the accepted image is listed for p2", func() bool {
		return slices.Contains(listIDs(t, consumer, images.ListOpts{}), img.ID)
	})
	// The member sees only its own record; the owner sees all.
	pages, err := members.List(consumer, img.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := members.ExtractMembers(pages)
	if len(ms) != 1 || ms[0].Status != "accepted" {
		t.Fatalf("member's view of members: %+v", ms)
	}
	if _, err := members.Create(ctx, owner, img.ID, "p4").Extract(); err != nil {
		t.Fatal(err)
	}
	pages, _ = members.List(owner, img.ID).AllPages(ctx)
	if ms, _ := members.ExtractMembers(pages); len(ms) != 2 {
		t.Fatalf("owner's view of members: %+v", ms)
	}
	pages, _ = members.List(consumer, img.ID).AllPages(ctx)
	if ms, _ := members.ExtractMembers(pages); len(ms) != 1 {
		t.Fatalf("member sees other members: %+v", ms)
	}
	// The member may not remove members, or modify the image.
	if err := members.Delete(ctx, consumer, img.ID, "p4").ExtractErr(); statusOf(err) != http.StatusForbidden {
		t.Fatalf("member deleting a member: %v", err)
	}
	if _, err := images.Update(ctx, consumer, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "x"}}).Extract(); statusOf(err) != http.StatusForbidden {
		t.Fatalf("member renaming the image: %v", err)
	}
	// Private hides it from members; shared again restores access.
	setVisibility := func(v images.ImageVisibility) {
		t.Helper()
		if _, err := images.Update(ctx, owner, img.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: v}}).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	// Reads are served from each node's replica: a change made through
	// node 0 reaches node 1 within milliseconds, hence the polling.
	setVisibility(images.ImageVisibilityPrivate)
	c.Eventually(5*time.Second, "a private image is hidden from members", func() bool {
		_, err := images.Get(ctx, consumer, img.ID).Extract()
		return statusOf(err) == http.StatusNotFound
	})
	if _, err := members.Create(ctx, owner, img.ID, "p5").Extract(); statusOf(err) != http.StatusForbidden {
		t.Fatalf("adding a member to a private image: %v", err)
	}
	setVisibility(images.ImageVisibilityShared)
	c.Eventually(5*time.Second, "sharing again restores access", func() bool {
		_, err := images.Get(ctx, consumer, img.ID).Extract()
		return err == nil
	})
	// Removing the member takes access away.
	if err := members.Delete(ctx, owner, img.ID, "p2").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	c.Eventually(5*time.Second, "a removed member loses access", func() bool {
		_, err := images.Get(ctx, consumer, img.ID).Extract()
		return statusOf(err) == http.StatusNotFound
	})
	if _, err := members.Get(ctx, owner, img.ID, "p2").Extract(); statusOf(err) != http.StatusNotFound {
		t.Fatalf("removed member show: %v", err)
	}
}
