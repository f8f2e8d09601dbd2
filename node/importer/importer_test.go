package importer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

func TestCapReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		cap  int64
		err  error
	}{
		{"under", "abc", 5, nil},
		{"exact", "abcde", 5, nil},
		{"over", "abcdef", 5, errOverCap},
		{"empty", "", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := io.ReadAll(&capReader{r: strings.NewReader(tc.data), left: tc.cap})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil && string(got) != tc.data {
				t.Fatalf("read %q, want %q", got, tc.data)
			}
			if tc.err != nil && !errors.Is(err, catalog.ErrTooLarge) {
				t.Fatalf("err = %v, want a catalog.ErrTooLarge", err)
			}
		})
	}
}

// TestCopyRemoteMetadata: as Glance's glance-download, the formats and
// the custom properties under the configured prefixes are copied (and
// overwrite the image's own); nothing else, never os_glance*.
func TestCopyRemoteMetadata(t *testing.T) {
	img := queuedImage("img")
	img.Properties["mine"] = "kept"
	img.Properties["os_distro"] = "windows"
	copyRemoteMetadata(img, map[string]any{
		"disk_format": "qcow2", "container_format": "ovf", "min_ram": float64(512), "min_disk": float64(3),
		"name": "remote-name", "os_glance_import_task": "x", "hw_arch": "x86_64", "tags": []any{"a"}, "count": float64(3),
		"trait:STORAGE_DISK_SSD": "required", "os_distro": "rhel", "speed": "88mph",
	}, DefaultGlanceDownloadProperties)
	if *img.DiskFormat != "qcow2" || *img.ContainerFormat != "ovf" {
		t.Fatalf("formats %s/%s, want qcow2/ovf", *img.DiskFormat, *img.ContainerFormat)
	}
	if img.MinRAM != 0 || img.MinDisk != 0 {
		t.Fatalf("min_ram %d min_disk %d, want 0: Glance copies neither", img.MinRAM, img.MinDisk)
	}
	want := map[string]string{"mine": "kept", "hw_arch": "x86_64", "trait:STORAGE_DISK_SSD": "required", "os_distro": "rhel"}
	if !maps.Equal(img.Properties, want) {
		t.Fatalf("properties %v, want %v", img.Properties, want)
	}
	img = queuedImage("img2")
	copyRemoteMetadata(img, map[string]any{"hw_arch": "x86_64", "speed": "88mph"}, []string{"sp"})
	if !maps.Equal(img.Properties, map[string]string{"speed": "88mph"}) {
		t.Fatalf("with prefix sp: properties %v", img.Properties)
	}
}

func TestImportFailureMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errOverCap, "Image import failed: the image data exceeds the image size cap or the storage quota."},
		{context.Canceled, "Image import failed: the node running it stopped."},
		{errors.New("boom"), "Image import failed: boom"},
		{fmt.Errorf("fetch http://x: %w: the server answered 404 Not Found", errRemote), "Image import failed: the image data could not be read from its source."},
	} {
		if got := importFailureMessage(tc.err); got != tc.want {
			t.Errorf("importFailureMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestNoWorkUnlessRunning(t *testing.T) {
	h := newHarness(t, Config{})
	img := h.cat.put(queuedImage("img"))
	job := &catalog.ImportJob{Task: newTask("t1"), ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodWebDownload, URI: "http://127.0.0.1:1/x", MaxSize: 1 << 20}
	if err := h.im.StartImport(context.Background(), job); !errors.Is(err, catalog.ErrUnavailable) {
		t.Fatalf("StartImport before Run: %v, want catalog.ErrUnavailable", err)
	}
	if err := h.im.Go("x", func(context.Context) {}); !errors.Is(err, catalog.ErrUnavailable) {
		t.Fatalf("Go before Run: %v, want catalog.ErrUnavailable", err)
	}
	if _, err := h.cat.Doc(catalog.TaskKind, "t1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("a refused import left its task: %v", err)
	}
}

// startWebDownload starts a web-download of url into a new queued image.
func startWebDownload(t *testing.T, h *harness, url string, maxSize int64) (*catalog.Image, *catalog.ImportJob) {
	t.Helper()
	img := h.cat.put(queuedImage("img"))
	job := &catalog.ImportJob{Task: newTask("task-1"), ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodWebDownload, URI: url, Stores: []string{catalog.DefaultStore}, MaxSize: maxSize}
	if err := h.im.StartImport(context.Background(), job); err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	return img, job
}

// finished waits for a task to finish and returns it.
func finished(t *testing.T, h *harness, id string) *catalog.Task {
	t.Helper()
	waitFor(t, "task "+id+" to finish", func() bool { return h.cat.task(t, id).Finished() })
	return h.cat.task(t, id)
}

func TestWebDownloadImport(t *testing.T) {
	data := bytes.Repeat([]byte{0}, 3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) }))
	defer srv.Close()
	h := newHarness(t, Config{})
	h.run(t)
	img, _ := startWebDownload(t, h, srv.URL, 1<<20)

	task := finished(t, h, "task-1")
	if task.Status != catalog.TaskSuccess || task.Runner != "self" || task.Target != img.ID {
		t.Fatalf("task %+v, want success run by self on %s", task, img.ID)
	}
	got, _ := h.cat.Image(img.ID)
	sum := md5.Sum(data)
	switch {
	case got.Status != catalog.StatusActive:
		t.Fatalf("image is %s, want active", got.Status)
	case got.Size == nil || *got.Size != int64(len(data)) || got.Checksum == nil || *got.Checksum != hex.EncodeToString(sum[:]):
		t.Fatalf("image size/checksum %v/%v, want %d/%x", got.Size, got.Checksum, len(data), sum)
	case got.VirtualSize == nil || *got.VirtualSize != int64(len(data)):
		t.Fatalf("virtual size %v, want %d (raw)", got.VirtualSize, len(data))
	case got.Properties[catalog.PropImportTask] != "" || got.Properties[catalog.PropImportingToStores] != "":
		t.Fatalf("import lock left on the image: %v", got.Properties)
	}
}

func TestFailedImportRequeuesImage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		maxSize int64
		message string
	}{
		{"origin error", "", http.StatusNotFound, 1 << 20, "could not be read from its source"},
		{"over the cap", "0123456789", http.StatusOK, 4, "exceeds the image size cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			h := newHarness(t, Config{})
			h.run(t)
			img, _ := startWebDownload(t, h, srv.URL, tc.maxSize)
			task := finished(t, h, "task-1")
			if task.Status != catalog.TaskFailure || !strings.Contains(task.Message, tc.message) {
				t.Fatalf("task %s %q, want failure mentioning %q", task.Status, task.Message, tc.message)
			}
			got, _ := h.cat.Image(img.ID)
			if got.Status != catalog.StatusQueued || got.Properties[catalog.PropImportTask] != "" {
				t.Fatalf("image %s with properties %v, want queued and unlocked", got.Status, got.Properties)
			}
			if got.Properties[catalog.PropFailedImport] != catalog.DefaultStore {
				t.Fatalf("failed stores %q, want %q", got.Properties[catalog.PropFailedImport], catalog.DefaultStore)
			}
		})
	}
}

func TestStageThenGlanceDirect(t *testing.T) {
	h := newHarness(t, Config{})
	h.run(t)
	img := h.cat.put(queuedImage("img"))
	data := bytes.Repeat([]byte{0}, 1000)
	if _, err := h.im.StageImage(context.Background(), img, bytes.NewReader(data), 999); !errors.Is(err, catalog.ErrSizeMismatch) {
		t.Fatalf("stage with a wrong size hint: %v, want catalog.ErrSizeMismatch", err)
	}
	img, _ = h.cat.Image(img.ID)
	if img.Status != catalog.StatusQueued || img.Upload != nil {
		t.Fatalf("after a failed stage the image is %s (lock %v), want queued", img.Status, img.Upload)
	}
	staged, err := h.im.StageImage(context.Background(), img, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("stage: %v", err)
	}
	if staged.Status != catalog.StatusUploading || staged.Upload != nil || staged.Staging == nil || staged.Staging.Size != int64(len(data)) {
		t.Fatalf("staged image %s, lock %v, staging %v: want uploading, unlocked, %d bytes staged", staged.Status, staged.Upload, staged.Staging, len(data))
	}
	job := &catalog.ImportJob{Task: newTask("task-1"), ImageID: img.ID, ImageRevision: staged.Revision, Method: catalog.MethodGlanceDirect, Stores: []string{catalog.DefaultStore}, MaxSize: 1 << 20}
	if err := h.im.StartImport(context.Background(), job); err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	if task := finished(t, h, "task-1"); task.Status != catalog.TaskSuccess {
		t.Fatalf("task %s %q, want success", task.Status, task.Message)
	}
	got, _ := h.cat.Image(img.ID)
	if got.Status != catalog.StatusActive || got.Staging != nil || got.Manifest == nil || got.Manifest.Size != int64(len(data)) {
		t.Fatalf("image %s, staging %v, manifest %v: want active with the staged data", got.Status, got.Staging, got.Manifest)
	}
}

func TestStaleImportRevisionIsRefused(t *testing.T) {
	h := newHarness(t, Config{})
	h.run(t)
	img := h.cat.put(queuedImage("img"))
	job := &catalog.ImportJob{Task: newTask("task-1"), ImageID: img.ID, ImageRevision: img.Revision - 1, Method: catalog.MethodWebDownload, URI: "http://127.0.0.1:1/", MaxSize: 1}
	if err := h.im.StartImport(context.Background(), job); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("StartImport at a stale revision: %v, want catalog.ErrConflict", err)
	}
}

func TestCopyImageToZone(t *testing.T) {
	h := newHarness(t, Config{})
	h.run(t)
	data := bytes.Repeat([]byte{0}, 100)
	man, placement, _ := h.data.Ingest(context.Background(), "img", bytes.NewReader(data))
	img := queuedImage("img")
	img.Status, img.Manifest, img.Placement = catalog.StatusActive, man, placement
	img = h.cat.put(img)
	job := &catalog.ImportJob{Task: newTask("task-1"), ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodCopyImage, Stores: []string{"z1", "z2"}, MaxSize: 1 << 20}
	if err := h.im.StartImport(context.Background(), job); err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	if task := finished(t, h, "task-1"); task.Status != catalog.TaskSuccess {
		t.Fatalf("task %s %q, want success", task.Status, task.Message)
	}
	got, _ := h.cat.Image(img.ID)
	want := []string{"self", "node-in-z1", "node-in-z2"}
	if got.Status != catalog.StatusActive || strings.Join(got.Placement, ",") != strings.Join(want, ",") {
		t.Fatalf("image %s placed on %v, want active on %v", got.Status, got.Placement, want)
	}
	if p := got.Properties; p[catalog.PropImportTask] != "" || p[catalog.PropImportingToStores] != "" || p[catalog.PropFailedImport] != "" {
		t.Fatalf("import properties left: %v", p)
	}
}

func TestRecoveryFailsImportsOfStoppedRunners(t *testing.T) {
	h := newHarness(t, Config{UploadGrace: 40 * time.Millisecond})
	h.cluster.leader = true
	// An import this node ran before a restart, one a dead node ran, and
	// one a live node runs.
	for _, runner := range []string{"self", "dead", "live"} {
		task := newTask("task-" + runner)
		task.Runner, task.Method, task.Target = runner, catalog.MethodWebDownload, "img-"+runner
		d, err := task.Doc()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.cat.PutDoc(context.Background(), d, true, 0); err != nil {
			t.Fatal(err)
		}
		img := queuedImage("img-" + runner)
		img.Status = catalog.StatusImporting
		img.Properties[catalog.PropImportTask] = task.ID
		h.cat.put(img)
	}
	h.cluster.alive["live"] = true
	h.run(t)
	for _, runner := range []string{"self", "dead"} {
		task := finished(t, h, "task-"+runner)
		if task.Status != catalog.TaskFailure || !strings.Contains(task.Message, "interrupted") {
			t.Fatalf("task of %s: %s %q, want failure (interrupted)", runner, task.Status, task.Message)
		}
		img, _ := h.cat.Image("img-" + runner)
		if img.Status != catalog.StatusQueued || img.Properties[catalog.PropImportTask] != "" {
			t.Fatalf("image of %s is %s (%v), want queued and unlocked", runner, img.Status, img.Properties)
		}
	}
	if !h.im.Settled() {
		t.Fatal("Settled is false after a recovery pass")
	}
	if task := h.cat.task(t, "task-live"); task.Finished() {
		t.Fatalf("the import of a live node was failed: %+v", task)
	}
}

func TestRecoveryAbortsThisNodesEndedUploads(t *testing.T) {
	h := newHarness(t, Config{})
	saving := queuedImage("img")
	saving.Status = catalog.StatusSaving
	saving.Upload = &catalog.UploadLock{Node: "self", Session: "s1"}
	h.cat.put(saving)
	running := queuedImage("img-running")
	running.Status = catalog.StatusSaving
	running.Upload = &catalog.UploadLock{Node: "self", Session: "s2"}
	h.cat.put(running)
	defer h.im.Track("s2")()
	h.run(t)
	waitFor(t, "the recovery pass", h.im.Settled)
	h.data.mu.Lock()
	defer h.data.mu.Unlock()
	if strings.Join(h.data.aborted, ",") != "img" {
		t.Fatalf("aborted uploads %v, want only img (the other is still running)", h.data.aborted)
	}
}

// originImage stores an active image whose data is only at url, with
// the size and checksum of data.
func originImage(h *harness, url string, data []byte, checksum string) *catalog.Image {
	img := queuedImage("img")
	img.Status = catalog.StatusActive
	size := int64(len(data))
	img.Size, img.Checksum = &size, &checksum
	img.Locations = []catalog.Location{{URL: url}}
	return h.cat.put(img)
}

func TestPullReadsTheOriginOnce(t *testing.T) {
	data := bytes.Repeat([]byte{0}, 5000)
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	h := newHarness(t, Config{})
	h.run(t)
	sum := md5.Sum(data)
	img := originImage(h, srv.URL, data, hex.EncodeToString(sum[:]))
	if !OriginBacked(img) {
		t.Fatal("an active image with only a location is not origin-backed")
	}

	const callers = 4
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.im.PullImage(context.Background(), img)
			if err == nil && (out.Manifest == nil || out.Manifest.Size != int64(len(data))) {
				err = errors.New("pulled image has no manifest of the data")
			}
			errs <- err
		}()
	}
	waitFor(t, "the origin to be asked", func() bool { return hits.Load() > 0 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the origin was read %d times, want once", n)
	}
	got, _ := h.cat.Image(img.ID)
	if got.Upload != nil || got.Manifest == nil || OriginBacked(got) {
		t.Fatalf("after the pull: lock %v, manifest %v; want the manifest committed and the lock gone", got.Upload, got.Manifest)
	}
	if out, err := h.im.PullImage(context.Background(), got); err != nil || out != got {
		t.Fatalf("PullImage of a pulled image = %v, %v; want it unchanged", out, err)
	}
}

func TestPullRefusesMismatchedOrigin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("other data")) }))
	defer srv.Close()
	h := newHarness(t, Config{})
	h.run(t)
	img := originImage(h, srv.URL, []byte("the data!!"), "0123456789abcdef0123456789abcdef")
	_, err := h.im.PullImage(context.Background(), img)
	if !errors.Is(err, catalog.ErrUnavailable) || !errors.Is(err, errOriginMismatch) {
		t.Fatalf("pull of mismatched data: %v, want catalog.ErrUnavailable (origin mismatch)", err)
	}
	got, _ := h.cat.Image(img.ID)
	if got.Upload != nil || got.Manifest != nil {
		t.Fatalf("after a refused pull: lock %v, manifest %v; want neither", got.Upload, got.Manifest)
	}
}

func TestLocationImportActivatesOnHead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("origin got %s, want HEAD only", r.Method)
		}
		w.Header().Set("Content-Length", "4096")
	}))
	defer srv.Close()
	h := newHarness(t, Config{})
	h.run(t)
	img := h.cat.put(queuedImage("img"))
	job := &catalog.LocationJob{
		Task: newTask("task-1"), ImageID: img.ID, ImageRevision: img.Revision, URL: srv.URL,
		Locations: []catalog.Location{{URL: srv.URL}}, MaxSize: 1 << 20,
		Validation: catalog.ValidationData{Checksum: "0123456789abcdef0123456789abcdef"},
	}
	if err := h.im.StartLocationImport(context.Background(), job); err != nil {
		t.Fatalf("StartLocationImport: %v", err)
	}
	if task := finished(t, h, "task-1"); task.Status != catalog.TaskSuccess || task.Method != methodLocationImport {
		t.Fatalf("task %s (%s) %q, want success of a location import", task.Status, task.Method, task.Message)
	}
	got, _ := h.cat.Image(img.ID)
	switch {
	case got.Status != catalog.StatusActive || !OriginBacked(got):
		t.Fatalf("image %s, manifest %v: want active with its data at the location", got.Status, got.Manifest)
	case got.Size == nil || *got.Size != 4096 || got.VirtualSize == nil || *got.VirtualSize != 4096:
		t.Fatalf("size %v virtual %v, want 4096 from the HEAD", got.Size, got.VirtualSize)
	case got.Checksum == nil || *got.Checksum != job.Validation.Checksum:
		t.Fatalf("checksum %v, want the validation data's", got.Checksum)
	}
}
