package testcluster_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// testTimeout bounds the waits of the import tests.
const testTimeout = 20 * time.Second

// importCluster starts the cluster of the import tests: three in-memory
// nodes in zones z1, z2, z1 with 256 KiB chunks and a 4 MiB image size
// cap. Node 0 keeps a single copy of what it ingests (so that copy-image
// has a zone to copy to); the others keep two. glance-download may fetch
// from the Glance at remote (RegionTwo) when remote is set.
func importCluster(t *testing.T, remote string) *testcluster.Cluster {
	t.Helper()
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithZones("z1", "z2"), testcluster.WithReplicas(2),
		testcluster.WithConfig(func(i int, c *node.Config) {
			c.ChunkSize = 256 << 10
			c.MaxImageSize = 4 << 20
			if i == 0 {
				c.Replicas = 1
			}
			if remote != "" {
				c.GlanceDownloadEndpoints = map[string]string{"RegionTwo": remote}
			}
		}))
	waitSettled(c)
	return c
}

// waitSettled waits until every running node has caught up since start
// and recovered interrupted work, so nothing the test starts is taken for
// work left over from before.
func waitSettled(c *testcluster.Cluster) {
	c.Eventually(testTimeout, "every node has settled", func() bool {
		for i := range c.Size() {
			if n := c.Node(i); n != nil && !n.ImportsSettled() {
				return false
			}
		}
		return true
	})
}

// dataServer serves /img (data with a Content-Length), /big (size bytes,
// streamed without a length), /big-cl (size bytes with a length) and 404
// for anything else.
func dataServer(t *testing.T, data []byte, size int) *httptest.Server {
	t.Helper()
	big := randomBytes(99, size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img":
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			_, _ = w.Write(data)
		case "/big":
			for off := 0; off < len(big); off += 64 << 10 {
				if _, err := w.Write(big[off:min(off+64<<10, len(big))]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		case "/big-cl":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = w.Write(big)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startImport posts an import and returns the response's request id.
func (c apiClient) startImport(t testing.TB, id, body string, hdr ...string) string {
	t.Helper()
	r := c.do(t, "POST", "/v2/images/"+id+"/import", body, append([]string{"Content-Type", "application/json"}, hdr...)...)
	r.want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Fatalf("import answered a body: %q", r.body)
	}
	reqID := r.header.Get("X-Openstack-Request-Id")
	if reqID == "" {
		t.Fatal("import answered no x-openstack-request-id")
	}
	return reqID
}

// imageTasks returns GET /v2/images/{id}/tasks.
func (c apiClient) imageTasks(t testing.TB, id string) []map[string]any {
	t.Helper()
	m := c.do(t, "GET", "/v2/images/"+id+"/tasks", nil).want(t, http.StatusOK).obj(t)
	list, ok := m["tasks"].([]any)
	if !ok {
		t.Fatalf("image tasks: no tasks array: %v", m)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

// waitImportTask waits until the import task of the request reqID on
// image id has finished and returns it (as GET /v2/images/{id}/tasks
// shows it).
func (c apiClient) waitImportTask(t testing.TB, id, reqID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, task := range c.imageTasks(t, id) {
			if task["request_id"] != reqID {
				continue
			}
			if st := task["status"]; st == "success" || st == "failure" {
				return task
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("import task of request %s on image %s did not finish: %v", reqID, id, c.imageTasks(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// importOK posts an import, waits for its task and fails unless it
// succeeded; it returns the task.
func (c apiClient) importOK(t testing.TB, id, body string) map[string]any {
	t.Helper()
	task := c.waitImportTask(t, id, c.startImport(t, id, body))
	if task["status"] != "success" {
		t.Fatalf("import %s into %s: task %v", body, id, task)
	}
	return task
}

// rawTime is the datetime format of raw task rows (Python isoformat).
var rawTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$`)

// checkRawTask checks the shape of a raw task row of a finished import.
func checkRawTask(t testing.TB, task map[string]any, imageID string) {
	t.Helper()
	for _, k := range []string{"id", "type", "status", "owner", "expires_at", "created_at", "updated_at", "deleted_at",
		"deleted", "image_id", "request_id", "user_id", "input", "result", "message"} {
		if _, ok := task[k]; !ok {
			t.Fatalf("raw task row lacks %q: %v", k, task)
		}
	}
	for _, k := range []string{"created_at", "updated_at", "expires_at"} {
		if s, _ := task[k].(string); !rawTime.MatchString(s) {
			t.Fatalf("raw task %s = %v, want Python isoformat without Z", k, task[k])
		}
	}
	if task["type"] != "api_image_import" || task["image_id"] != imageID || task["deleted"] != false || task["deleted_at"] != nil {
		t.Fatalf("raw task row: %v", task)
	}
}

// checkImportProps checks the bookkeeping properties after an import:
// no lock, no store left, failed as given.
func checkImportProps(t testing.TB, img map[string]any, failed string) {
	t.Helper()
	if v, ok := img["os_glance_import_task"]; ok {
		t.Fatalf("image %v still holds the import lock %v", img["id"], v)
	}
	if img["os_glance_importing_to_stores"] != "" || img["os_glance_failed_import"] != failed {
		t.Fatalf("image %v: importing_to_stores %q failed_import %q, want \"\" and %q", img["id"],
			img["os_glance_importing_to_stores"], img["os_glance_failed_import"], failed)
	}
}

// mustStatus fails unless the image has status.
func mustStatus(t testing.TB, img map[string]any, status string) {
	t.Helper()
	if img["status"] != status {
		t.Fatalf("image %v: status %v, want %s", img["id"], img["status"], status)
	}
}

func mib(n float64) int { return int(n * float64(1<<20)) }

func must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
