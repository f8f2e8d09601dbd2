package testcluster_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// neverFetched is an origin on loopback that fails the test if anything
// reaches it.
func neverFetched(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("the origin was asked for %s %s, which the import filter must refuse", r.Method, r.URL)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// unchanged checks that a refused request left image id queued, with no
// import lock and no task.
func unchanged(t *testing.T, a apiClient, id string) {
	t.Helper()
	img := a.show(t, id)
	mustStatus(t, img, "queued")
	if img["os_glance_import_task"] != nil || img["size"] != nil {
		t.Fatalf("a refused request changed the image: %v", img)
	}
	if n := len(a.imageTasks(t, id)); n != 0 {
		t.Fatalf("a refused request left %d tasks", n)
	}
}

// TestImportFilterDefaults: with the default filter (Glance's defaults
// plus the internal-address check), web-download, the tasks API and
// locations refuse internal addresses, IPv4 and IPv6, other schemes and
// ports with a 400 before anything is recorded or fetched.
func TestImportFilterDefaults(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ShowMultipleLocations = true
	}))
	waitSettled(c)
	origin := neverFetched(t)
	_, originPort, _ := net.SplitHostPort(origin.Listener.Addr().String())
	a := newAPIClient(c)
	id := a.create(t, `{"name": "filtered", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	refused := []string{
		origin.URL + "/img", "http://localhost:" + originPort + "/img", "http://[::1]:" + originPort + "/img",
		"http://127.0.0.1/img", "http://127.1.2.3/img", "http://[::1]/img", "http://localhost/img",
		"http://169.254.169.254/latest/meta-data/", "http://169.254.10.10/x", "http://[fe80::1]/x",
		"http://10.0.0.1/x", "http://172.16.0.1/x", "http://192.168.1.1/x", "http://[fd00::1]/x", "http://[fc00::1]/x",
		"http://224.0.0.1/x", "http://[ff02::1]/x", "http://0.0.0.0/x", "http://[::]/x", "http://[::ffff:10.0.0.1]/x",
		"http://example.com:8080/x", "http://example.com:22/x", "ftp://example.com/x", "file:///etc/passwd",
	}
	for _, uri := range refused {
		a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "web-download", "uri": "`+uri+`"}}`, "Content-Type", "application/json").
			wantErr(t, http.StatusBadRequest, "URI for web-download does not pass filtering: "+uri)
		if strings.HasPrefix(uri, "http") {
			a.do(t, "POST", "/v2/images/"+id+"/locations", `{"url": "`+uri+`"}`, "Content-Type", "application/json").
				wantErr(t, http.StatusBadRequest, "does not pass filtering")
			a.patch(t, id, `[{"op": "add", "path": "/locations/-", "value": {"url": "`+uri+`", "metadata": {}}}]`).
				wantErr(t, http.StatusBadRequest, "does not pass filtering")
			a.do(t, "POST", "/v2/tasks", `{"type": "import", "input": {"import_from": "`+uri+`", "import_from_format": "raw"}}`,
				"Content-Type", "application/json").wantErr(t, http.StatusBadRequest, "does not pass filtering")
		}
	}
	unchanged(t, a, id)
	// The node's own addresses.
	for _, addr := range []string{c.Node(0).APIAddr(), c.Node(0).PeerAddr()} {
		uri := "http://" + addr + "/"
		a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "web-download", "uri": "`+uri+`"}}`, "Content-Type", "application/json").
			wantErr(t, http.StatusBadRequest, "does not pass filtering")
	}
	unchanged(t, a, id)
}

// TestImportFilterOptOut: an operator who allows 127.0.0.1 (and any
// port) may import from it, but never from a node's own listening
// address, and a redirect from the allowed origin to an internal
// address fails the task without reaching it.
func TestImportFilterOptOut(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), smallChunks())
	waitSettled(c)
	a := newAPIClient(c)
	id := a.create(t, `{"name": "opt-out", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	for _, addr := range []string{c.Node(0).APIAddr(), c.Node(0).PeerAddr(), c.Node(0).RaftAddr(), c.Node(0).GossipAddr()} {
		uri := "http://" + addr + "/v2/images"
		a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "web-download", "uri": "`+uri+`"}}`, "Content-Type", "application/json").
			wantErr(t, http.StatusBadRequest, "URI for web-download does not pass filtering: "+uri)
	}
	// Allowed hosts are a whitelist: other hosts are refused.
	a.do(t, "POST", "/v2/images/"+id+"/import", `{"method": {"name": "web-download", "uri": "http://example.com/x"}}`, "Content-Type", "application/json").
		wantErr(t, http.StatusBadRequest, "does not pass filtering")
	unchanged(t, a, id)

	data := randomBytes(77, 300_000)
	var redirectTo string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/img" {
			_, _ = w.Write(data)
			return
		}
		http.Redirect(w, r, redirectTo, http.StatusFound)
	}))
	defer srv.Close()
	for _, to := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/x", "http://" + c.Node(0).APIAddr() + "/v2/images"} {
		redirectTo = to
		task := a.waitImportTask(t, id, a.startImport(t, id, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/redirect"}}`))
		if task["status"] != "failure" || task["message"] != "Image import failed: the image data could not be read from its source." {
			t.Fatalf("web-download redirected to %s: task %v", to, task)
		}
		mustStatus(t, a.show(t, id), "queued")
	}
	a.importOK(t, id, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/img"}}`)
	if got := download(t, glance(c.URL(0), ""), id); string(got) != string(data) {
		t.Fatal("the imported data differs")
	}
}
