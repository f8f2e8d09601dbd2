package testcluster_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// does not (Glance's defaults). A location makes an image active at once;
// its data is pulled from the origin on the first download, once for the
// whole cluster, verified, and then served from the cluster's chunks.
// Node 2 reads locations eagerly (Config.EagerLocations).
func TestLocations(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithReplicas(2), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.ShowMultipleLocations = i < 2
		cfg.ShowImageDirectURL = i < 2
		cfg.EagerLocations = i == 2
	}))
	waitSettled(c)
	data := randomBytes(61, 3*256<<10+99)
	origin := dataServer(t, data, 0)
	url := origin.URL + "/img"
	a0, a2 := newAPIClient(c), apiClient{base: c.URL(2)}
	newImage := func(a apiClient) string {
		return a.create(t, `{"name": "loc", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	}

	t.Run("PostActivatesAndFirstDownloadPullsOnce", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := newImage(a0)
		sum := sha256.Sum256(data)
		body := `{"url": "` + o.url() + `", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "` + hex.EncodeToString(sum[:]) + `"}}`
		task := a0.waitImportTask(t, id, a0.addLocation(t, id, body))
		if task["status"] != "success" || task["type"] != "location_import" {
			t.Fatalf("location task: %v", task)
		}
		img := a0.show(t, id)
		mustStatus(t, img, "active")
		if img["size"] != float64(len(data)) || img["os_hash_algo"] != "sha256" || img["os_hash_value"] != hex.EncodeToString(sum[:]) || img["checksum"] != nil {
			t.Fatalf("image after adding the location: %v", img)
		}
		if g := o.gets.Load(); g != 0 {
			t.Fatalf("adding a location read the origin %d times; it is read on first download", g)
		}
		locs := locationsOf(t, img)
		if len(locs) != 1 || locs[0]["url"] != o.url() || img["direct_url"] != o.url() {
			t.Fatalf("locations %v, direct_url %v", locs, img["direct_url"])
		}
		if _, ok := img["os_glance_import_task"]; ok {
			t.Fatal("the import lock stays after the location import")
		}
		// Node 2 shows neither (show_* off there).
		img2 := a2.show(t, id)
		if _, ok := img2["locations"]; ok {
			t.Fatalf("node 2 shows locations: %v", img2["locations"])
		}
		if _, ok := img2["direct_url"]; ok {
			t.Fatal("node 2 shows direct_url")
		}
		// Every node downloads at once: the origin is read once. Its
		// first read stalls half way for a moment, so that the other
		// nodes' downloads arrive while the pull is in progress.
		o.stallFirst = make(chan struct{})
		got := make([][]byte, 3)
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = download(t, glance(c.URL(i), ""), id)
			}()
		}
		c.Eventually(30*time.Second, "a node starts the pull", o.stalled.Load)
		time.Sleep(time.Second) // more pulls would show up here
		close(o.stallFirst)
		wg.Wait()
		for i, g := range got {
			if !bytes.Equal(g, data) {
				t.Fatalf("download on node %d differs from the origin's data", i)
			}
		}
		if g := o.gets.Load(); g != 1 {
			t.Fatalf("three first downloads read the origin %d times, want 1", g)
		}
		// The cluster has the data now: the origin may go away.
		o.srv.Close()
		for i := range 3 {
			if g := download(t, glance(c.URL(i), ""), id); !bytes.Equal(g, data) {
				t.Fatalf("download on node %d after the origin left differs", i)
			}
		}
		img = a0.show(t, id)
		if sum := md5.Sum(data); img["checksum"] != hex.EncodeToString(sum[:]) || img["os_hash_value"] != hex.EncodeToString(sum256(data)) {
			t.Fatalf("image after the pull: checksum %v, os_hash %v", img["checksum"], img["os_hash_value"])
		}
		// GET /locations: service or admin only.
		var list []map[string]any
		r := a0.do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusOK)
		if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 || list[0]["url"] != o.url() {
			t.Fatalf("GET locations: %s", r.body)
		}
		a0.as("p1").do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusForbidden)
		a0.as("p1", "reader", "service").do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusOK)
		// Only a queued image takes a location.
		a0.do(t, "POST", "/v2/images/"+id+"/locations", `{"url": "`+url+`"}`, "Content-Type", "application/json").
			wantErr(t, http.StatusConflict, "status is active")
	})

	t.Run("WrongDataIsNeverServed", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := newImage(a0)
		bad := strings.Repeat("ab", sha512.Size)
		task := a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+bad+`"}}`))
		if task["status"] != "success" {
			t.Fatalf("lazy location task: %v", task)
		}
		for i := range 2 {
			r := apiClient{base: c.URL(1)}.do(t, "GET", "/v2/images/"+id+"/file", nil)
			if r.status != http.StatusServiceUnavailable || bytes.Contains(r.body, data[:64]) {
				t.Fatalf("download %d of mismatching data: %d %q", i, r.status, r.body)
			}
		}
		if g := o.gets.Load(); g != 2 {
			t.Fatalf("two failed pulls read the origin %d times, want 2 (a failed pull is retried)", g)
		}
		img := a0.show(t, id)
		mustStatus(t, img, "active")
		if img["os_hash_value"] != bad || img["checksum"] != nil {
			t.Fatalf("a failed pull changed the image: %v", img)
		}
	})

	t.Run("OriginGoneBeforeFirstDownload", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := newImage(a0)
		a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`"}`))
		o.srv.Close()
		a0.do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusServiceUnavailable)
		mustStatus(t, a0.show(t, id), "active")
	})

	t.Run("DataNotOfItsFormatIsNeverServed", func(t *testing.T) {
		// Random bytes are no qcow2: the pull's format check refuses
		// them, as an upload's would.
		o := newCountingOrigin(t, data)
		id := a0.create(t, `{"name": "loc", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
		a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`"}`))
		mustStatus(t, a0.show(t, id), "active")
		r := a0.do(t, "GET", "/v2/images/"+id+"/file", nil)
		if r.status != http.StatusServiceUnavailable || bytes.Contains(r.body, data[:64]) || o.gets.Load() != 1 {
			t.Fatalf("download of non-qcow2 data as qcow2: %d %q (origin read %d times)", r.status, r.body, o.gets.Load())
		}
	})

	t.Run("PullerDiesAnotherNodeTakesOver", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		o.stallFirst = make(chan struct{})
		t.Cleanup(func() { close(o.stallFirst) })
		id := newImage(a0)
		a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`"}`))
		mustStatus(t, a0.show(t, id), "active")
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Node 1 pulls; its origin read stalls half way; node 1 stops.
			_, _ = http.Get(c.URL(1) + "/v2/images/" + id + "/file")
		}()
		c.Eventually(30*time.Second, "node 1 starts the pull", func() bool { return o.gets.Load() == 1 && o.stalled.Load() })
		c.Stop(1)
		<-done
		if g := download(t, glance(c.URL(2), ""), id); !bytes.Equal(g, data) {
			t.Fatal("download after the puller died differs")
		}
		if g := o.gets.Load(); g != 2 {
			t.Fatalf("origin read %d times, want 2 (the dead puller's and the taker's)", g)
		}
		c.Restart(1)
	})

	t.Run("EagerBadHashFailsTaskAndRequeues", func(t *testing.T) {
		id := newImage(a2)
		bad := strings.Repeat("ab", sha512.Size)
		task := a2.waitImportTask(t, id, a2.addLocation(t, id, `{"url": "`+url+`", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+bad+`"}}`))
		if task["status"] != "failure" || !strings.Contains(task["message"].(string), "not matched") {
			t.Fatalf("task with a bad hash: %v", task)
		}
		img := a0.show(t, id)
		mustStatus(t, img, "queued")
		if locs := locationsOf(t, img); len(locs) != 0 || img["size"] != nil || img["checksum"] != nil {
			t.Fatalf("failed image keeps %v, size %v, checksum %v", locs, img["size"], img["checksum"])
		}
		// The origin gone: the task fails the same way, eager or lazy.
		for _, a := range []apiClient{a2, a0} {
			task = a.waitImportTask(t, id, a.addLocation(t, id, `{"url": "`+origin.URL+`/nothing"}`))
			if task["status"] != "failure" {
				t.Fatalf("task on a 404 origin: %v", task)
			}
			mustStatus(t, a0.show(t, id), "queued")
		}
		// Eager with the right data: active with the hashes computed.
		task = a2.waitImportTask(t, id, a2.addLocation(t, id, `{"url": "`+url+`"}`))
		if task["status"] != "success" {
			t.Fatalf("eager location task: %v", task)
		}
		if img := a0.show(t, id); img["os_hash_value"] != hex.EncodeToString(sha512sum(data)) {
			t.Fatalf("eager import: %v", img)
		}
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
		patch(a0, id, `[{"op": "add", "path": "/locations/-", "value": {"url": "http://127.0.0.1:9/z", "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+strings.Repeat("00", 64)+`"}}}]`).
			wantErr(t, http.StatusConflict, "already set with a different value")
		patch(a0, id, `[{"op": "remove", "path": "/locations/5"}]`).wantErr(t, http.StatusBadRequest, "Invalid position")
		// A replace may change the locations' metadata, not their URLs
		// (Glance's rule).
		patch(a0, id, `[{"op": "replace", "path": "/locations", "value": [{"url": "`+url+`", "metadata": {}}]}]`).
			wantErr(t, http.StatusBadRequest, "Original locations is not empty")
		m = patch(a0, id, `[{"op": "replace", "path": "/locations", "value": [{"url": "`+url+`", "metadata": {"k": "w"}}, {"url": "`+second+`", "metadata": {}}]}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 2 || locs[0]["url"] != url || locs[0]["metadata"].(map[string]any)["k"] != "w" {
			t.Fatalf("after a metadata-only replace: %v", m)
		}
		m = patch(a0, id, `[{"op": "remove", "path": "/locations/1"}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 1 || locs[0]["url"] != url {
			t.Fatalf("after removing the second location: %v", m)
		}
		// The owner (a member of the owning project) may remove a
		// location, another project may not; once read, the data is
		// pinned by its chunk digests whatever locations remain.
		owner := a0.as("p1", "member", "reader")
		oid := owner.create(t, `{"name": "owned", "disk_format": "raw", "container_format": "bare", "visibility": "community"}`)["id"].(string)
		patch(owner, oid, `[{"op": "add", "path": "/locations/-", "value": {"url": "`+url+`", "metadata": {}}}, {"op": "add", "path": "/locations/-", "value": {"url": "`+second+`", "metadata": {}}}, {"op": "add", "path": "/locations/-", "value": {"url": "`+url+`&third", "metadata": {}}}]`).want(t, http.StatusOK)
		patch(a0.as("p2", "member", "reader"), oid, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusForbidden)
		m = patch(owner, oid, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 2 || locs[0]["url"] != second {
			t.Fatalf("after the owner removed the first location: %v", m)
		}
		if got := download(t, glance(c.URL(0), ""), oid); !bytes.Equal(got, data) {
			t.Fatal("download of the owner's image differs")
		}
		patch(owner, oid, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusOK)
		// A queued image with a bad validation: the hashes are recorded
		// as given (as Glance does), and the mismatching data is refused
		// on download.
		id2 := newImage(a0)
		badAdd := `[{"op": "add", "path": "/locations/-", "value": {"url": "` + url + `", "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "` + strings.Repeat("00", 64) + `"}}}]`
		mustStatus(t, patch(a0, id2, badAdd).want(t, http.StatusOK).obj(t), "active")
		a0.do(t, "GET", "/v2/images/"+id2+"/file", nil).want(t, http.StatusServiceUnavailable)
	})

	// Data stored in the cluster shows one location per store, as Glance
	// shows an image in its stores; they can be kept by a replace, not
	// edited, added or removed through /locations.
	t.Run("StoreLocations", func(t *testing.T) {
		patch := func(id, ops string) *apiResp { return a0.patch(t, id, ops) }
		id := a0.uploadRawImage(t, "stored", randomBytes(62, 1000))
		img := a0.show(t, id)
		storeURL := "p2pglance://default/" + id
		if locs := locationsOf(t, img); len(locs) != 1 || locs[0]["url"] != storeURL || locs[0]["metadata"].(map[string]any)["store"] != "default" || img["direct_url"] != storeURL {
			t.Fatalf("an uploaded image's locations %v, direct_url %v", img["locations"], img["direct_url"])
		}
		same := `[{"op": "replace", "path": "/locations", "value": [{"url": "` + storeURL + `", "metadata": {"store": "default"}}]}]`
		patch(id, same).want(t, http.StatusOK)
		patch(id, `[{"op": "replace", "path": "/locations", "value": [{"url": "`+storeURL+`", "metadata": {"store": "z9"}}]}]`).wantErr(t, http.StatusBadRequest, "cannot be changed")
		patch(id, `[{"op": "remove", "path": "/locations/0"}]`).wantErr(t, http.StatusForbidden, "last location")
		patch(id, `[{"op": "add", "path": "/locations/-", "value": {"url": "p2pglance://default/x", "metadata": {}}}]`).want(t, http.StatusBadRequest)
		// An http location added goes before the store location, whatever
		// the position asked; the store location is removed by a store
		// delete only.
		m := patch(id, `[{"op": "add", "path": "/locations/-", "value": {"url": "`+url+`", "metadata": {}}}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 2 || locs[0]["url"] != url || locs[1]["url"] != storeURL {
			t.Fatalf("after adding an http location: %v", m["locations"])
		}
		patch(id, `[{"op": "remove", "path": "/locations/1"}]`).wantErr(t, http.StatusForbidden, "DELETE /v2/stores/default/"+id)
		m = patch(id, `[{"op": "remove", "path": "/locations/0"}]`).want(t, http.StatusOK).obj(t)
		if locs := locationsOf(t, m); len(locs) != 1 || locs[0]["url"] != storeURL {
			t.Fatalf("after removing the http location: %v", m["locations"])
		}
		a0.do(t, "GET", "/v2/images/"+id+"/locations", nil).want(t, http.StatusOK)
	})
}

// countingOrigin is an http origin of data at /img that counts its GETs;
// with stallFirst set, the first GET sends half the data and then waits
// for stallFirst to close.
type countingOrigin struct {
	srv        *httptest.Server
	gets       atomic.Int64
	stalled    atomic.Bool
	stallFirst chan struct{}
}

func newCountingOrigin(t *testing.T, data []byte) *countingOrigin {
	o := &countingOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/img" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		if o.gets.Add(1) == 1 && o.stallFirst != nil {
			_, _ = w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			o.stalled.Store(true)
			select {
			case <-o.stallFirst:
				_, _ = w.Write(data[len(data)/2:])
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *countingOrigin) url() string { return o.srv.URL + "/img" }

func sum256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func sha512sum(b []byte) []byte { s := sha512.Sum512(b); return s[:] }

// TestPullSurvivesLongStall: chunks a location pull stored stay protected
// from garbage collection while the pull holds its lock, however long
// the origin stalls (longer than OrphanGrace here), so the committed
// image has every chunk.
func TestPullSurvivesLongStall(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithReplicas(2), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 64 << 10
		cfg.OrphanGrace = 100 * time.Millisecond
	}))
	waitSettled(c)
	data := randomBytes(62, 12*64<<10+5)
	o := newCountingOrigin(t, data)
	o.stallFirst = make(chan struct{})
	a0 := newAPIClient(c)
	id := a0.create(t, `{"name": "stall", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`"}`))
	// A bounded client: a pull that lost chunks would wait for them (up
	// to LocationPullTimeout) instead of failing.
	got := make(chan []byte, 1)
	go func() {
		cl := &http.Client{Timeout: time.Minute}
		resp, err := cl.Get(c.URL(1) + "/v2/images/" + id + "/file")
		if err != nil {
			got <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- b
	}()
	c.Eventually(30*time.Second, "the pull stalls half way", o.stalled.Load)
	deadline := time.Now().Add(time.Second) // ten times OrphanGrace
	for time.Now().Before(deadline) {
		for i := range 3 {
			if _, err := c.Node(i).CollectGarbage(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(o.stallFirst)
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatal("the stalled pull's download differs from the origin's data")
	}
	for i := range 3 {
		if b := download(t, glance(c.URL(i), ""), id); !bytes.Equal(b, data) {
			t.Fatalf("download on node %d differs after the stalled pull", i)
		}
	}
}
