package testcluster_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// qcow2Image returns a qcow2 header of a virtual-byte disk followed by
// zeros up to n bytes; backing names a backing file, features sets
// incompatible feature bits (bit 2: an external data file).
func qcow2Image(virtual uint64, n int, backing bool, features uint64) []byte {
	b := make([]byte, n)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 3)
	if backing {
		copy(b[512:], "/etc/shadow")
		binary.BigEndian.PutUint64(b[8:], 512)
		binary.BigEndian.PutUint32(b[16:], 11)
	}
	binary.BigEndian.PutUint32(b[20:], 16)
	binary.BigEndian.PutUint64(b[24:], virtual)
	binary.BigEndian.PutUint64(b[72:], features)
	binary.BigEndian.PutUint32(b[96:], 4)
	binary.BigEndian.PutUint32(b[100:], 104)
	return b
}

// waitNoChunks waits until no node of c holds a chunk (the refused
// data was collected like a failed upload's).
func waitNoChunks(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	for i := range c.Size() {
		c.Eventually(20*time.Second, fmt.Sprintf("node %d drops the refused data's chunks", i), func() bool {
			_, _ = c.Node(i).CollectGarbage(context.Background())
			return c.Node(i).Metrics().StoredChunks == 0
		})
	}
}

// mustQueued fails unless the image is queued without size, virtual
// size or checksum on every node.
func mustQueued(t *testing.T, c *testcluster.Cluster, id string) {
	t.Helper()
	for i := range c.Size() {
		c.Eventually(10*time.Second, fmt.Sprintf("node %d shows %s queued", i, id), func() bool {
			img := apiClient{base: c.URL(i)}.show(t, id)
			return img["status"] == "queued" && img["size"] == nil && img["virtual_size"] == nil && img["checksum"] == nil
		})
	}
}

// TestHostileImagesRefused: data that is not what its disk_format says,
// or that a hypervisor would follow out of the image (qcow2 backing or
// data file, VMDK extents elsewhere), is refused on upload (415, as
// Glance) and on import (the task fails); the image stays queued and no
// chunk of the data stays. Good data gets its virtual size.
func TestHostileImagesRefused(t *testing.T) {
	// importCluster's nodes, reading locations eagerly (through the
	// upload pipeline, so the inspection applies).
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithZones("z1", "z2"), testcluster.WithReplicas(2),
		testcluster.WithConfig(func(i int, c *node.Config) {
			c.ChunkSize = 256 << 10
			c.MaxImageSize = 4 << 20
			c.EagerLocations = true
		}))
	waitSettled(c)
	a := apiClient{base: c.URL(1)}
	const virtual = 64 << 20

	t.Run("UploadRefused", func(t *testing.T) {
		for _, tc := range []struct {
			name, disk string
			data       []byte
			reason     string
		}{
			{"qcow2 with a backing file", "qcow2", qcow2Image(virtual, mib(0.7), true, 0), "backing_file"},
			{"qcow2 with an external data file", "qcow2", qcow2Image(virtual, mib(0.3), false, 4), "data_file"},
			{"qcow2 with a backing file labelled raw", "raw", qcow2Image(virtual, mib(0.6), true, 0), "backing_file"},
			{"raw labelled qcow2", "qcow2", randomBytes(40, mib(1.2)), "Image disk_format qcow2 does not match stream data raw"},
			{"qcow2 labelled vmdk", "vmdk", qcow2Image(virtual, mib(0.3), false, 0), "Image disk_format vmdk does not match stream data qcow2"},
		} {
			id := a.create(t, `{"name": "hostile", "disk_format": "`+tc.disk+`", "container_format": "bare"}`)["id"].(string)
			a.upload(t, id, tc.data).wantErr(t, http.StatusUnsupportedMediaType, tc.reason)
			mustQueued(t, c, id)
			waitNoChunks(t, c)
			// Streamed without a length, the answer is the same.
			a.upload(t, id, strings.NewReader(string(tc.data))).wantErr(t, http.StatusUnsupportedMediaType, tc.reason)
			mustQueued(t, c, id)
		}
		waitNoChunks(t, c)
	})

	t.Run("ImportRefused", func(t *testing.T) {
		srv := dataServer(t, randomBytes(41, mib(0.8)), 0)
		hostile := qcow2Image(virtual, mib(0.9), true, 0)
		// glance-direct: the stage takes anything (as Glance's does), the
		// import checks it.
		id := a.create(t, `{"name": "staged-hostile", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
		apiClient{base: c.URL(2)}.do(t, "PUT", "/v2/images/"+id+"/stage", hostile, "Content-Type", octetStream).want(t, http.StatusNoContent)
		task := a.waitImportTask(t, id, a.startImport(t, id, `{"method": {"name": "glance-direct"}}`))
		if task["status"] != "failure" || !strings.Contains(task["message"].(string), "backing_file") {
			t.Fatalf("glance-direct of a qcow2 with a backing file: task %v", task)
		}
		mustQueued(t, c, id)
		if rec, err := c.Node(1).Image(context.Background(), id); err != nil || rec.Staging != nil || rec.Manifest != nil {
			t.Fatalf("refused import left data: %v %+v", err, rec)
		}
		// web-download of raw data into a vmdk image.
		id2 := a.create(t, `{"name": "web-hostile", "disk_format": "vmdk", "container_format": "bare"}`)["id"].(string)
		task = a.waitImportTask(t, id2, a.startImport(t, id2, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/img"}}`))
		if task["status"] != "failure" || !strings.Contains(task["message"].(string), "does not match stream data raw") {
			t.Fatalf("web-download of raw data as vmdk: task %v", task)
		}
		mustQueued(t, c, id2)
		// An (eager) location import of raw data into a qcow2 image.
		id3 := a.create(t, `{"name": "location-hostile", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
		task = a.waitImportTask(t, id3, a.addLocation(t, id3, `{"url": "`+srv.URL+`/img"}`))
		if task["status"] != "failure" || !strings.Contains(task["message"].(string), "does not match stream data raw") {
			t.Fatalf("location import of raw data as qcow2: task %v", task)
		}
		mustQueued(t, c, id3)
		if rec, err := c.Node(1).Image(context.Background(), id3); err != nil || len(rec.Locations) != 0 || rec.Manifest != nil {
			t.Fatalf("refused location import left data or locations: %v %+v", err, rec)
		}
		waitNoChunks(t, c)
		// The same image can take good data afterwards.
		a.patch(t, id2, `[{"op": "replace", "path": "/disk_format", "value": "raw"}]`).want(t, http.StatusOK)
		a.importOK(t, id2, `{"method": {"name": "web-download", "uri": "`+srv.URL+`/img"}}`)
		if img := a.show(t, id2); img["status"] != "active" || img["virtual_size"] != float64(mib(0.8)) {
			t.Fatalf("web-download of raw data: %v", img)
		}
	})

	t.Run("GoodDataGetsVirtualSize", func(t *testing.T) {
		good := qcow2Image(virtual, mib(0.6), false, 0)
		id := a.create(t, `{"name": "good", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
		a.upload(t, id, good).want(t, http.StatusNoContent)
		if img := a.show(t, id); img["status"] != "active" || img["virtual_size"] != float64(virtual) || img["size"] != float64(len(good)) {
			t.Fatalf("good qcow2: %v", img)
		}
		id2 := a.create(t, `{"name": "good-staged", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
		apiClient{base: c.URL(2)}.do(t, "PUT", "/v2/images/"+id2+"/stage", good, "Content-Type", octetStream).want(t, http.StatusNoContent)
		a.importOK(t, id2, `{"method": {"name": "glance-direct"}}`)
		if img := a.show(t, id2); img["status"] != "active" || img["virtual_size"] != float64(virtual) {
			t.Fatalf("good staged qcow2: %v", img)
		}
		// Data in a container other than bare is not inspected (Glance).
		id3 := a.create(t, `{"name": "ova", "disk_format": "qcow2", "container_format": "ova"}`)["id"].(string)
		a.upload(t, id3, randomBytes(42, 4096)).want(t, http.StatusNoContent)
		if img := a.show(t, id3); img["status"] != "active" || img["virtual_size"] != nil {
			t.Fatalf("ova: %v", img)
		}
	})

	t.Run("QemuImages", func(t *testing.T) {
		if _, err := exec.LookPath("qemu-img"); err != nil {
			t.Skip("qemu-img not installed (apt-get install -y qemu-utils; .ci/run installs it)")
		}
		dir := t.TempDir()
		for _, tc := range []struct {
			name, file, disk string
			make             []string
			reason           string // "" when accepted
		}{
			{"qcow2", "a.qcow2", "qcow2", []string{"create", "-f", "qcow2", "a.qcow2", "64M"}, ""},
			{"qcow2 with a backing file", "b.qcow2", "qcow2", []string{"create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2"}, "backing_file"},
			{"qcow2 with a data file", "d.qcow2", "qcow2", []string{"create", "-f", "qcow2", "-o", "data_file=d.raw", "d.qcow2", "8M"}, "data_file"},
			{"vmdk descriptor with a flat extent", "f.vmdk", "vmdk", []string{"create", "-f", "vmdk", "-o", "subformat=monolithicFlat", "f.vmdk", "1M"}, "separate files"},
			{"vmdk monolithicSparse", "s.vmdk", "vmdk", []string{"create", "-f", "vmdk", "s.vmdk", "64M"}, ""},
			{"vhd", "a.vhd", "vhd", []string{"create", "-f", "vpc", "a.vhd", "64M"}, ""},
			{"vdi as qcow2", "a.vdi", "qcow2", []string{"create", "-f", "vdi", "a.vdi", "64M"}, "does not match stream data vdi"},
		} {
			cmd := exec.Command("qemu-img", tc.make...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("qemu-img %v: %v: %s", tc.make, err, out)
			}
			data, err := os.ReadFile(filepath.Join(dir, tc.file))
			must(t, err, "read %s", tc.file)
			id := a.create(t, `{"name": "qemu", "disk_format": "`+tc.disk+`", "container_format": "bare"}`)["id"].(string)
			r := a.upload(t, id, data)
			if tc.reason != "" {
				r.wantErr(t, http.StatusUnsupportedMediaType, tc.reason)
				mustQueued(t, c, id)
				continue
			}
			r.want(t, http.StatusNoContent)
			out, err := exec.Command("qemu-img", "info", "--output=json", filepath.Join(dir, tc.file)).Output()
			must(t, err, "qemu-img info %s", tc.file)
			var info struct {
				VirtualSize int64 `json:"virtual-size"`
			}
			must(t, json.Unmarshal(out, &info), "decode qemu-img info")
			if img := a.show(t, id); img["status"] != "active" || img["virtual_size"] != float64(info.VirtualSize) {
				t.Fatalf("%s: %v, want virtual_size %d", tc.name, img, info.VirtualSize)
			}
		}
	})
}
