package main

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pglance/p2pglance/node"
)

// localResult holds the upload and local download figures.
type localResult struct {
	size            int64
	write, upload   []sample // write+fsync of a file; PUT .../file
	serve, download []sample // http.ServeFile; GET .../file
}

// generation numbers the contents of every image the benchmark uploads.
var generation uint64

// restamp makes data a new image: it overwrites the first 8 bytes of
// every 4 MiB chunk with a new generation number, so no chunk is a
// duplicate of one already stored (which the store would skip writing).
func restamp(data []byte) {
	generation++
	for off := 0; off+8 <= len(data); off += node.DefaultChunkSize {
		binary.LittleEndian.PutUint64(data[off:], generation<<40|uint64(off/node.DefaultChunkSize))
	}
}

// benchLocal: one node, data on disk, replicas 1. Each run writes the
// image's bytes to a new plain file with one fsync at the end (the baseline),
// then uploads the same bytes as a new image; then the last image is
// downloaded alternately from the node and from http.ServeFile serving
// the baseline file (same bytes, both in the page cache).
func benchLocal(ctx context.Context, cfg *config, dir string, rep *report) error {
	data := make([]byte, cfg.size)
	fillRandom(data, 2)
	c, err := startCluster(ctx, filepath.Join(dir, "nodes"), 1, func(c *node.Config) { c.Replicas = 1 })
	if err != nil {
		return err
	}
	defer c.stop()
	g := &glance{base: c.url(0), hc: newHTTPClient(4)}
	res := &localResult{size: cfg.size}
	rep.local = res

	// Every run writes a new file and keeps it, as every upload writes
	// new value-log files and keeps them: on a thin-provisioned virtual
	// disk, rewriting blocks freed by a deleted file is several times
	// faster than writing blocks never written, so deleting the previous
	// file would flatter the baseline.
	var path, id string
	for r := range cfg.reps {
		restamp(data)
		path = filepath.Join(dir, fmt.Sprintf("baseline-%d.raw", r))
		ws, err := measure(cfg.size, func() error { return writeFsync(path, data) })
		if err != nil {
			return err
		}
		if id, err = g.create(ctx, fmt.Sprintf("bench-upload-%d", r)); err != nil {
			return err
		}
		us, err := measure(cfg.size, func() error { return g.upload(ctx, id, data) })
		if err != nil {
			return err
		}
		res.write, res.upload = append(res.write, ws), append(res.upload, us)
		log.Printf("  run %d: write+fsync %.0f MB/s (%s); upload %.0f MB/s (%s)", r+1, ws.mbps(), ws.cpus(), us.mbps(), us.cpus())
	}

	srv, url, err := serveFile(path)
	if err != nil {
		return err
	}
	defer srv.Close()
	imgURL := g.base + "/v2/images/" + id + "/file"
	sum := md5.Sum(data)
	for _, u := range []string{url, imgURL} {
		if err := verify(ctx, g.hc, u, sum[:]); err != nil {
			return err
		}
	}
	for r := range cfg.dlReps {
		ss, err := measure(cfg.size, func() error { _, err := fetch(ctx, g.hc, url, nil); return err })
		if err != nil {
			return err
		}
		ds, err := measure(cfg.size, func() error { return g.download(ctx, id, cfg.size) })
		if err != nil {
			return err
		}
		res.serve, res.download = append(res.serve, ss), append(res.download, ds)
		log.Printf("  run %d: ServeFile %.0f MB/s (%s); download %.0f MB/s (%s)", r+1, ss.mbps(), ss.cpus(), ds.mbps(), ds.cpus())
	}

	err = profiled(cfg.profileDir, "upload", func() error {
		restamp(data)
		pid, err := g.create(ctx, "bench-upload-profiled")
		if err != nil {
			return err
		}
		return g.upload(ctx, pid, data)
	})
	if err != nil {
		return err
	}
	err = profiled(cfg.profileDir, "write-fsync", func() error {
		restamp(data)
		return writeFsync(filepath.Join(dir, "profiled.raw"), data)
	})
	if err != nil {
		return err
	}
	return profiled(cfg.profileDir, "download", func() error { return g.download(ctx, id, cfg.size) })
}

// writeFsync writes data to a new file in 4 MiB writes, then fsyncs and
// closes it: the baseline for an upload.
func writeFsync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += 4 << 20 {
		if _, err := f.Write(data[off:min(off+4<<20, len(data))]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serveFile serves path with http.ServeFile on a loopback ephemeral port.
func serveFile(path string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("ServeFile server: %v", err)
		}
	}()
	return srv, "http://" + ln.Addr().String() + "/baseline.raw", nil
}
