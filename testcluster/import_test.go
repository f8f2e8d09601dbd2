package testcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/tasks"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestImportMethods runs every interoperable import method against a
// 3-node cluster (zones z1, z2) whose glance-download region RegionTwo is
// a second, 1-node cluster.
func TestImportMethods(t *testing.T) {
	remote := testcluster.New(t, 1, testcluster.InMemory(), smallChunks())
	c := importCluster(t, remote.URL(0))
	waitSettled(remote)
	t.Run("GlanceDirectStagedOnOneNodeImportedOnAnother", func(t *testing.T) { testGlanceDirect(t, c) })
	t.Run("StageFailuresRequeue", func(t *testing.T) { testStageFailures(t, c) })
	t.Run("WebDownload", func(t *testing.T) { testWebDownload(t, c) })
	t.Run("GlanceDownload", func(t *testing.T) { testGlanceDownload(t, c, remote) })
	t.Run("Info", func(t *testing.T) { testInfo(t, c) })
	t.Run("CopyImageToAnotherZone", func(t *testing.T) { testCopyImage(t, c) }) // last: stops node 0
}

func testGlanceDirect(t *testing.T, c *testcluster.Cluster) {
	ctx := context.Background()
	data := randomBytes(1, mib(1)+12345)
	stager, importer, reader := glance(c.URL(2), ""), glance(c.URL(1), ""), glance(c.URL(0), "")
	img, err := images.Create(ctx, stager, images.CreateOpts{Name: "direct", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	must(t, err, "create")
	if !slices.Equal(img.OpenStackImageImportMethods, []string{"glance-direct", "web-download", "copy-image", "glance-download"}) ||
		!slices.Equal(img.OpenStackImageStoreIDs, []string{"default", "z1", "z2"}) {
		t.Fatalf("create headers: import methods %v, stores %v", img.OpenStackImageImportMethods, img.OpenStackImageStoreIDs)
	}
	must(t, imagedata.Stage(ctx, stager, img.ID, bytes.NewReader(data)).ExtractErr(), "stage on node 2")
	a2 := apiClient{base: c.URL(2)}
	staged := a2.show(t, img.ID)
	mustStatus(t, staged, "uploading")
	if staged["size"] != float64(len(data)) {
		t.Fatalf("staged size %v, want %d", staged["size"], len(data))
	}
	rec, err := c.Node(2).Image(ctx, img.ID)
	must(t, err, "image on node 2")
	if rec.Staging == nil || rec.Staging.Size != int64(len(data)) || len(rec.StagingPlacement) != 2 || rec.StagingPlacement[0] != "node2" {
		t.Fatalf("staged manifest %+v placement %v, want %d bytes on node2 and one more node", rec.Staging, rec.StagingPlacement, len(data))
	}
	a2.do(t, "PUT", "/v2/images/"+img.ID+"/stage", []byte("again"), "Content-Type", octetStream).want(t, http.StatusConflict)
	a2.upload(t, img.ID, []byte("x")).want(t, http.StatusConflict)

	res := imageimport.Create(ctx, importer, img.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod})
	must(t, res.ExtractErr(), "import glance-direct on node 1")
	reqID := res.Header.Get("X-Openstack-Request-Id")
	task := apiClient{base: c.URL(1)}.waitImportTask(t, img.ID, reqID)
	if task["status"] != "success" || task["message"] != "" || task["result"].(map[string]any)["image_id"] != img.ID {
		t.Fatalf("task %v", task)
	}
	checkRawTask(t, task, img.ID)

	got := download(t, reader, img.ID)
	done, err := images.Get(ctx, reader, img.ID).Extract()
	must(t, err, "get on node 0")
	checkImageData(t, done, data, got)
	a0 := apiClient{base: c.URL(0)}
	shown := a0.show(t, img.ID)
	mustStatus(t, shown, "active")
	checkImportProps(t, shown, "")
	final, err := c.Node(0).Image(ctx, img.ID)
	must(t, err, "image on node 0")
	if final.Staging != nil || !slices.Equal(final.Placement, rec.StagingPlacement) {
		t.Fatalf("placement %v (staging %v), want the staged placement %v", final.Placement, final.Staging, rec.StagingPlacement)
	}
	tk, err := tasks.Get(ctx, reader, task["id"].(string)).Extract()
	must(t, err, "GET /v2/tasks/{id}")
	if tk.Status != "success" || tk.Type != "api_image_import" || tk.Result["image_id"] != img.ID || tk.ExpiresAt.IsZero() {
		t.Fatalf("task %+v", tk)
	}
	a0.do(t, "POST", "/v2/images/"+img.ID+"/import", `{"method": {"name": "glance-direct"}}`, "Content-Type", "application/json").
		wantErr(t, http.StatusConflict, "status active cannot be target for import")
}

func testStageFailures(t *testing.T, c *testcluster.Cluster) {
	a := apiClient{base: c.URL(1)}
	id := a.create(t, `{"name": "stage-fail", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	// Over the 4 MiB image size cap, streamed without a size: 413, queued.
	a.do(t, "PUT", "/v2/images/"+id+"/stage", io.Reader(bytes.NewReader(randomBytes(5, mib(4.5)))), "Content-Type", octetStream).
		want(t, http.StatusRequestEntityTooLarge)
	img := a.show(t, id)
	mustStatus(t, img, "queued")
	if img["size"] != nil {
		t.Fatalf("size %v after a failed stage, want null", img["size"])
	}
	// Size header and body disagree: 400, queued.
	a.do(t, "PUT", "/v2/images/"+id+"/stage", []byte("12345"), "Content-Type", octetStream, "X-Openstack-Image-Size", "6").
		want(t, http.StatusBadRequest)
	mustStatus(t, a.show(t, id), "queued")
	// glance-direct needs staged data.
	a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "glance-direct"}}`, "Content-Type", "application/json").
		wantErr(t, http.StatusConflict, "needs to be staged")
	// The image can still be staged and imported afterwards.
	a.do(t, "PUT", "/v2/images/"+id+"/stage", []byte("hello"), "Content-Type", octetStream).want(t, http.StatusNoContent)
	a.importOK(t, id, `{"method": {"name": "glance-direct"}}`)
	mustStatus(t, a.show(t, id), "active")
}

func testWebDownload(t *testing.T, c *testcluster.Cluster) {
	ctx := context.Background()
	data := randomBytes(2, 700_000)
	srv := dataServer(t, data, mib(4.25))
	a := apiClient{base: c.URL(1)}
	id := a.create(t, `{"name": "web", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	client := glance(c.URL(1), "")
	for _, uri := range []string{"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/x", "http:///nohost"} {
		err := imageimport.Create(ctx, client, id, imageimport.CreateOpts{Name: imageimport.WebDownloadMethod, URI: uri}).ExtractErr()
		if statusOf(err) != http.StatusBadRequest {
			t.Fatalf("web-download of %s: %v, want 400", uri, err)
		}
	}
	// Failures: the task fails with a reason, the image is queued again
	// and unlocked, the store listed as failed. A failure of the remote
	// side says nothing about the remote (no status: no port scanning).
	for _, c := range []struct{ path, reason string }{
		{"/missing", "Image import failed: the image data could not be read from its source."},
		{"/big", "size cap"},
		{"/big-cl", "size cap"},
	} {
		task := a.waitImportTask(t, id, a.startImport(t, id, `{"method": {"name": "web-download", "uri": "`+srv.URL+c.path+`"}}`))
		if msg, _ := task["message"].(string); task["status"] != "failure" || !strings.Contains(msg, c.reason) || strings.Contains(msg, "404") {
			t.Fatalf("web-download of %s: task %v, want failure mentioning %q", c.path, task, c.reason)
		}
		img := a.show(t, id)
		mustStatus(t, img, "queued")
		checkImportProps(t, img, "default")
		if img["size"] != nil || img["checksum"] != nil {
			t.Fatalf("failed import left size %v checksum %v", img["size"], img["checksum"])
		}
	}
	res := imageimport.Create(ctx, client, id, imageimport.CreateOpts{Name: imageimport.WebDownloadMethod, URI: srv.URL + "/img"})
	must(t, res.ExtractErr(), "web-download")
	task := a.waitImportTask(t, id, res.Header.Get("X-Openstack-Request-Id"))
	if task["status"] != "success" {
		t.Fatalf("web-download task %v", task)
	}
	reader := glance(c.URL(2), "")
	got := download(t, reader, id)
	img, err := images.Get(ctx, reader, id).Extract()
	must(t, err, "get")
	checkImageData(t, img, data, got)
	checkImportProps(t, apiClient{base: c.URL(2)}.show(t, id), "")
	if n := len(a.imageTasks(t, id)); n != 4 {
		t.Fatalf("image has %d tasks, want 4", n)
	}
	// As in Glance, tasks without an owner (the noauth admin's) are
	// visible to whoever sees the image.
	if n := len(a.as("p9").imageTasks(t, id)); n != 4 {
		t.Fatalf("another project sees %d owner-less tasks, want 4", n)
	}
}

func testGlanceDownload(t *testing.T, c, remote *testcluster.Cluster) {
	ctx := context.Background()
	data := randomBytes(4, 900_000)
	src := createAndUpload(t, glance(remote.URL(0), ""), "remote-src", data)
	r := apiClient{base: remote.URL(0)}
	r.patch(t, src.ID, `[{"op": "add", "path": "/os_distro", "value": "cirros"}, {"op": "replace", "path": "/min_ram", "value": 64}]`).want(t, http.StatusOK)

	a := apiClient{base: c.URL(2)}
	id := a.create(t, `{"name": "from-region-two", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
	a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "glance-download", "glance_region": "RegionTwo"}}`, "Content-Type", "application/json").
		wantErr(t, http.StatusBadRequest, "glance_image_id")
	task := a.waitImportTask(t, id, a.startImport(t, id, `{"method": {"name": "glance-download", "glance_region": "Nowhere", "glance_image_id": "`+src.ID+`"}}`))
	if task["status"] != "failure" || !strings.Contains(task["message"].(string), "Nowhere") {
		t.Fatalf("glance-download from an unknown region: task %v", task)
	}
	mustStatus(t, a.show(t, id), "queued")

	a.importOK(t, id, `{"method": {"name": "glance-download", "glance_region": "RegionTwo", "glance_image_id": "`+src.ID+`", "glance_service_interface": "public"}}`)
	reader := glance(c.URL(1), "")
	got := download(t, reader, id)
	img, err := images.Get(ctx, reader, id).Extract()
	must(t, err, "get")
	checkImageData(t, img, data, got)
	// Glance copies the formats and the properties under its prefixes
	// (os_distro is one), not min_ram.
	if img.Properties["os_distro"] != "cirros" || img.MinRAMMegabytes != 0 || img.DiskFormat != "raw" {
		t.Fatalf("metadata copied from the remote image: os_distro %v min_ram %d disk_format %s", img.Properties["os_distro"], img.MinRAMMegabytes, img.DiskFormat)
	}
}

func testInfo(t *testing.T, c *testcluster.Cluster) {
	ctx := context.Background()
	info, err := imageimport.Get(ctx, glance(c.URL(1), "")).Extract()
	must(t, err, "GET /v2/info/import")
	if info.ImportMethods.Type != "array" || !slices.Equal(info.ImportMethods.Value, []string{"glance-direct", "web-download", "copy-image", "glance-download"}) {
		t.Fatalf("import info %+v", info)
	}
	a := apiClient{base: c.URL(1)}
	stores := a.do(t, "GET", "/v2/info/stores", nil).want(t, http.StatusOK).obj(t)["stores"].([]any)
	var ids []string
	for _, s := range stores {
		ids = append(ids, s.(map[string]any)["id"].(string))
	}
	if !slices.Equal(ids, []string{"default", "z1", "z2"}) || stores[0].(map[string]any)["default"] != "true" {
		t.Fatalf("stores %v", stores)
	}
	detail := a.do(t, "GET", "/v2/info/stores/detail", nil).want(t, http.StatusOK).obj(t)["stores"].([]any)
	if d := detail[2].(map[string]any); d["type"] != "p2p" || d["properties"].(map[string]any)["nodes"] != float64(1) {
		t.Fatalf("store detail %v", d)
	}
	a.as("p1").do(t, "GET", "/v2/info/stores/detail", nil).want(t, http.StatusForbidden)
	// No quota configured: Glance without Keystone limits answers no
	// resource.
	if usage := a.as("p-info").do(t, "GET", "/v2/info/usage", nil).want(t, http.StatusOK); string(usage.body) != `{"usage": {}}` {
		t.Fatalf("usage without quotas: %s", usage.body)
	}
}

func testCopyImage(t *testing.T, c *testcluster.Cluster) {
	ctx := context.Background()
	data := randomBytes(3, 600_000)
	img := createAndUpload(t, glance(c.URL(0), ""), "copy-src", data)
	before, err := c.Node(0).Image(ctx, img.ID)
	must(t, err, "image on node 0")
	if !slices.Equal(before.Placement, []string{"node0"}) {
		t.Fatalf("placement %v, want node0 only (node 0 keeps one copy)", before.Placement)
	}
	a := apiClient{base: c.URL(0)}
	path := "/v2/images/" + img.ID + "/import"
	ct := []string{"Content-Type", "application/json"}
	a.as("p1").do(t, "POST", path, `{"method": {"name": "copy-image"}, "stores": ["z2"]}`, ct...).want(t, http.StatusForbidden)
	a.do(t, "POST", path, `{"method": {"name": "copy-image"}, "stores": ["z9"]}`, ct...).wantErr(t, http.StatusConflict, "z9")
	a.do(t, "POST", path, `{"method": {"name": "copy-image"}, "stores": ["default"]}`, ct...).wantErr(t, http.StatusBadRequest, "already present at store 'default'")
	// An upload is in the default store only, whatever zones its copies
	// happen to be in (Glance: one location, one store). Copying it to
	// z1, where node 0's copy already is, moves nothing but adds the store.
	if s := a.show(t, img.ID)["stores"]; s != "default" {
		t.Fatalf("stores after the upload: %v, want default", s)
	}
	a.importOK(t, img.ID, `{"method": {"name": "copy-image"}, "stores": ["z1"]}`)
	if rec, _ := c.Node(0).Image(ctx, img.ID); !slices.Equal(rec.Placement, []string{"node0"}) || a.show(t, img.ID)["stores"] != "default,z1" {
		t.Fatalf("after copy-image to z1: placement %v, stores %v", rec.Placement, a.show(t, img.ID)["stores"])
	}
	a.do(t, "POST", path, `{"method": {"name": "copy-image"}, "stores": ["z1"]}`, ct...).wantErr(t, http.StatusBadRequest, "already present at store 'z1'")

	a.importOK(t, img.ID, `{"method": {"name": "copy-image"}, "stores": ["z2"]}`)
	after, err := c.Node(0).Image(ctx, img.ID)
	must(t, err, "image on node 0")
	if !slices.Equal(after.Placement, []string{"node0", "node1"}) || after.Status != "active" {
		t.Fatalf("after copy-image to z2: placement %v status %s, want node0 and node1 (z2), active", after.Placement, after.Status)
	}
	checkImportProps(t, a.show(t, img.ID), "")
	a.do(t, "POST", path, `{"method": {"name": "copy-image"}, "all_stores": true}`, ct...).want(t, http.StatusAccepted)

	// An import that names a zone store puts a copy there too.
	srv := dataServer(t, randomBytes(14, 400_000), 0)
	web := a.create(t, `{"name": "web-z2", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	a.importOK(t, web, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/img"}, "stores": ["default", "z2"]}`)
	rec, err := c.Node(0).Image(ctx, web)
	must(t, err, "image on node 0")
	if !slices.Equal(rec.Placement, []string{"node0", "node1"}) || a.show(t, web)["stores"] != "default,z2" {
		t.Fatalf("web-download to default and z2 through node 0: placement %v, stores %v, want node0 and node1, default,z2", rec.Placement, a.show(t, web)["stores"])
	}

	// The z2 copy is durable: with node 0 gone, node 2 reads it from node 1.
	c.Stop(0)
	reader := glance(c.URL(2), "")
	got := download(t, reader, img.ID)
	shown, err := images.Get(ctx, reader, img.ID).Extract()
	must(t, err, "get on node 2")
	checkImageData(t, shown, data, got)
}

// TestTasksAPIImport drives the legacy tasks API: an import task creates
// and fills an image; tasks are listed, filtered, paged and never deleted.
func TestTasksAPIImport(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), smallChunks())
	waitSettled(c)
	ctx := context.Background()
	data := randomBytes(6, 500_000)
	srv := dataServer(t, data, 0)
	gc := glance(c.URL(0), "")
	input := map[string]any{"import_from": srv.URL + "/img", "import_from_format": "raw",
		"image_properties": map[string]any{"name": "from-task", "os_distro": "cirros"}}
	task, err := tasks.Create(ctx, gc, tasks.CreateOpts{Type: "import", Input: input}).Extract()
	must(t, err, "create task")
	if task.Status != "pending" || task.Type != "import" || task.Self != "/v2/tasks/"+task.ID || task.Schema != "/v2/schemas/task" {
		t.Fatalf("new task %+v", task)
	}
	c.Eventually(testTimeout, "the import task succeeds", func() bool {
		task, err = tasks.Get(ctx, gc, task.ID).Extract()
		must(t, err, "get task")
		return task.Status == "success" || task.Status == "failure"
	})
	imageID, _ := task.Result["image_id"].(string)
	if task.Status != "success" || imageID == "" {
		t.Fatalf("task %+v", task)
	}
	got := download(t, gc, imageID)
	img, err := images.Get(ctx, gc, imageID).Extract()
	must(t, err, "get image")
	checkImageData(t, img, data, got)
	if img.Name != "from-task" || img.Properties["os_distro"] != "cirros" || img.DiskFormat != "raw" || img.ContainerFormat != "bare" {
		t.Fatalf("image from task: %+v", img)
	}

	a := newAPIClient(c)
	r := a.do(t, "POST", "/v2/tasks", `{"type": "import", "input": {"import_from": "`+srv.URL+`/missing", "import_from_format": "raw"}}`,
		"Content-Type", "application/json").want(t, http.StatusCreated)
	failing := r.obj(t)
	if loc := r.header.Get("Location"); loc != c.URL(0)+"/v2/tasks/"+failing["id"].(string) {
		t.Fatalf("Location %q", loc)
	}
	c.Eventually(testTimeout, "the failing task fails", func() bool {
		m := a.do(t, "GET", "/v2/tasks/"+failing["id"].(string), nil).want(t, http.StatusOK).obj(t)
		return m["status"] == "failure" && m["message"] == "Image import failed: the image data could not be read from its source."
	})
	a.do(t, "POST", "/v2/tasks", `{"type": "import", "input": {"import_from": "file:///etc/passwd", "import_from_format": "raw"}}`,
		"Content-Type", "application/json").want(t, http.StatusBadRequest)

	pages, err := tasks.List(gc, tasks.ListOpts{Status: tasks.TaskStatusSuccess}).AllPages(ctx)
	must(t, err, "list tasks")
	list, err := tasks.ExtractTasks(pages)
	must(t, err, "extract tasks")
	if len(list) != 1 || list[0].ID != task.ID {
		t.Fatalf("successful tasks %+v", list)
	}
	var ids []string
	path := "/v2/tasks?sort_dir=asc&limit=1"
	for page := range 5 {
		m := a.do(t, "GET", path, nil).want(t, http.StatusOK).obj(t)
		// As Glance: the client's parameters in its order, the marker
		// last (a repeated one once, its last value).
		if page == 0 && (m["first"] != "/v2/tasks?sort_dir=asc&limit=1" || !strings.HasPrefix(fmt.Sprint(m["next"]), "/v2/tasks?sort_dir=asc&limit=1&marker=")) {
			t.Fatalf("task links first %v next %v", m["first"], m["next"])
		}
		for _, v := range m["tasks"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		next, ok := m["next"].(string)
		if !ok {
			break
		}
		path = next
	}
	if !slices.Equal(ids, []string{task.ID, failing["id"].(string)}) {
		t.Fatalf("paged task ids %v, want oldest first %s, %s", ids, task.ID, failing["id"])
	}
	a.do(t, "GET", "/v2/tasks?type=import&status=failure", nil).want(t, http.StatusOK)
	a.do(t, "GET", "/v2/tasks?status=nope", nil).want(t, http.StatusBadRequest)
	del := a.do(t, "DELETE", "/v2/tasks/"+task.ID, nil).want(t, http.StatusMethodNotAllowed)
	if del.header.Get("Allow") != "GET" {
		t.Fatalf("DELETE task: Allow %q", del.header.Get("Allow"))
	}
	a.as("p1").do(t, "GET", "/v2/tasks", nil).want(t, http.StatusForbidden)
	_, err = tasks.Get(ctx, glance(c.URL(0), "p1"), task.ID).Extract()
	if statusOf(err) != http.StatusForbidden {
		t.Fatalf("task as a project member: %v, want 403", err)
	}
}

// TestQuotaEnforced checks the per-project quotas: image count on create,
// stored bytes on upload and import, staged bytes on stage — each a 413
// that leaves the image queued.
func TestQuotaEnforced(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.QuotaImageCount = 3
		cfg.QuotaImageSizeTotal = 2 << 20
		cfg.QuotaStageTotal = 1 << 20
	}))
	waitSettled(c)
	q := newAPIClient(c).as("q")
	usage := func() map[string]any {
		return q.do(t, "GET", "/v2/info/usage", nil).want(t, http.StatusOK).obj(t)["usage"].(map[string]any)
	}
	want := map[string][2]float64{"image_size_total": {2, 0}, "image_stage_total": {1, 0}, "image_count_total": {3, 0}, "image_count_uploading": {-1, 0}}
	for k, v := range want {
		if u := usage()[k].(map[string]any); u["limit"] != v[0] || u["usage"] != v[1] {
			t.Fatalf("usage %s = %v, want limit %v usage %v", k, u, v[0], v[1])
		}
	}
	body := `{"name": "q", "disk_format": "raw", "container_format": "bare"}`
	first := q.create(t, body)["id"].(string)
	q.upload(t, first, randomBytes(7, mib(1.5))).want(t, http.StatusNoContent)
	if u := usage()["image_size_total"].(map[string]any); u["usage"] != float64(1) {
		t.Fatalf("image_size_total usage %v MiB after 1.5 MiB, want 1", u["usage"])
	}
	second := q.create(t, body)["id"].(string)
	q.upload(t, second, randomBytes(8, mib(1)), "X-Openstack-Image-Size", "1048576").wantErr(t, http.StatusRequestEntityTooLarge, "image_size_total")
	q.upload(t, second, io.Reader(bytes.NewReader(randomBytes(8, mib(1))))).want(t, http.StatusRequestEntityTooLarge)
	mustStatus(t, q.show(t, second), "queued")
	stage := "/v2/images/" + second + "/stage"
	q.do(t, "PUT", stage, randomBytes(9, mib(1.5)), "Content-Type", octetStream).wantErr(t, http.StatusRequestEntityTooLarge, "image_stage_total")
	q.do(t, "PUT", stage, io.Reader(bytes.NewReader(randomBytes(9, mib(1.5)))), "Content-Type", octetStream).want(t, http.StatusRequestEntityTooLarge)
	mustStatus(t, q.show(t, second), "queued")
	q.do(t, "PUT", stage, randomBytes(10, 300_000), "Content-Type", octetStream).want(t, http.StatusNoContent)
	if u := usage()["image_count_uploading"].(map[string]any); u["usage"] != float64(1) {
		t.Fatalf("image_count_uploading %v, want 1", u)
	}
	q.importOK(t, second, `{"method": {"name": "glance-direct"}}`)
	// Another project that sees the image does not see q's tasks on it.
	q.patch(t, second, `[{"op": "replace", "path": "/visibility", "value": "community"}]`).want(t, http.StatusOK)
	if n := len(q.as("other").imageTasks(t, second)); n != 0 {
		t.Fatalf("another project sees %d of q's tasks", n)
	}
	if n := len(q.imageTasks(t, second)); n != 1 {
		t.Fatalf("q sees %d tasks on its image, want 1", n)
	}

	third := q.create(t, body)["id"].(string)
	q.do(t, "POST", "/v2/images", body, "Content-Type", "application/json").wantErr(t, http.StatusRequestEntityTooLarge, "image_count_total")
	newAPIClient(c).as("other").create(t, body) // quotas are per project

	// ~1.79 MiB stored: a 1 MiB download does not fit in what is left.
	srv := dataServer(t, randomBytes(11, mib(1)), 0)
	task := q.waitImportTask(t, third, q.startImport(t, third, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/img"}}`))
	if task["status"] != "failure" || !strings.Contains(task["message"].(string), "quota") {
		t.Fatalf("web-download over quota: task %v", task)
	}
	mustStatus(t, q.show(t, third), "queued")
}

// TestImportInterruptedByNodeStop stops the node running a web-download
// and a stage: both images go back to queued (the stage possibly through
// the leader's recovery, once the node is gone for UploadGrace) and the
// import task fails.
func TestImportInterruptedByNodeStop(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.UploadGrace = time.Second
	}))
	waitSettled(c)
	requested := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(randomBytes(12, 300<<10))
		w.(http.Flusher).Flush()
		requested <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	a2, a0 := apiClient{base: c.URL(2)}, apiClient{base: c.URL(0)}
	body := `{"name": "interrupted", "disk_format": "raw", "container_format": "bare"}`
	web := a2.create(t, body)["id"].(string)
	reqID := a2.startImport(t, web, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/slow"}}`)
	<-requested

	staged := a2.create(t, body)["id"].(string)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		req, _ := http.NewRequest("PUT", c.URL(2)+"/v2/images/"+staged+"/stage", pr)
		req.Header.Set("Content-Type", octetStream)
		if resp, err := testcluster.Client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	_, _ = pw.Write(randomBytes(13, 300<<10))
	c.Eventually(testTimeout, "the stage is under way", func() bool { return a0.show(t, staged)["status"] == "uploading" })
	mustStatus(t, a0.show(t, web), "importing")

	c.Stop(2)
	c.Eventually(testTimeout, "both images are queued again", func() bool {
		return a0.show(t, web)["status"] == "queued" && a0.show(t, staged)["status"] == "queued"
	})
	task := a0.waitImportTask(t, web, reqID)
	if task["status"] != "failure" || !strings.Contains(task["message"].(string), "stopped") {
		t.Fatalf("task of the interrupted import: %v", task)
	}
	checkImportProps(t, a0.show(t, web), "default")
	// Both can be used again.
	a0.do(t, "PUT", "/v2/images/"+staged+"/stage", []byte("again"), "Content-Type", octetStream).want(t, http.StatusNoContent)
}
