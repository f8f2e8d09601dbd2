package testcluster_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestStoresAttributeUploadToStoreAndStoreDelete: three nodes in zones
// z1, z2, z3; node 0 keeps one copy of what it ingests, the others two.
// The "stores" attribute names the stores the data was put in, as Glance
// does, whatever zones its copies happen to sit in: a plain upload is in
// the default store, X-Image-Meta-Store puts it in a zone store (a copy
// in that zone), copy-image adds stores, DELETE /v2/stores/{zone}/{id}
// removes one and releases the copies no remaining store needs, never
// the last store.
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

	// No data, no stores attribute.
	q := a0.create(t, `{"name": "queued", "disk_format": "raw", "container_format": "bare"}`)
	if _, ok := q["stores"]; ok {
		t.Fatalf("queued image shows stores: %v", q["stores"])
	}
	// A plain upload on node 1: two copies in two zones, one in z2; the
	// default store.
	data := randomBytes(51, 3*256<<10+5)
	id := a1.uploadRawImage(t, "plain", data)
	p := placementOf(t, c, 1, id)
	if img := a0.show(t, id); len(p) != 2 || p[0] != "node1" || img["stores"] != "default" {
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
	if zimg := a0.show(t, zid); !slices.Equal(zp, []string{"node2"}) || zimg["stores"] != "z3" {
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
	if l := page["images"].([]any); len(l) != 1 || l[0].(map[string]any)["stores"] != "z3" {
		t.Fatalf("listed image: %v", l)
	}

	// Store delete: checks in Glance's order.
	path := func(store, img string) string { return "/v2/stores/" + store + "/" + img }
	a0.do(t, "DELETE", path("z9", id), nil).wantErr(t, http.StatusConflict, "not available")
	a0.do(t, "DELETE", path("z2", "00000000-0000-0000-0000-000000000000"), nil).want(t, http.StatusNotFound)
	a0.as("p1").do(t, "DELETE", path("z2", id), nil).want(t, http.StatusForbidden)
	a0.do(t, "DELETE", path("z2", q["id"].(string)), nil).want(t, http.StatusConflict)
	a0.do(t, "DELETE", path("default", id), nil).wantErr(t, http.StatusForbidden, "Consider deleting the image instead")
	// In default and z2 (node 1's copy counts for both): the default
	// store cannot be deleted from; deleting z2 keeps node 1's copy,
	// which the default store's two copies need (asked of node 1: node
	// 0 is configured with one replica).
	a0.importOK(t, id, `{"method": {"name": "copy-image"}, "stores": ["z2"]}`)
	if img := a0.show(t, id); img["stores"] != "default,z2" || !slices.Equal(placementOf(t, c, 0, id), p) {
		t.Fatalf("after copy-image to z2: stores %v, placement %v (was %v)", img["stores"], placementOf(t, c, 0, id), p)
	}
	a0.do(t, "DELETE", path("z3", id), nil).wantErr(t, http.StatusNotFound, "is not stored in store")
	a0.do(t, "DELETE", path("default", id), nil).want(t, http.StatusForbidden)
	a0.do(t, "DELETE", path("z2", id), "x").want(t, http.StatusBadRequest)
	a1.do(t, "DELETE", path("z2", id), nil).want(t, http.StatusNoContent)
	if img := a0.show(t, id); img["stores"] != "default" || !slices.Equal(placementOf(t, c, 0, id), p) {
		t.Fatalf("after deleting z2: stores %v, placement %v (was %v)", img["stores"], placementOf(t, c, 0, id), p)
	}

	// The z3 image copied to z1 (node 0 gets a copy), then deleted from
	// z3: node 2's copy is no store's any more and leaves the placement.
	a0.importOK(t, zid, `{"method": {"name": "copy-image"}, "stores": ["z1"]}`)
	if img := a0.show(t, zid); img["stores"] != "z3,z1" || !slices.Equal(placementOf(t, c, 0, zid), []string{"node2", "node0"}) {
		t.Fatalf("after copy-image to z1: stores %v, placement %v", img["stores"], placementOf(t, c, 0, zid))
	}
	a0.do(t, "DELETE", path("z3", zid), nil).want(t, http.StatusNoContent)
	if img := a0.show(t, zid); img["stores"] != "z1" || !slices.Equal(placementOf(t, c, 0, zid), []string{"node0"}) {
		t.Fatalf("after deleting z3: stores %v, placement %v", img["stores"], placementOf(t, c, 0, zid))
	}
	// The last store stays: delete the image instead.
	a0.do(t, "DELETE", path("z1", zid), nil).wantErr(t, http.StatusForbidden, "Consider deleting the image instead")
	if got := download(t, glance(c.URL(1), ""), zid); !bytes.Equal(got, zdata) {
		t.Fatal("download after the store delete differs")
	}
}
