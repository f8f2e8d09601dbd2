package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// remoteFailure is the task message of every failure on the remote side.
const remoteFailure = "Image import failed: the image data could not be read from its source."

// names resolves host names as the test says (a DNS that rebinds a
// public-looking name to an internal address).
type names map[string]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := n[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// dialOnly is a dial seam that connects to the given addresses only and
// fails the test if asked for any other.
func dialOnly(t *testing.T, ok ...string) urlfilter.Option {
	allowed := map[string]bool{}
	for _, a := range ok {
		allowed[a] = true
	}
	return urlfilter.WithDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !allowed[addr] {
			t.Errorf("dialled %s, which the import filter must refuse", addr)
			return nil, errors.New("test: no connection")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
}

// failedWith runs a web-download of uri and checks that its task failed
// with msg and the image went back to queued, unlocked.
func failedWith(t *testing.T, h *harness, taskID, uri, msg string) {
	t.Helper()
	img := h.cat.put(queuedImage("img-" + taskID))
	job := &catalog.ImportJob{Task: newTask(taskID), ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodWebDownload,
		URI: uri, Stores: []string{catalog.DefaultStore}, MaxSize: 1 << 20}
	if err := h.im.StartImport(context.Background(), job); err != nil {
		t.Fatalf("StartImport(%s): %v", uri, err)
	}
	task := finished(t, h, taskID)
	if task.Status != catalog.TaskFailure || task.Message != msg {
		t.Fatalf("web-download of %s: task %s %q, want failure %q", uri, task.Status, task.Message, msg)
	}
	got, _ := h.cat.Image(img.ID)
	if got.Status != catalog.StatusQueued || got.Properties[catalog.PropImportTask] != "" || got.Manifest != nil {
		t.Fatalf("web-download of %s: image %s %v, want queued, unlocked and without data", uri, got.Status, got.Properties)
	}
}

// TestRefusedSourcesAreNeverFetched: with Glance's default rules, no
// web-download, location import or location pull connects to an
// internal address, whether the URL names it or a name resolves to it
// when the connection is made (the dial seam fails the test otherwise),
// and the task says only that the data could not be read.
func TestRefusedSourcesAreNeverFetched(t *testing.T) {
	dns := names{"public.example": "127.0.0.1", "metadata.example": "169.254.169.254", "ula.example": "fd00::1", "private.example": "10.1.2.3"}
	h := newHarness(t, Config{Filter: mustFilter(t, urlfilter.Rules{}, urlfilter.WithResolver(dns), dialOnly(t))})
	h.run(t)
	uris := []string{
		"http://127.0.0.1/img", "http://[::1]/img", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x",
		"http://10.0.0.1/x", "http://172.16.0.1/x", "http://192.168.0.1/x", "http://[fd00::1]/x", "http://224.0.0.1/x",
		"http://[ff02::1]/x", "http://0.0.0.0/x", "http://[::]/x", "http://[::ffff:127.0.0.1]/x", "http://localhost/x",
		"http://public.example/img", "http://metadata.example/latest/meta-data/", "http://ula.example/x", "http://private.example/x",
		"ftp://example.com/x", "http://example.com:22/x", "file:///etc/passwd",
	}
	for i, uri := range uris {
		failedWith(t, h, "web-"+string(rune('a'+i)), uri, remoteFailure)
	}
	for i, uri := range uris[:18] {
		id := "loc-" + string(rune('a'+i))
		img := h.cat.put(queuedImage("img-" + id))
		job := &catalog.LocationJob{Task: newTask(id), ImageID: img.ID, ImageRevision: img.Revision, URL: uri,
			Locations: []catalog.Location{{URL: uri}}, MaxSize: 1 << 20}
		if err := h.im.StartLocationImport(context.Background(), job); err != nil {
			t.Fatalf("StartLocationImport(%s): %v", uri, err)
		}
		if task := finished(t, h, id); task.Status != catalog.TaskFailure || task.Message != remoteFailure {
			t.Fatalf("location import of %s: task %s %q, want failure %q", uri, task.Status, task.Message, remoteFailure)
		}
		pulled := originImage(h, uri, []byte("data"), "")
		if _, err := h.im.PullImage(context.Background(), pulled); !errors.Is(err, catalog.ErrUnavailable) || !errors.Is(err, urlfilter.ErrRefused) {
			t.Fatalf("pull of %s: %v, want unavailable (refused)", uri, err)
		}
	}
}

// TestRemoteFailuresLookAlike: whatever went wrong on the remote side
// (an error status, nothing listening, a refused redirect), the task
// message is the same, so failed tasks cannot be used to scan ports.
func TestRemoteFailuresLookAlike(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/500":
			http.Error(w, "secret internal detail", http.StatusInternalServerError)
		case "/401":
			w.WriteHeader(http.StatusUnauthorized)
		case "/short":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("only this"))
		default:
			http.Redirect(w, r, strings.TrimPrefix(r.URL.RawQuery, "to="), http.StatusFound)
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()
	dns := names{"rebind.example": "127.0.0.1"}
	h := newHarness(t, Config{Filter: mustFilter(t, urlfilter.Rules{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{}},
		urlfilter.WithResolver(dns), dialOnly(t, srv.Listener.Addr().String(), closedAddr))})
	h.run(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for i, uri := range []string{
		srv.URL + "/404", srv.URL + "/500", srv.URL + "/401", srv.URL + "/short", "http://" + closedAddr + "/img",
		srv.URL + "/r?to=http://169.254.169.254/latest/meta-data/",
		srv.URL + "/r?to=http://[fd00::1]:" + port + "/x",
		srv.URL + "/r?to=http://10.0.0.1:" + port + "/x",
		srv.URL + "/r?to=http://rebind.example:" + port + "/404", // resolves to loopback, which is allowed only by address
		srv.URL + "/r?to=ftp://127.0.0.1/x",
	} {
		failedWith(t, h, "t"+string(rune('a'+i)), uri, remoteFailure)
	}
}

// TestGlanceDownloadKeepsCredentialsAtTheirOrigin: the caller's token
// reaches the remote Glance, and not a host that Glance redirects the
// data to.
func TestGlanceDownloadKeepsCredentialsAtTheirOrigin(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 2000)
	const remoteID = "8f5c1e2a-58a7-4d6b-9a52-3b0d7e0d9c11"
	var mu sync.Mutex
	seen := map[string]http.Header{}
	record := func(name string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[name] = r.Header.Clone()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("other", r)
		_, _ = w.Write(data)
	}))
	defer other.Close()
	glanceSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/images/" + remoteID:
			record("record", r)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": remoteID, "status": "active", "disk_format": "raw", "container_format": "bare"})
		case "/v2/images/" + remoteID + "/file":
			record("file", r)
			http.Redirect(w, r, "/moved/file", http.StatusFound)
		case "/moved/file":
			record("moved", r)
			http.Redirect(w, r, other.URL+"/data", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer glanceSrv.Close()
	h := newHarness(t, Config{GlanceDownloadEndpoints: map[string]string{"RegionTwo": glanceSrv.URL}})
	h.run(t)
	img := h.cat.put(queuedImage("img"))
	job := &catalog.ImportJob{Task: newTask("task-1"), ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodGlanceDownload,
		Region: "RegionTwo", RemoteImageID: remoteID, Stores: []string{catalog.DefaultStore}, MaxSize: 1 << 20,
		Forward: http.Header{"X-Auth-Token": {"the-token"}, "X-Roles": {"admin"}, "X-Project-Id": {"p1"}}}
	if err := h.im.StartImport(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if task := finished(t, h, "task-1"); task.Status != catalog.TaskSuccess {
		t.Fatalf("glance-download: task %s %q", task.Status, task.Message)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"record", "file", "moved"} {
		if seen[name].Get("X-Auth-Token") != "the-token" {
			t.Errorf("the remote Glance (%s) got token %q, want the caller's", name, seen[name].Get("X-Auth-Token"))
		}
	}
	for _, k := range []string{"X-Auth-Token", "X-Roles", "X-Project-Id", "Authorization", "Cookie"} {
		if v := seen["other"].Get(k); v != "" {
			t.Errorf("the host the data was redirected to got %s: %q", k, v)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestURLCredentialsStayOutOfLogsAndTasks: the user and password of a
// web-download or location URL never reach the log or a task message.
func TestURLCredentialsStayOutOfLogsAndTasks(t *testing.T) {
	data := []byte("some image data")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/img" {
			_, _ = w.Write(data)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	var logs syncBuffer
	h := newHarness(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	h.run(t)
	withCreds := strings.Replace(srv.URL, "http://", "http://alice:s3cr3t@", 1)
	failedWith(t, h, "web", withCreds+"/missing", remoteFailure)
	failedWith(t, h, "nowhere", "http://alice:s3cr3t@127.0.0.1:1/img", remoteFailure)

	img := h.cat.put(queuedImage("loc"))
	job := &catalog.LocationJob{Task: newTask("loc"), ImageID: img.ID, ImageRevision: img.Revision, URL: withCreds + "/missing",
		Locations: []catalog.Location{{URL: withCreds + "/missing"}}, MaxSize: 1 << 20}
	if err := h.im.StartLocationImport(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if task := finished(t, h, "loc"); task.Status != catalog.TaskFailure || strings.Contains(task.Message, "s3cr3t") {
		t.Fatalf("location import: task %s %q", task.Status, task.Message)
	}
	bad := originImage(h, withCreds+"/missing", data, "")
	if _, err := h.im.PullImage(context.Background(), bad); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("pull of a missing origin: %v", err)
	}
	good := h.cat.put(&catalog.Image{ID: "good", Status: catalog.StatusActive, Properties: map[string]string{}, Locations: []catalog.Location{{URL: withCreds + "/img"}}})
	if _, err := h.im.PullImage(context.Background(), good); err != nil {
		t.Fatalf("pull: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "alice") {
		t.Fatalf("the log holds the URL's credentials:\n%s", out)
	}
	if !strings.Contains(out, "***@127.0.0.1") {
		t.Fatalf("the log does not name the (redacted) URL:\n%s", out)
	}
}

// TestIdleRemoteFailsTheImport: a remote that stops sending (after the
// headers, or before them) fails the task once IdleTimeout passes with
// no byte, and the connection is closed.
func TestIdleRemoteFailsTheImport(t *testing.T) {
	release := make(chan struct{})
	gone := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall-body" {
			w.Header().Set("Content-Length", "100000")
			_, _ = w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			gone <- r.URL.Path
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, Config{IdleTimeout: 50 * time.Millisecond})
	h.run(t)
	failedWith(t, h, "body", srv.URL+"/stall-body", remoteFailure)
	failedWith(t, h, "headers", srv.URL+"/stall-headers", remoteFailure)
	for range 2 {
		select {
		case <-gone:
		case <-time.After(20 * time.Second):
			t.Fatal("the stalled request's connection was not closed")
		}
	}
}
