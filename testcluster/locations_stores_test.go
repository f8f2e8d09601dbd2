package testcluster_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestStoresAttributeUploadToStoreAndStoreDelete: three nodes in zones
// z1, z2, z3; node 0 keeps one copy of what it ingests, the others two.
// The "stores" attribute names the zones holding durable copies;
// X-Image-Meta-Store puts a copy in a zone; DELETE /v2/stores/{zone}/{id}
// drops a zone's copies, never the last one.
func TestStoresAttributeUploadToStoreAndStoreDelete(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(2), testcluster.WithZones("z1", "z2", "z3"),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			if i == 0 {
				cfg.Replicas = 1
			}
		}))
	waitSettled(c)
	a0, a1 := newAPIClient(c), apiClient{base: c.URL(1)}
	zoneOf := map[string]string{"node0": "z1", "node1": "z2", "node2": "z3"}
	storesOf := func(placement []string) string {
		out := []string{"default"}
		for _, z := range []string{"z1", "z2", "z3"} {
			if slices.ContainsFunc(placement, func(n string) bool { return zoneOf[n] == z }) {
				out = append(out, z)
			}
		}
		return strings.Join(out, ",")
	}

	// No data, no stores attribute.
	q := a0.create(t, `{"name": "queued", "disk_format": "raw", "container_format": "bare"}`)
	if _, ok := q["stores"]; ok {
		t.Fatalf("queued image shows stores: %v", q["stores"])
	}
	// A plain upload on node 1: two copies in two zones, one in z2.
	data := randomBytes(51, 3*256<<10+5)
	id := a1.uploadRawImage(t, "plain", data)
	p := placementOf(t, c, 1, id)
	img := a0.show(t, id)
	if len(p) != 2 || p[0] != "node1" || img["stores"] != storesOf(p) {
		t.Fatalf("placement %v, stores %v", p, img["stores"])
	}

	// X-Image-Meta-Store: an unknown store is 400 (the image stays
	// queued); z3 through node 0 (one copy, in z1 as ingested) moves the
	// single copy to node 2.
	a0.upload(t, q["id"].(string), data, "X-Image-Meta-Store", "z9").wantErr(t, http.StatusBadRequest, "z9")
	mustStatus(t, a0.show(t, q["id"].(string)), "queued")
	zdata := randomBytes(52, 2*256<<10) // sharing no chunk with data
	zid := a0.uploadRawImage(t, "in-z3", zdata, "X-Image-Meta-Store", "z3")
	zp := placementOf(t, c, 0, zid)
	if zimg := a0.show(t, zid); !slices.Equal(zp, []string{"node2"}) || zimg["stores"] != "default,z3" {
		t.Fatalf("upload to z3: placement %v, stores %v", zp, zimg["stores"])
	}
	if got := download(t, glance(c.URL(1), ""), zid); !bytes.Equal(got, zdata) {
		t.Fatal("download of the z3 image differs")
	}
	// A store on the holder's own zone keeps the plain placement.
	sid := a1.uploadRawImage(t, "in-z2", randomBytes(53, 1000), "X-Image-Meta-Store", "z2")
	if sp := placementOf(t, c, 1, sid); len(sp) != 2 || sp[0] != "node1" {
		t.Fatalf("upload to the uploader's zone: placement %v", sp)
	}
	// The list shows stores too.
	_, page := a0.list(t, "name=in-z3")
	if l := page["images"].([]any); len(l) != 1 || l[0].(map[string]any)["stores"] != "default,z3" {
		t.Fatalf("listed image: %v", l)
	}

	// Store delete: checks in Glance's order, then the zone's copy goes.
	other := zoneOf[p[1]]
	path := func(store string) string { return "/v2/stores/" + store + "/" + id }
	a0.do(t, "DELETE", path("z9"), nil).wantErr(t, http.StatusConflict, "not available")
	a0.do(t, "DELETE", "/v2/stores/z2/00000000-0000-0000-0000-000000000000", nil).want(t, http.StatusNotFound)
	a0.as("p1").do(t, "DELETE", path("z2"), nil).want(t, http.StatusForbidden)
	a0.do(t, "DELETE", "/v2/stores/z2/"+q["id"].(string), nil).want(t, http.StatusConflict)
	missing := map[string]string{"z1": "z3", "z3": "z1"}[other]
	a0.do(t, "DELETE", path(missing), nil).wantErr(t, http.StatusNotFound, "is not stored in store")
	a0.do(t, "DELETE", path("default"), nil).want(t, http.StatusForbidden)
	a0.do(t, "DELETE", path("z2"), "x").want(t, http.StatusBadRequest)
	a0.do(t, "DELETE", path("z2"), nil).want(t, http.StatusNoContent)
	p2 := placementOf(t, c, 0, id)
	if !slices.Equal(p2, p[1:]) || a0.show(t, id)["stores"] != "default,"+other {
		t.Fatalf("after deleting z2: placement %v, stores %v", p2, a0.show(t, id)["stores"])
	}
	// The last copy stays: delete the image instead.
	a0.do(t, "DELETE", path(other), nil).wantErr(t, http.StatusForbidden, "Consider deleting the image instead")
	// Node 1's copy is now cache: its cache API may evict it.
	before := c.Node(1).Metrics().StoredChunks
	a1.do(t, "DELETE", "/v2/cache/"+id, nil).want(t, http.StatusNoContent)
	if cached, _ := a1.cacheListing(t); cached[id] != nil || c.Node(1).Metrics().StoredChunks != before-4 {
		t.Fatalf("node 1 after evicting its former durable copy: listed %v, %d of %d chunks left", cached[id] != nil, c.Node(1).Metrics().StoredChunks, before)
	}
	if got := download(t, glance(c.URL(1), ""), id); !bytes.Equal(got, data) {
		t.Fatal("download after the store delete differs")
	}
}
