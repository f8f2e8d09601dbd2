package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes at dir until the test ends
// (after its cluster's processes are gone: cleanups run last-in
// first-out).
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0750", size)); err != nil {
		t.Fatalf("mount tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// fillTo grows the ballast file in dir until the file system has at most
// leave bytes available (0: until writes fail with ENOSPC).
func fillTo(t *testing.T, dir string, leave int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "ballast"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * st.Bsize
		if free <= leave || free == 0 {
			return
		}
		k := min(int64(len(buf)), max(free-leave, 4096))
		if _, err := f.Write(buf[:k]); err != nil {
			if errors.Is(err, syscall.ENOSPC) && leave == 0 {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFull: one node's data directory is a small tmpfs (with a 32 MiB
// disk reserve) in a three-node cluster where every image needs a copy on
// every node. Filled past the reserve, uploads through it and through
// another node answer 413 in Glance's format ("Image storage media is
// full") and the images stay queued, serving no data; metadata writes
// still work. Filled to the last byte, it stays up and serves what it
// holds. When space returns it catches up, and the same uploads succeed
// and download byte-exact from every node.
func TestDiskFull(t *testing.T) {
	requireFaults(t)
	const full, other = 2, 0
	dir := filepath.Join(t.TempDir(), "full")
	mountTmpfs(t, dir, 128<<20)
	c := newCluster(t, config{n: 3, replicas: 3,
		dataDir: func(i int) string {
			if i == full {
				return dir
			}
			return ""
		},
		args: func(i int) []string {
			if i == full {
				return []string{"--disk-reserve", fmt.Sprint(32 << 20)}
			}
			return nil
		}})
	l := newLedger()
	before, _ := l.create(c, other, "", "before")
	if a := l.upload(c, other, before, randomData(1, 700<<10), false); a.status != http.StatusNoContent {
		t.Fatalf("upload before the disk fills: %v", a)
	}
	var queued []string
	for k := range 2 {
		id, a := l.create(c, other, "", fmt.Sprintf("queued-%d", k))
		if id == "" {
			t.Fatalf("create: %v", a)
		}
		queued = append(queued, id)
	}
	c.waitImages(append([]string{before}, queued...)...)

	// Past the reserve: no room for image data.
	fillTo(t, dir, 24<<20)
	t.Logf("node %d's disk has 24 MiB left, under its 32 MiB reserve", full)
	for k, via := range []int{full, other} {
		a := l.upload(c, via, queued[k], randomData(uint64(10+k), 900<<10), false)
		t.Logf("upload through node %d: %v", via, answerStatus(a))
		if a.status != http.StatusRequestEntityTooLarge || !bytes.Contains(a.body, []byte("Image storage media is full")) ||
			a.json()["title"] != "Request Entity Too Large" {
			t.Errorf("upload through node %d with node %d's disk full answered %v; want Glance's 413 \"Image storage media is full\"", via, full, a)
		}
	}
	for i := range c.nodes {
		for _, id := range queued {
			if a := c.do(i, http.MethodGet, "/v2/images/"+id, nil, ""); a.json()["status"] != "queued" {
				t.Errorf("node %d: image %s after a refused upload: %v", i, id, a)
			}
			if a := c.do(i, http.MethodGet, "/v2/images/"+id+"/file", nil, ""); a.status != http.StatusNoContent || len(a.body) != 0 {
				t.Errorf("node %d: download of image %s after a refused upload: %v", i, id, a)
			}
		}
	}
	if id, a := l.create(c, full, "", "metadata-while-full"); id == "" {
		t.Errorf("create through node %d with a disk full of data: %v", full, a)
	}

	// To the last byte: writes through the node cannot be applied there
	// (503), and it stays up serving what it holds.
	fillTo(t, dir, 0)
	t.Logf("node %d's disk is full to the last byte", full)
	_, a := l.create(c, full, "", "refused-while-full")
	t.Logf("create through node %d: %v", full, answerStatus(a))
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("create through node %d with no byte free answered %v; want 503", full, a)
	}
	if id, a := l.create(c, other, "", "while-full"); id == "" {
		t.Errorf("create through node %d while node %d's disk is full: %v", other, full, a)
	}
	// What it held, it still serves (its catalog lags: it cannot store
	// Raft's log until space returns).
	var img image
	if a := c.do(full, http.MethodGet, "/v2/images/"+before, nil, ""); a.status != http.StatusOK || json.Unmarshal(a.body, &img) != nil {
		t.Fatalf("node %d: image %s while its disk is full: %v", full, before, a)
	}
	l.mu.Lock()
	l.checkData(c, full, img, l.data[before])
	l.mu.Unlock()
	c.checkRunning()

	// Space returns.
	if err := os.Remove(filepath.Join(dir, "ballast")); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d's disk has space again", full)
	c.waitCluster(c.all()...)
	for k, via := range []int{full, other} {
		if a := l.upload(c, via, queued[k], randomData(uint64(20+k), 900<<10), false); a.status != http.StatusNoContent {
			t.Errorf("upload through node %d once space returned: %v", via, a)
		}
	}
	c.waitConverged(time.Minute, c.all()...)
	l.verify(c, c.all()...)
}
