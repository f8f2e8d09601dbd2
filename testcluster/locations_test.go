package testcluster_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// addLocation posts a location and returns the request id of the 202.
func (c apiClient) addLocation(t testing.TB, id, body string) string {
	t.Helper()
	r := c.do(t, "POST", "/v2/images/"+id+"/locations", body, "Content-Type", "application/json").want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Fatalf("POST locations answered a body: %q", r.body)
	}
	return r.header.Get("X-Openstack-Request-Id")
}

// locationsOf decodes an image's "locations" attribute.
func locationsOf(t testing.TB, img map[string]any) []map[string]any {
	t.Helper()
	list, ok := img["locations"].([]any)
	if !ok {
		t.Fatalf("image %v has no locations list: %v", img["id"], img["locations"])
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

// TestLocations: nodes 0 and 1 show locations and direct_url, node 2
// does not (Glance's defaults). A location is read once from an origin
// into the cluster's chunks, verified, and the image becomes active.
func TestLocations(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(2), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.ShowMultipleLocations = i < 2
		cfg.ShowImageDirectURL = i < 2
	}))
	waitSettled(c)
	data := randomBytes(61, 3*256<<10+99)
	origin := dataServer(t, data, 0)
	url := origin.URL + "/img"
	a0, a2 := newAPIClient(c), apiClient{base: c.URL(2)}
	newImage := func(a apiClient) string {
		return a.create(t, `{"name": "loc", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	}

	t.Run("PostFetchesVerifiesAndActivates", func(t *testing.T) {
		id := newImage(a0)
		sum := sha256.Sum256(data)
		body := `{"url": "` + url + `", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "` + hex.EncodeToString(sum[:]) + `"}}`
		task := a0.waitImportTask(t, id, a0.addLocation(t, id, body))
		if task["status"] != "success" || task["type"] != "location_import" {
			t.Fatalf("location task: %v", task)
		}
		img := a0.show(t, id)
		mustStatus(t, img, "active")
		if img["size"] != float64(len(data)) || img["os_hash_algo"] != "sha256" || img["os_hash_value"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("image after location import: %v", img)
		}
		locs := locationsOf(t, img)
		if len(locs) != 1 || locs[0]["url"] != url || img["direct_url"] != url {
			t.Fatalf("locations %v, direct_url %v", locs, img["direct_url"])
		}
		if _, ok := img["os_glance_import_task"]; ok {
			t.Fatal("the import lock stays after the location import")
		}
		// Node 2 shows neither (show_* off there), but serves the bytes.
		img2 := a2.show(t, id)
		if _, ok := img2["locations"]; ok {
			t.Fatalf("node 2 shows locations: %v", img2["locations"])
		}
		if _, ok := img2["direct_url"]; ok {
			t.Fatal("node 2 shows direct_url")
		}
		if got := download(t, glance(c.URL(2), ""), id); !bytes.Equal(got, data) {
			t.Fatal("download on node 2 differs from the origin's data")
		}
		// GET /locations: service or admin only.
		var got []map[string]any
		r := a0.do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusOK)
		if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 1 || got[0]["url"] != url {
			t.Fatalf("GET locations: %s", r.body)
		}
		a0.as("p1").do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusForbidden)
		a0.as("p1", "reader", "service").do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusOK)
		// Only a queued image takes a location.
		a0.do(t, "POST", "/v2/images/"+id+"/locations", `{"url": "`+url+`"}`, "Content-Type", "application/json").
			wantErr(t, http.StatusConflict, "status is active")
	})

	t.Run("BadHashFailsTaskAndRequeues", func(t *testing.T) {
		id := newImage(a0)
		bad := strings.Repeat("ab", sha512.Size)
		task := a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+url+`", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+bad+`"}}`))
		if task["status"] != "failure" || !strings.Contains(task["message"].(string), "not matched") {
			t.Fatalf("task with a bad hash: %v", task)
		}
		img := a0.show(t, id)
		mustStatus(t, img, "queued")
		if locs := locationsOf(t, img); len(locs) != 0 || img["size"] != nil || img["checksum"] != nil {
			t.Fatalf("failed image keeps %v, size %v, checksum %v", locs, img["size"], img["checksum"])
		}
		// The origin gone: the task fails the same way.
		task = a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+origin.URL+`/nothing"}`))
		if task["status"] != "failure" {
			t.Fatalf("task on a 404 origin: %v", task)
		}
		mustStatus(t, a0.show(t, id), "queued")
	})

	t.Run("RequestChecks", func(t *testing.T) {
		post := func(a apiClient, id, body string) *apiResp {
			return a.do(t, "POST", "/v2/images/"+id+"/locations", body, "Content-Type", "application/json")
		}
		owner := a0.as("p1")
		id := newImage(owner)
		post(a0, id, `{"validation_data": {}}`).wantErr(t, http.StatusBadRequest, "'url' is a required property")
		post(a0, id, `{"url": "`+url+`", "validation_data": {"os_hash_algo": "sha256"}}`).want(t, http.StatusBadRequest)
		post(a0, id, `{"url": "`+url+`", "validation_data": {"os_hash_algo": "crc32", "os_hash_value": "00"}}`).want(t, http.StatusBadRequest)
		post(a0, id, `{"url": "`+url+`", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "abcd"}}`).
			wantErr(t, http.StatusBadRequest, "not the correct size")
		post(owner, id, `{"url": "file:///etc/passwd"}`).wantErr(t, http.StatusForbidden, "http store must be enabled")
		post(a0.as("p1", "reader", "service"), id, `{"url": "rbd://pool/image"}`).want(t, http.StatusBadRequest)
		post(a0.as("p2"), id, `{"url": "`+url+`"}`).want(t, http.StatusNotFound)
		post(a0.as("p1", "reader"), id, `{"url": "`+url+`"}`).want(t, http.StatusForbidden)
		noFormats := owner.create(t, `{"name": "bare"}`)["id"].(string)
		post(owner, noFormats, `{"url": "`+url+`"}`).want(t, http.StatusBadRequest)
		// The owner may add an http location.
		task := owner.waitImportTask(t, id, owner.addLocation(t, id, `{"url": "`+url+`"}`))
		if task["status"] != "success" {
			t.Fatalf("owner's location task: %v", task)
		}
		mustStatus(t, owner.show(t, id), "active")
	})

	t.Run("PatchLocations", func(t *testing.T) {
		patch := func(a apiClient, id, ops string) *apiResp { return a.patch(t, id, ops) }
		id := newImage(a0)
		// show_multiple_locations off (node 2): 403.
		add := `[{"op": "add", "path": "/locations/-", "value": {"url": "` + url + `", "metadata": {"k": "v"}}}]`
		patch(a2, id, add).wantErr(t, http.StatusForbidden, "invisible")
		patch(a0, id, `[{"op": "replace", "path": "/locations", "value": []}]`).wantErr(t, http.StatusForbidden, "empty list")
		patch(a0, id, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusConflict)
		patch(a0, id, `[{"op": "add", "path": "/locations/-", "value": {"url": "ftp://x/y", "metadata": {}}}]`).want(t, http.StatusBadRequest)
		patch(a0, id, `[{"op": "add", "path": "/locations/-", "value": {"url": "`+url+`"}}]`).want(t, http.StatusBadRequest)
		// Adding a location to a queued image reads it and activates it;
		// the PATCH's other changes land too.
		m := patch(a0, id, `[{"op": "replace", "path": "/name", "value": "patched"}, `+add[1:]).want(t, http.StatusOK).obj(t)
		mustStatus(t, m, "active")
		if locs := locationsOf(t, m); len(locs) != 1 || locs[0]["url"] != url || locs[0]["metadata"].(map[string]any)["k"] != "v" || m["name"] != "patched" {
			t.Fatalf("after PATCH add: %v", m)
		}
		if got := download(t, glance(c.URL(1), ""), id); !bytes.Equal(got, data) {
			t.Fatal("download after PATCH add differs")
		}
		// On an active image: the last location cannot go; another can be
		// added (recorded, not read) and removed again (admin only).
		patch(a0, id, `[{"op": "remove", "path": "/locations/0"}]`).wantErr(t, http.StatusForbidden, "last location")
		patch(a0, id, add).wantErr(t, http.StatusBadRequest, "already exists")
		second := origin.URL + "/img?mirror=2"
		m = patch(a0, id, `[{"op": "add", "path": "/locations/0", "value": {"url": "`+second+`", "metadata": {}}}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 2 || locs[0]["url"] != second || m["direct_url"] != second {
			t.Fatalf("after adding a second location: %v", m)
		}
		patch(a0, id, `[{"op": "add", "path": "/locations/-", "value": {"url": "http://x/z", "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+strings.Repeat("00", 64)+`"}}}]`).
			wantErr(t, http.StatusConflict, "already set with a different value")
		patch(a0, id, `[{"op": "remove", "path": "/locations/5"}]`).wantErr(t, http.StatusBadRequest, "Invalid position")
		m = patch(a0, id, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 1 || locs[0]["url"] != url {
			t.Fatalf("after removing the first location: %v", m)
		}
		// A queued image with a bad validation: PATCH fails, image queued.
		id2 := newImage(a0)
		badAdd := `[{"op": "add", "path": "/locations/-", "value": {"url": "` + url + `", "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "` + strings.Repeat("00", 64) + `"}}}]`
		patch(a0, id2, badAdd).wantErr(t, http.StatusBadRequest, "not matched")
		mustStatus(t, a0.show(t, id2), "queued")
	})
}
