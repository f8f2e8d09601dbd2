package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// chunkDirUsage is the disk usage of node i's chunk store.
func chunkDirUsage(t *testing.T, c *testcluster.Cluster, i int) int64 {
	t.Helper()
	n, err := chunkstore.DirDiskUsage(c.DataDir(i) + "/chunks")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteGivesDiskSpaceBack(t *testing.T) {
	c := testcluster.New(t, 3, smallChunks())
	client := glance(c.URL(0), "")
	base := make([]int64, 3)
	for i := range 3 {
		base[i] = chunkDirUsage(t, c, i)
	}
	data := randomBytes(20, 48<<20)
	img := createAndUpload(t, client, "big", data)
	full := make([]int64, 3)
	for i := range 3 {
		full[i] = chunkDirUsage(t, c, i)
		if full[i]-base[i] < int64(len(data)) {
			t.Fatalf("node %d grew by %d bytes for a %d-byte image", i, full[i]-base[i], len(data))
		}
	}
	if err := images.Delete(context.Background(), client, img.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.Eventually(60*time.Second, fmt.Sprintf("node %d gives the image's space back", i), func() bool {
			return chunkDirUsage(t, c, i)-base[i] < int64(len(data))/8
		})
		if m := c.Node(i).Metrics(); m.StoredChunks != 0 {
			t.Fatalf("node %d still holds %d chunks", i, m.StoredChunks)
		}
		t.Logf("node %d: %d MiB before, %d MiB with the image, %d MiB after delete", i, base[i]>>20, full[i]>>20, chunkDirUsage(t, c, i)>>20)
	}
	// Every node answers 404 for it; the chunks are served by no one.
	for i := range 3 {
		if _, err := images.Get(context.Background(), glance(c.URL(i), ""), img.ID).Extract(); err == nil {
			t.Fatalf("node %d still shows the deleted image", i)
		}
	}
}

// patchImage sends one JSON-patch and returns the status code.
func patchImage(t *testing.T, url, id, patch string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, url+"/v2/images/"+id, strings.NewReader(patch))
	req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestConcurrentPatchesNeverOverwriteSilently runs many PATCHes of one
// image at once through every node: each either succeeds (200) and its
// change is in the final image, or loses (409) — never 200 and lost.
func TestConcurrentPatchesNeverOverwriteSilently(t *testing.T) {
	c := testcluster.New(t, 3)
	img, err := images.Create(context.Background(), glance(c.URL(0), ""), images.CreateOpts{Name: "contended"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	const writers = 24
	codes := make([]int, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[w] = patchImage(t, c.URL(w%3), img.ID, fmt.Sprintf(`[{"op": "add", "path": "/prop_%d", "value": "v"}]`, w))
		}()
	}
	wg.Wait()
	final, err := images.Get(context.Background(), glance(c.URL(0), ""), img.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	won, lost := 0, 0
	for w, code := range codes {
		_, present := final.Properties[fmt.Sprintf("prop_%d", w)]
		switch code {
		case http.StatusOK:
			won++
			if !present {
				t.Fatalf("PATCH %d answered 200 but its change was overwritten", w)
			}
		case http.StatusConflict:
			lost++
			if present {
				t.Fatalf("PATCH %d answered 409 but its change is there", w)
			}
		default:
			t.Fatalf("PATCH %d: status %d", w, code)
		}
	}
	if won == 0 {
		t.Fatal("no PATCH succeeded")
	}
	t.Logf("%d PATCHes won, %d got 409", won, lost)
}

func TestSnapshotInstallAndRestore(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 64, 16
	}))
	client := glance(c.URL(1), "")
	var ids []string
	for k := range 150 {
		img, err := images.Create(context.Background(), client, images.CreateOpts{Name: fmt.Sprintf("img-%03d", k), Tags: []string{"t"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, img.ID)
	}
	if err := images.Delete(context.Background(), client, ids[0]).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.Node(i).Snapshot(); err != nil {
			t.Fatalf("snapshot node %d: %v", i, err)
		}
	}
	// A new node can only catch up by installing a snapshot: the log
	// before it is compacted away.
	k := c.Add()
	c.WaitMembers(4)
	count := func(i int) int {
		n := 0
		pager := images.List(glance(c.URL(i), ""), images.ListOpts{Limit: 40})
		_ = pager.EachPage(context.Background(), func(_ context.Context, p pagination.Page) (bool, error) {
			imgs, err := images.ExtractImages(p)
			n += len(imgs)
			return true, err
		})
		return n
	}
	c.Eventually(20*time.Second, "the new node has the whole catalog", func() bool { return count(k) == 149 })
	if _, err := images.Get(context.Background(), glance(c.URL(k), ""), ids[0]).Extract(); err == nil {
		t.Fatal("deleted image resurrected on the new node")
	}
	// A restarted node rebuilds its state from its snapshot plus log.
	c.Restart(2)
	c.WaitMembers(4)
	c.Eventually(20*time.Second, "the restarted node has the whole catalog", func() bool { return count(2) == 149 })
}

// failingReader returns n bytes of data, then an error.
type failingReader struct {
	data []byte
	n    int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("client went away")
	}
	k := copy(p, r.data[:min(len(p), r.n)])
	r.data, r.n = r.data[k:], r.n-k
	return k, nil
}

func TestInterruptedUploadReturnsToQueued(t *testing.T) {
	c := testcluster.New(t, 3, smallChunks())
	client := glance(c.URL(1), "")
	img, err := images.Create(context.Background(), client, images.CreateOpts{Name: "half", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.Node(1).Image(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(30, 4<<20)
	req, _ := http.NewRequest(http.MethodPut, c.URL(1)+"/v2/images/"+img.ID+"/file", &failingReader{data: data, n: 3 << 20})
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("interrupted upload answered %d", resp.StatusCode)
	}
	// The server may notice the broken stream after the client does:
	// wait until the upload went saving and back (a newer revision).
	c.Eventually(10*time.Second, "the uploading node requeues the image", func() bool {
		cur, err := c.Node(1).Image(context.Background(), img.ID)
		return err == nil && cur.Status == "queued" && cur.Revision > created.Revision
	})
	for i := range 3 {
		c.Eventually(10*time.Second, fmt.Sprintf("node %d shows the image queued", i), func() bool {
			got, err := images.Get(context.Background(), glance(c.URL(i), ""), img.ID).Extract()
			return err == nil && got.Status == "queued" && got.SizeBytes == 0
		})
		c.Eventually(20*time.Second, fmt.Sprintf("node %d drops the orphan chunks", i), func() bool {
			_, _ = c.Node(i).CollectGarbage(context.Background())
			return c.Node(i).Metrics().StoredChunks == 0
		})
	}
	// The image can be uploaded again, completely this time.
	if err := uploadRaw(c.URL(1), img.ID, data); err != nil {
		t.Fatal(err)
	}
	got, _ := images.Get(context.Background(), client, img.ID).Extract()
	checkImageData(t, got, data, download(t, glance(c.URL(2), ""), img.ID))
}

func uploadRaw(url, id string, data []byte) error {
	req, _ := http.NewRequest(http.MethodPut, url+"/v2/images/"+id+"/file", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("upload: %d %q", resp.StatusCode, b)
	}
	return nil
}

// TestReadYourWrites: a client talking to one node (a follower) always
// sees its own writes there at once.
func TestReadYourWrites(t *testing.T) {
	c := testcluster.New(t, 3)
	f := (c.WaitForLeader() + 1) % 3
	for k := range 30 {
		body := fmt.Sprintf(`{"name": "ryw-%d"}`, k)
		resp, err := http.Post(c.URL(f)+"/v2/images", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var img struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&img)
		resp.Body.Close()
		if code := patchImage(t, c.URL(f), img.ID, `[{"op": "replace", "path": "/name", "value": "renamed"}]`); code != 200 {
			t.Fatalf("patch on follower: %d", code)
		}
		got, err := images.Get(context.Background(), glance(c.URL(f), ""), img.ID).Extract()
		if err != nil || got.Name != "renamed" {
			t.Fatalf("follower read after its own write: %+v %v", got, err)
		}
	}
}

// TestNodesStopCleanly: after a cluster is closed no goroutine of it is
// left running.
func TestNodesStopCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		c := testcluster.New(t, 3, smallChunks())
		data := randomBytes(40, 600<<10)
		img := createAndUpload(t, glance(c.URL(0), ""), "x", data)
		_ = download(t, glance(c.URL(2), ""), img.ID)
		c.Close()
	}()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTruncatedChunkedUploadIsNotActive: a chunked request body cut off
// mid-stream (the connection closes without the final chunk) must never
// become an active image holding the bytes that did arrive.
func TestTruncatedChunkedUploadIsNotActive(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithReplicas(1), smallChunks())
	img, err := images.Create(context.Background(), glance(c.URL(0), ""), images.CreateOpts{Name: "cut", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.Node(0).Image(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.URL(0), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n", img.ID)
	chunk := randomBytes(50, 64<<10)
	for range 20 {
		fmt.Fprintf(conn, "%x\r\n", len(chunk))
		_, _ = conn.Write(chunk)
		_, _ = io.WriteString(conn, "\r\n")
	}
	conn.Close() // no terminating 0-length chunk
	c.Eventually(10*time.Second, "the cut upload is requeued", func() bool {
		cur, err := c.Node(0).Image(context.Background(), img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status == "active" {
			t.Fatalf("a truncated upload of %d bytes became active", *cur.Size)
		}
		return cur.Status == "queued" && cur.Revision > created.Revision
	})
}

// blockingReader returns n bytes, then blocks until released.
type blockingReader struct {
	data    []byte
	release chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		<-r.release
		return 0, errors.New("released")
	}
	k := copy(p, r.data)
	r.data = r.data[k:]
	return k, nil
}

// TestUploaderDeathRequeuesImage: when the node receiving an upload dies,
// the leader returns the image to queued once the grace period passes.
func TestUploaderDeathRequeuesImage(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.UploadGrace = time.Second
	}))
	up := (c.WaitForLeader() + 1) % 3
	img, err := images.Create(context.Background(), glance(c.URL(up), ""), images.CreateOpts{Name: "orphan", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	body := &blockingReader{data: randomBytes(70, 1<<20), release: make(chan struct{})}
	defer close(body.release)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, c.URL(up)+"/v2/images/"+img.ID+"/file", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	other := (up + 1) % 3
	c.Eventually(10*time.Second, "the upload is saving", func() bool {
		cur, err := c.Node(other).Image(context.Background(), img.ID)
		return err == nil && cur.Status == "saving"
	})
	c.Stop(up)
	c.Eventually(30*time.Second, "the leader requeues the image", func() bool {
		cur, err := c.Node(other).Image(context.Background(), img.ID)
		return err == nil && cur.Status == "queued" && cur.Upload == nil
	})
}
