package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
)

// importBackend is memBackend with import bookkeeping: started jobs are
// recorded, tasks kept as documents, stores and quotas set by the test.
type importBackend struct {
	*memBackend
	jobs  []*catalog.ImportJob
	docs  map[string]*catalog.Doc
	usage catalog.Usage
}

func (b *importBackend) StartImport(_ context.Context, job *catalog.ImportJob) error {
	b.jobs = append(b.jobs, job)
	d, err := job.Task.Doc()
	if err != nil {
		return err
	}
	b.docs[d.ID] = d
	return nil
}

func (b *importBackend) ImportMethods() []string {
	return []string{catalog.MethodGlanceDirect, catalog.MethodWebDownload, catalog.MethodCopyImage, catalog.MethodGlanceDownload}
}

func (b *importBackend) Stores(context.Context) ([]catalog.Store, error) {
	return []catalog.Store{{ID: catalog.DefaultStore, Default: true, Nodes: []string{"n1", "n2"}}, {ID: "z1", Nodes: []string{"n1"}}, {ID: "z2", Nodes: []string{"n2"}}}, nil
}

func (b *importBackend) Usage(context.Context, string) (*catalog.Usage, error) {
	u := b.usage
	return &u, nil
}

func (b *importBackend) Quotas() catalog.Usage { return b.usage }

func (b *importBackend) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	if d, ok := b.docs[id]; ok && kind == catalog.TaskKind {
		return d, nil
	}
	return nil, catalog.ErrNotFound
}

func (b *importBackend) Docs(context.Context, string) ([]*catalog.Doc, error) {
	var out []*catalog.Doc
	for _, d := range b.docs {
		out = append(out, d)
	}
	return out, nil
}

// newImportServer serves one image in status with both formats set.
func newImportServer(t *testing.T, status string) (*Server, *importBackend) {
	t.Helper()
	_, mb := newMemServer(t, status)
	b := &importBackend{memBackend: mb, docs: map[string]*catalog.Doc{}}
	img, _ := mb.Image(context.Background(), testImageID)
	raw, bare := "raw", "bare"
	img.DiskFormat, img.ContainerFormat = &raw, &bare
	if status == catalog.StatusUploading {
		img.Staging = &catalog.Manifest{Size: 10}
	}
	if status == catalog.StatusActive {
		img.Manifest = &catalog.Manifest{Size: 10}
		img.Placement = []string{"n1"}
	}
	s, err := New(Config{Backend: b, MaxImageSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func TestImportBodyValidation(t *testing.T) {
	s, b := newImportServer(t, catalog.StatusQueued)
	path := "/v2/images/" + testImageID + "/import"
	cases := []struct {
		body   string
		hdr    []string
		status int
		text   string
	}{
		{`[1]`, nil, 400, "Expected dict"},
		{`{}`, nil, 400, "requires a 'method' field"},
		{`{"method": "x"}`, nil, 400, "requires a 'method' field"},
		{`{"method": {}}`, nil, 400, "requires a 'name' field"},
		{`{"method": {"name": "foo"}}`, nil, 400, "Unknown import method name 'foo'"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}, "all_stores": "yes"}`, nil, 400, "must be boolean value only"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}, "all_stores": true, "stores": ["z1"]}`, nil, 400, "All_stores parameter"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}, "all_stores": true}`, []string{"X-Image-Meta-Store", "z1"}, 400, "All_stores parameter"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}, "stores": ["z1"]}`, []string{"X-Image-Meta-Store", "z1"}, 400, "can't be both specified"},
		{`{"method": {"name": "web-download", "uri": "ftp://h/x"}}`, nil, 400, "does not pass filtering"},
		{`{"method": {"name": "web-download", "uri": "file:///etc/passwd"}}`, nil, 400, "does not pass filtering"},
		{`{"method": {"name": "web-download"}}`, nil, 400, "does not pass filtering"},
		{`{"method": {"name": "glance-download", "glance_image_id": "` + testImageID + `"}}`, nil, 400, "'glance_region' needs to be set"},
		{`{"method": {"name": "glance-download", "glance_region": "R"}}`, nil, 400, "'glance_image_id' needs to be set"},
		{`{"method": {"name": "glance-download", "glance_region": "R", "glance_image_id": "nope"}}`, nil, 400, "Remote image id does not look like a UUID: nope"},
		{`{"method": {"name": "glance-direct", "uri": ""}}`, nil, 409, "needs to be staged"},
		{`{"method": {"name": "copy-image"}, "stores": ["z1"]}`, nil, 409, "Only images with status active"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}, "stores": ["zz"]}`, nil, 409, "Unknown scheme 'zz'"},
		{`{"method": {"name": "web-download", "uri": "http://h/x"}}`, []string{"X-Image-Meta-Store", "zz"}, 409, "Unknown scheme 'zz'"},
	}
	for _, c := range cases {
		rec := memDo(t, s, "POST", path, c.body, append([]string{"Content-Type", "application/json", "Accept", "application/json"}, c.hdr...)...)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.text) {
			t.Errorf("POST import %s %v: %d %s, want %d containing %q", c.body, c.hdr, rec.Code, rec.Body, c.status, c.text)
		}
	}
	if len(b.jobs) != 0 {
		t.Fatalf("refused requests started %d jobs", len(b.jobs))
	}
	rec := memDo(t, s, "POST", path, `{"method": {"name": "web-download", "uri": "https://example.com/i.img"}, "stores": ["z2", "default"]}`, "Content-Type", "application/json")
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
		t.Fatalf("web-download: %d %q, want 202 and no body", rec.Code, rec.Body)
	}
	job := b.jobs[0]
	if job.Method != catalog.MethodWebDownload || job.URI != "https://example.com/i.img" || !slices.Equal(job.Stores, []string{"z2", "default"}) || !job.AllStoresMustSucceed || job.MaxSize != 1<<30 {
		t.Fatalf("job %+v", job)
	}
	if task := job.Task; task.Type != catalog.TaskTypeAPIImageImport || task.Status != catalog.TaskPending || task.ImageID != testImageID ||
		task.RequestID == "" || task.RequestID != rec.Header().Get("X-Openstack-Request-Id") {
		t.Fatalf("task %+v, response request id %q", task, rec.Header().Get("X-Openstack-Request-Id"))
	}
	var input map[string]any
	if err := json.Unmarshal(job.Task.Input, &input); err != nil || input["image_id"] != testImageID || input["import_req"] == nil {
		t.Fatalf("task input %s: %v", job.Task.Input, err)
	}
	// The image is now locked by that (pending) task.
	img, _ := b.Image(context.Background(), testImageID)
	img.Properties = map[string]string{catalog.PropImportTask: job.Task.ID}
	rec = memDo(t, s, "POST", path, `{"method": {"name": "web-download", "uri": "https://example.com/i.img"}}`, "Content-Type", "application/json", "Accept", "application/json")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "active task") {
		t.Fatalf("import while locked: %d %s, want 409", rec.Code, rec.Body)
	}
	// Formats are needed before any import.
	img.Properties = nil
	img.DiskFormat = nil
	rec = memDo(t, s, "POST", path, `{"method": {"name": "web-download", "uri": "https://example.com/i.img"}}`, "Content-Type", "application/json", "Accept", "application/json")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "'disk_format' needs to be set") {
		t.Fatalf("import without disk_format: %d %s, want 409", rec.Code, rec.Body)
	}
}

func TestImportCopyImageChecks(t *testing.T) {
	s, b := newImportServer(t, catalog.StatusActive)
	owner := "p1"
	img, _ := b.Image(context.Background(), testImageID)
	img.Owner = &owner
	img.Stores = []string{"default", "z1"} // put in default, copied to z1
	path := "/v2/images/" + testImageID + "/import"
	ct := []string{"Content-Type", "application/json", "Accept", "application/json"}
	do := func(body string, hdr ...string) (int, string) {
		rec := memDo(t, s, "POST", path, body, append(slices.Clone(ct), hdr...)...)
		return rec.Code, rec.Body.String()
	}
	if code, body := do(`{"method": {"name": "copy-image"}, "stores": ["z2"]}`, "X-Project-Id", "p1"); code != 403 {
		t.Fatalf("copy-image by the owner (not admin): %d %s, want 403", code, body)
	}
	if code, body := do(`{"method": {"name": "web-download", "uri": "http://h/x"}}`); code != 409 || !strings.Contains(body, "status active cannot be target") {
		t.Fatalf("web-download to an active image: %d %s", code, body)
	}
	if code, body := do(`{"method": {"name": "copy-image"}, "stores": ["z1"]}`); code != 400 || !strings.Contains(body, "already present at store 'z1'") {
		t.Fatalf("copy-image to a store holding it: %d %s", code, body)
	}
	if code, body := do(`{"method": {"name": "copy-image"}}`); code != 400 || !strings.Contains(body, "store 'default'") {
		t.Fatalf("copy-image with no store: %d %s", code, body)
	}
	if code, body := do(`{"method": {"name": "copy-image"}, "all_stores": true}`); code != 202 || len(b.jobs) != 1 || !slices.Equal(b.jobs[0].Stores, []string{"z2"}) {
		t.Fatalf("copy-image to all stores: %d %s, jobs %v", code, body, b.jobs)
	}
	// It is in every store: accepted, nothing to do.
	img.Stores = []string{"default", "z1", "z2"}
	if code, body := do(`{"method": {"name": "copy-image"}, "all_stores": true}`); code != 202 || len(b.jobs) != 1 {
		t.Fatalf("copy-image when all stores hold it: %d %s, %d jobs", code, body, len(b.jobs))
	}
}

func TestImportStageChecks(t *testing.T) {
	s, b := newImportServer(t, catalog.StatusActive)
	path := "/v2/images/" + testImageID + "/stage"
	if rec := memDo(t, s, "PUT", path, "x", "Content-Type", "application/json"); rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("stage as JSON: %d, want 415", rec.Code)
	}
	if rec := memDo(t, s, "PUT", path, "x", "Content-Type", "application/octet-stream"); rec.Code != http.StatusConflict {
		t.Fatalf("stage to an active image: %d, want 409", rec.Code)
	}
	if rec := memDo(t, s, "POST", path, "x"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "PUT" {
		t.Fatalf("POST stage: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	img, _ := b.Image(context.Background(), testImageID)
	img.Status, img.Manifest = catalog.StatusQueued, nil
	b.usage.ImageStageTotal = catalog.UsageItem{Usage: 3 << 20, Limit: 4 << 20}
	rec := memDo(t, s, "PUT", path, strings.Repeat("x", 2<<20), "Content-Type", "application/octet-stream", "Accept", "application/json")
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "image_stage_total is over limit of 4 due to current usage 3 and delta 2") {
		t.Fatalf("stage over quota: %d %s", rec.Code, rec.Body)
	}
}

func TestTasksAPIPolicyAndErrors(t *testing.T) {
	s, _ := newImportServer(t, catalog.StatusQueued)
	json := []string{"Accept", "application/json"}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v2/tasks", ""},
		{"GET", "/v2/tasks/" + testImageID, ""},
		{"POST", "/v2/tasks", `{"type": "import", "input": {}}`},
	} {
		if rec := memDo(t, s, c.method, c.path, c.body, append([]string{"X-Project-Id", "p1", "Content-Type", "application/json"}, json...)...); rec.Code != http.StatusForbidden {
			t.Fatalf("%s %s as a member: %d, want 403", c.method, c.path, rec.Code)
		}
	}
	rec := memDo(t, s, "DELETE", "/v2/tasks/"+testImageID, "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET" || !strings.Contains(rec.Body.String(), "auto deleted") {
		t.Fatalf("DELETE task: %d Allow %q %s", rec.Code, rec.Header().Get("Allow"), rec.Body)
	}
	for _, q := range []string{"limit=x", "limit=-1", "marker=nope", "sort_dir=up", "sort_key=name", "status=done", "type=api_image_import"} {
		if rec := memDo(t, s, "GET", "/v2/tasks?"+q, "", json...); rec.Code != http.StatusBadRequest {
			t.Fatalf("GET /v2/tasks?%s: %d %s, want 400", q, rec.Code, rec.Body)
		}
	}
	if rec := memDo(t, s, "GET", "/v2/tasks/"+testImageID, "", json...); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown task: %d, want 404", rec.Code)
	}
	for _, body := range []string{`{"input": {}}`, `{"type": "import"}`, `{"type": "nope", "input": {}}`,
		`{"type": "import", "input": {"import_from": "ftp://x/y", "import_from_format": "raw"}}`,
		`{"type": "import", "input": {"import_from": "http://x/y"}}`} {
		if rec := memDo(t, s, "POST", "/v2/tasks", body, append([]string{"Content-Type", "application/json"}, json...)...); rec.Code != http.StatusBadRequest {
			t.Fatalf("POST /v2/tasks %s: %d %s, want 400", body, rec.Code, rec.Body)
		}
	}
}

func TestInfoAndQuotaOnCreate(t *testing.T) {
	s, b := newImportServer(t, catalog.StatusQueued)
	rec := memDo(t, s, "GET", "/v2/info/import", "")
	want := `{"import-methods": {"description": "Import methods available.", "type": "array", "value": ["glance-direct", "web-download", "copy-image", "glance-download"]}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("info/import: %d %s", rec.Code, rec.Body)
	}
	rec = memDo(t, s, "GET", "/v2/info/stores", "")
	if want := `{"stores": [{"id": "default", "default": "true"}, {"id": "z1"}, {"id": "z2"}]}`; rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("info/stores: %d %s", rec.Code, rec.Body)
	}
	if rec := memDo(t, s, "GET", "/v2/info/stores/detail", "", "X-Project-Id", "p1"); rec.Code != http.StatusForbidden {
		t.Fatalf("stores detail as a member: %d, want 403", rec.Code)
	}
	b.usage = catalog.Usage{ImageSizeTotal: catalog.UsageItem{Usage: 5 << 20, Limit: 10 << 20}, ImageCountTotal: catalog.UsageItem{Usage: 2, Limit: 2}}
	rec = memDo(t, s, "GET", "/v2/info/usage", "")
	want = `{"usage": {"image_size_total": {"limit": 10, "usage": 5}, "image_stage_total": {"limit": -1, "usage": 0}, ` +
		`"image_count_total": {"limit": 2, "usage": 2}, "image_count_uploading": {"limit": -1, "usage": 0}}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("info/usage: %d %s", rec.Code, rec.Body)
	}
	if rec := memDo(t, s, "POST", "/v2/images", `{"name": "x"}`, "Content-Type", "application/json"); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("create over image_count_total: %d %s", rec.Code, rec.Body)
	}
	b.usage.ImageCountTotal.Limit = 0
	rec = memDo(t, s, "POST", "/v2/images", `{"name": "x"}`, "Content-Type", "application/json")
	if rec.Code != http.StatusCreated || rec.Header().Get("OpenStack-image-import-methods") != "glance-direct,web-download,copy-image,glance-download" ||
		rec.Header().Get("OpenStack-image-store-ids") != "default,z1,z2" {
		t.Fatalf("create: %d headers %v", rec.Code, rec.Header())
	}
}
