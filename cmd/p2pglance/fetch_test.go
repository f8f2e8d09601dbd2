package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/testcluster"
)

// fetchRandom returns n deterministic pseudo-random bytes.
func fetchRandom(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// fetchCall sends one API request and fails the test on another status.
func fetchCall(t *testing.T, method, u, ctype string, body []byte, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := testcluster.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, u, resp.StatusCode, out, want)
	}
	return out
}

// fetchCreate creates an image (no data) and returns its id.
func fetchCreate(t *testing.T, node, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "disk_format": "raw", "container_format": "bare"})
	var img struct{ ID string }
	if err := json.Unmarshal(fetchCall(t, "POST", node+"/v2/images", "application/json", body, http.StatusCreated), &img); err != nil {
		t.Fatal(err)
	}
	return img.ID
}

// fetchUpload creates an image with data and returns its id.
func fetchUpload(t *testing.T, node, name string, data []byte) string {
	t.Helper()
	id := fetchCreate(t, node, name)
	fetchCall(t, "PUT", node+"/v2/images/"+id+"/file", "application/octet-stream", data, http.StatusNoContent)
	return id
}

// fetchProxy sits in front of a node, records every request and can
// change the image data answers.
type fetchProxy struct {
	URL string

	mu         sync.Mutex
	reqs       []http.Header // headers of every request, with X-Test-Path
	served     int64         // image data bytes passed on
	stripRange bool          // drop the Range header (the node answers 200)
	body       func(r *http.Request, b io.ReadCloser) io.ReadCloser
}

func newFetchProxy(t *testing.T, node string) *fetchProxy {
	target, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	p := &fetchProxy{}
	rp := &httputil.ReverseProxy{
		FlushInterval: -1,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			h := r.In.Header.Clone()
			h.Set("X-Test-Path", r.In.URL.Path)
			p.mu.Lock()
			p.reqs = append(p.reqs, h)
			if p.stripRange {
				r.Out.Header.Del("Range")
			}
			p.mu.Unlock()
		},
		ModifyResponse: func(resp *http.Response) error {
			if !strings.HasSuffix(resp.Request.URL.Path, "/file") {
				return nil
			}
			p.mu.Lock()
			change := p.body
			p.mu.Unlock()
			b := resp.Body
			if change != nil {
				b = change(resp.Request, b)
			}
			resp.Body = &countingBody{ReadCloser: b, p: p}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// fileRequests returns the Range header of every image data request.
func (p *fetchProxy) fileRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, h := range p.reqs {
		if strings.HasSuffix(h.Get("X-Test-Path"), "/file") {
			out = append(out, h.Get("Range"))
		}
	}
	return out
}

func (p *fetchProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs, p.served, p.stripRange, p.body = nil, 0, false, nil
}

func (p *fetchProxy) servedBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

type countingBody struct {
	io.ReadCloser
	p *fetchProxy
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.p.mu.Lock()
	c.p.served += int64(n)
	c.p.mu.Unlock()
	return n, err
}

// stallBody passes on limit bytes, calls reached once, then blocks until
// the request is gone.
type stallBody struct {
	io.ReadCloser
	r       *http.Request
	limit   int64
	reached func()
	once    sync.Once
}

func (s *stallBody) Read(b []byte) (int, error) {
	if s.limit <= 0 {
		s.once.Do(s.reached)
		<-s.r.Context().Done()
		return 0, s.r.Context().Err()
	}
	n, err := s.ReadCloser.Read(b[:min(int64(len(b)), s.limit)])
	s.limit -= int64(n)
	return n, err
}

// flipBody flips the byte at offset at of the answer.
type flipBody struct {
	io.ReadCloser
	at, pos int64
}

func (f *flipBody) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		b[f.at-f.pos] ^= 0x5a
	}
	f.pos += int64(n)
	return n, err
}

// writePart leaves a part file and its record as an interrupted fetch of
// image id would.
func writePart(t *testing.T, node, to, id string, data []byte) {
	t.Helper()
	f := imageFetcher{node: node, client: testcluster.Client}
	img, err := f.image(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	writePartFor(t, to, recordFor(img), data)
}

func writePartFor(t *testing.T, to string, rec partRecord, data []byte) {
	t.Helper()
	part, record := partPaths(to)
	js, _ := json.Marshal(rec)
	if err := os.WriteFile(record, js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d of the image", path, len(got), len(want))
	}
	part, record := partPaths(path)
	for _, p := range []string{part, record} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind (%v)", p, err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestFetch(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithReplicas(1), testcluster.WithVoters(1), testcluster.AllowLoopbackOrigins())
	node := c.URL(0)
	proxy := newFetchProxy(t, node)
	ctx := context.Background()
	data := fetchRandom(1, 3<<20+123)
	id := fetchUpload(t, node, "fetch-me", data)
	dir := t.TempDir()
	n := 0
	newFetcher := func() (*imageFetcher, *bytes.Buffer) {
		n++
		var out bytes.Buffer
		proxy.reset()
		return &imageFetcher{node: proxy.URL, to: filepath.Join(dir, "img"+strconv.Itoa(n)), out: &out}, &out
	}

	t.Run("Exact", func(t *testing.T) {
		f, out := newFetcher()
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "" {
			t.Fatalf("data requests (Range headers): %q", rs)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "fetching image "+id) ||
			!strings.Contains(lines[1], "size, md5 and sha512 verified") || strings.Contains(out.String(), "\r") {
			t.Fatalf("output without a terminal:\n%s", out.String())
		}
	})

	t.Run("IdentityHeaders", func(t *testing.T) {
		f, _ := newFetcher()
		f.project, f.roles, f.token = "p1", "member,reader", "tok"
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		proxy.mu.Lock()
		defer proxy.mu.Unlock()
		for _, h := range proxy.reqs {
			if h.Get("X-Project-Id") != "p1" || h.Get("X-Roles") != "member,reader" || h.Get("X-Auth-Token") != "tok" {
				t.Fatalf("request headers: %v", h)
			}
		}
	})

	t.Run("Resume", func(t *testing.T) {
		f, out := newFetcher()
		half := len(data)/2 + 17 // not block-aligned
		writePart(t, node, f.to, id, data[:half])
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "bytes="+strconv.Itoa(half)+"-" {
			t.Fatalf("data requests (Range headers): %q", rs)
		}
		if got := proxy.servedBytes(); got != int64(len(data)-half) {
			t.Fatalf("node sent %d bytes, want the missing %d", got, len(data)-half)
		}
		if !strings.Contains(out.String(), "resuming image "+id) {
			t.Fatalf("output: %s", out.String())
		}
	})

	t.Run("ResumeComplete", func(t *testing.T) {
		f, _ := newFetcher()
		writePart(t, node, f.to, id, data) // stopped after the last byte
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if rs := proxy.fileRequests(); len(rs) != 0 {
			t.Fatalf("data requests for a complete part: %q", rs)
		}
	})

	t.Run("TamperedPart", func(t *testing.T) {
		f, _ := newFetcher()
		bad := bytes.Clone(data[:len(data)/2])
		bad[1000] ^= 1
		writePart(t, node, f.to, id, bad)
		err := f.fetch(ctx, id)
		if !errors.Is(err, errVerify) || !strings.Contains(err.Error(), "md5 of the data is") {
			t.Fatalf("fetch over a wrong part: %v", err)
		}
		part, record := partPaths(f.to)
		if exists(f.to) || !exists(part) || exists(record) {
			t.Fatalf("after the failed check: PATH %v, part %v, record %v; want only the part", exists(f.to), exists(part), exists(record))
		}
		// Without its record the part is not resumed: the next fetch starts over.
		proxy.reset()
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "" {
			t.Fatalf("data requests (Range headers): %q", rs)
		}
	})

	t.Run("RecordOfAnotherImage", func(t *testing.T) {
		f, _ := newFetcher()
		img, err := (&imageFetcher{node: node, client: testcluster.Client}).image(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, change := range []func(*partRecord){
			func(r *partRecord) { r.ImageID = "0f1e2d3c-0000-4000-8000-000000000000" },
			func(r *partRecord) { r.OSHashValue = strings.Repeat("0", 128) },
			func(r *partRecord) { r.Checksum = strings.Repeat("0", 32) },
		} {
			rec := recordFor(img)
			change(&rec)
			writePartFor(t, f.to, rec, bytes.Repeat([]byte{0xee}, len(data)/2))
			proxy.reset()
			if err := f.fetch(ctx, id); err != nil {
				t.Fatal(err)
			}
			checkFile(t, f.to, data)
			if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "" {
				t.Fatalf("data requests (Range headers): %q", rs)
			}
		}
	})

	t.Run("RangeAnsweredWhole", func(t *testing.T) {
		f, out := newFetcher()
		writePart(t, node, f.to, id, data[:len(data)/3])
		proxy.mu.Lock()
		proxy.stripRange = true
		proxy.mu.Unlock()
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if !strings.Contains(out.String(), "starting over") {
			t.Fatalf("output: %s", out.String())
		}
	})

	t.Run("CorruptDownload", func(t *testing.T) {
		f, _ := newFetcher()
		proxy.body = func(_ *http.Request, b io.ReadCloser) io.ReadCloser { return &flipBody{ReadCloser: b, at: 2 << 20} }
		err := f.fetch(ctx, id)
		if !errors.Is(err, errVerify) || !strings.Contains(err.Error(), "sha512 of the data is") {
			t.Fatalf("fetch of corrupted data: %v", err)
		}
		if _, record := partPaths(f.to); exists(f.to) || exists(record) {
			t.Fatalf("after the failed check: PATH %v, record %v", exists(f.to), exists(record))
		}
	})

	t.Run("StallThenResume", func(t *testing.T) {
		f, _ := newFetcher()
		f.idleTimeout = 300 * time.Millisecond
		const limit = 1<<20 + 5000
		proxy.body = func(r *http.Request, b io.ReadCloser) io.ReadCloser {
			return &stallBody{ReadCloser: b, r: r, limit: limit, reached: func() {}}
		}
		err := f.fetch(ctx, id)
		if !errors.Is(err, errStalled) || !strings.Contains(err.Error(), "run the same command again to resume") {
			t.Fatalf("stalled fetch: %v", err)
		}
		part, record := partPaths(f.to)
		if st, err := os.Stat(part); err != nil || st.Size() != limit || !exists(record) || exists(f.to) {
			t.Fatalf("after the stall: part %v (%v), record %v, PATH %v", st, err, exists(record), exists(f.to))
		}
		proxy.reset()
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "bytes="+strconv.Itoa(limit)+"-" {
			t.Fatalf("data requests (Range headers): %q", rs)
		}
	})

	t.Run("CanceledThenResume", func(t *testing.T) {
		f, _ := newFetcher()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		proxy.body = func(r *http.Request, b io.ReadCloser) io.ReadCloser {
			return &stallBody{ReadCloser: b, r: r, limit: 2 << 20, reached: cancel} // Ctrl-C
		}
		err := f.fetch(cctx, id)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "kept") {
			t.Fatalf("canceled fetch: %v", err)
		}
		part, record := partPaths(f.to)
		st, err := os.Stat(part)
		if err != nil || !exists(record) || exists(f.to) {
			t.Fatalf("after Ctrl-C: part %v, record %v, PATH %v", err, exists(record), exists(f.to))
		}
		proxy.reset()
		if err := f.fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		want := ""
		if st.Size() > 0 {
			want = "bytes=" + strconv.Itoa(int(st.Size())) + "-"
		}
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != want {
			t.Fatalf("data requests (Range headers) after keeping %d bytes: %q", st.Size(), rs)
		}
	})

	t.Run("Sparse", func(t *testing.T) {
		// 1 MiB data, 6 MiB zeros, 1 MiB data, then 64 KiB + 100 zeros at the end.
		img := make([]byte, 8<<20+64<<10+100)
		copy(img, fetchRandom(2, 1<<20))
		copy(img[7<<20:], fetchRandom(3, 1<<20))
		sid := fetchUpload(t, node, "sparse", img)
		f, out := newFetcher()
		if err := f.fetch(ctx, sid); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, img)
		alloc, ok := allocatedBytes(t, f.to)
		if !ok {
			t.Skip("allocated blocks are not known on this system")
		}
		if alloc > 3<<20 {
			t.Fatalf("sparse file of %d bytes has %d allocated; want about 2 MiB", len(img), alloc)
		}
		if !strings.Contains(out.String(), "left as holes") {
			t.Fatalf("output: %s", out.String())
		}
		f, _ = newFetcher()
		f.noSparse = true
		if err := f.fetch(ctx, sid); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, img)
		if alloc, _ := allocatedBytes(t, f.to); alloc < int64(len(img))-sparseBlock {
			t.Fatalf("--no-sparse file of %d bytes has only %d allocated", len(img), alloc)
		}
	})

	t.Run("StallInZeroRun", func(t *testing.T) {
		// Stopped inside a run of zeros: the holes before the stall count
		// as received, so the resume asks only for the rest.
		img := make([]byte, 4<<20)
		copy(img, fetchRandom(6, 1<<20))
		copy(img[3<<20:], fetchRandom(7, 1<<20))
		zid := fetchUpload(t, node, "zero-run", img)
		f, _ := newFetcher()
		f.idleTimeout = 300 * time.Millisecond
		const limit = 2 << 20
		proxy.body = func(r *http.Request, b io.ReadCloser) io.ReadCloser {
			return &stallBody{ReadCloser: b, r: r, limit: limit, reached: func() {}}
		}
		if err := f.fetch(ctx, zid); !errors.Is(err, errStalled) {
			t.Fatalf("stalled fetch: %v", err)
		}
		part, _ := partPaths(f.to)
		if st, err := os.Stat(part); err != nil || st.Size() != limit {
			t.Fatalf("part after a stall at %d: %v %v", limit, st.Size(), err)
		}
		proxy.reset()
		if err := f.fetch(ctx, zid); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, img)
		if rs := proxy.fileRequests(); len(rs) != 1 || rs[0] != "bytes="+strconv.Itoa(limit)+"-" {
			t.Fatalf("data requests (Range headers): %q", rs)
		}
	})

	t.Run("EmptyImage", func(t *testing.T) {
		eid := fetchUpload(t, node, "empty", nil)
		f, _ := newFetcher()
		if err := f.fetch(ctx, eid); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, nil)
	})

	t.Run("LocationPulledOnFirstFetch", func(t *testing.T) {
		// An origin that gives no length: the image is active with no
		// size or checksum until its first download pulls it.
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.(http.Flusher).Flush() // chunked: no Content-Length
				_, _ = w.Write(data)
			}
		}))
		defer origin.Close()
		lid := fetchCreate(t, node, "at-a-location")
		fetchCall(t, "POST", node+"/v2/images/"+lid+"/locations", "application/json", []byte(`{"url": "`+origin.URL+`/img"}`), http.StatusAccepted)
		var rec catalogImage
		for range 200 {
			if err := json.Unmarshal(fetchCall(t, "GET", node+"/v2/images/"+lid, "", nil, http.StatusOK), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Status == "active" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if rec.Status != "active" || rec.Size != nil || rec.Checksum != nil {
			t.Fatalf("image at a location before its first download: %+v", rec)
		}
		f, out := newFetcher()
		if err := f.fetch(ctx, lid); err != nil {
			t.Fatal(err)
		}
		checkFile(t, f.to, data)
		if !strings.Contains(out.String(), "size, md5 and sha512 verified") {
			t.Fatalf("fetch of a pulled location did not verify every hash:\n%s", out.String())
		}
	})

	t.Run("NotActive", func(t *testing.T) {
		qid := fetchCreate(t, node, "queued")
		f, _ := newFetcher()
		err := f.fetch(ctx, qid)
		if !errors.Is(err, errImageNotActive) || !strings.Contains(err.Error(), `"queued"`) {
			t.Fatalf("fetch of a queued image: %v", err)
		}
		if part, _ := partPaths(f.to); exists(f.to) || exists(part) {
			t.Fatal("files created for a queued image")
		}
		err = f.fetch(ctx, "0f1e2d3c-0000-4000-8000-000000000000")
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("fetch of a missing image: %v", err)
		}
	})

	t.Run("Busy", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no flock")
		}
		f, _ := newFetcher()
		part, _ := partPaths(f.to)
		held, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if err := lockFile(held); err != nil {
			t.Fatal(err)
		}
		if err := f.fetch(ctx, id); !errors.Is(err, errPartBusy) {
			t.Fatalf("fetch into a locked part: %v", err)
		}
	})

	t.Run("Command", func(t *testing.T) {
		to := filepath.Join(dir, "cmd.img")
		var stderr bytes.Buffer
		if err := run(ctx, []string{"fetch", id, "--to", to, "--node", node, "--no-progress"}, io.Discard, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		checkFile(t, to, data)
		if stderr.Len() != 0 {
			t.Fatalf("--no-progress printed: %s", stderr.String())
		}
		for _, args := range [][]string{
			{"fetch", "--to", to},
			{"fetch", id},
			{"fetch", id, "other", "--to", to},
		} {
			if err := run(ctx, args, io.Discard, io.Discard); err == nil {
				t.Fatalf("%q succeeded", args)
			}
		}
	})
}

func TestFetchSparseWriter(t *testing.T) {
	want := make([]byte, 5*sparseBlock+300)
	copy(want[100:], fetchRandom(4, 200))            // data in block 0
	copy(want[3*sparseBlock+7:], fetchRandom(5, 10)) // data in block 3
	copy(want[5*sparseBlock+299:], []byte{1})        // the partial last block
	for _, split := range []int{1, 100, sparseBlock - 1, sparseBlock, 2*sparseBlock + 5, len(want)} {
		path := filepath.Join(t.TempDir(), "f")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := &sparseWriter{f: f, sparse: true}
		for rest := want; len(rest) > 0; {
			k := min(split, len(rest))
			if n, err := w.Write(rest[:k]); n != k || err != nil {
				t.Fatal(n, err)
			}
			rest = rest[k:]
		}
		if err := f.Truncate(w.off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, want) {
			t.Fatalf("split %d: content differs", split)
		}
		// Blocks 1, 2 and 4 are zeros; a block cut by a write boundary is
		// written as data (copyImage's reads are aligned).
		if (split%sparseBlock == 0 || split == len(want)) && w.holes != 3*sparseBlock {
			t.Fatalf("split %d: %d bytes of holes, want %d", split, w.holes, 3*sparseBlock)
		}
	}
}

func TestFetchProgressLine(t *testing.T) {
	line := progressLine("", 500e6, 1e9, 100e6)
	for _, want := range []string{" 50% [==========>         ]", "500.0 MB / 1.0 GB", "100.0 MB/s", "ETA 0:05"} {
		if !strings.Contains(line, want) {
			t.Fatalf("%q lacks %q", line, want)
		}
	}
	if l := progressLine("checking", 1<<40, 1<<40, 1); len(l) > 80 || !strings.Contains(l, "100% [====================]") {
		t.Fatalf("%q", l)
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1_234_567: "1.2 MB", 999_960_000: "1.0 GB", 5e15: "5000.0 TB"} {
		if got := fmtBytes(n); got != want {
			t.Fatalf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := fmtETA(3725 * time.Second); got != "1:02:05" {
		t.Fatalf("fmtETA: %q", got)
	}

	var out bytes.Buffer
	p := newProgress(&out, true, 100)
	p.phase("", 0, 100)
	p.add(50)
	p.mu.Lock()
	p.draw(time.Now().Add(time.Second))
	p.mu.Unlock()
	p.line("done")
	p.stop()
	if s := out.String(); !strings.HasPrefix(s, "\r 50% [") || !strings.HasSuffix(s, "\r\x1b[Kdone\n") {
		t.Fatalf("terminal output %q", s)
	}
}
