package faults

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

const patchType = "application/openstack-images-v2.1-json-patch"

// requestTimeout bounds one API request: longer than a write may wait
// for a leader (WriteTimeout, 10s) plus a forward, so a request that
// times out here hung.
const requestTimeout = 45 * time.Second

// answer is one API answer (status 0: no answer at all).
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
	took   time.Duration
}

// json decodes the answer's body as an object.
func (a answer) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return m
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("no answer after %s: %v", a.took.Round(time.Millisecond), a.err)
	}
	return fmt.Sprintf("%d after %s: %s", a.status, a.took.Round(time.Millisecond), bytes.TrimSpace(a.body))
}

// do sends one request to node i's API as the noauth admin.
func (c *cluster) do(i int, method, path string, body []byte, contentType string) answer {
	if body == nil {
		return c.send(i, method, path, nil, 0, contentType)
	}
	return c.send(i, method, path, bytes.NewReader(body), int64(len(body)), contentType)
}

// send is do with a body of n bytes read from rd.
func (c *cluster) send(i int, method, path string, rd io.Reader, n int64, contentType string) answer {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, c.url(i)+path, rd)
	if err != nil {
		return answer{err: err}
	}
	req.ContentLength = n
	if rd == nil {
		req.Body = nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, err: err, took: time.Since(start)}
}

// ledger records every write the tests send and which were acknowledged
// (answered 2xx): after the faults, each acknowledged write must be on
// every node, nothing may exist twice, and every active image must hold
// exactly the bytes an upload sent for it.
type ledger struct {
	mu     sync.Mutex
	images map[string]*entry // by id, every image a create was answered for
	names  map[string]bool   // every name a create was sent with
	data   map[string][]byte // by id: the bytes an upload sent (acknowledged or not)
	// sending counts the uploads under way through each node.
	sending map[int]int
	counts  struct{ creates, patches, uploads, refused int }
}

// entry is what the cluster acknowledged for one image.
type entry struct {
	id, name string
	props    map[string]string // acknowledged patches
	uploaded bool              // an upload was answered 204
}

func newLedger() *ledger {
	return &ledger{images: map[string]*entry{}, names: map[string]bool{}, data: map[string][]byte{}, sending: map[int]int{}}
}

// create sends POST /v2/images through node i; id may be "" (the server
// chooses). It returns the new image's id when the create was
// acknowledged.
func (l *ledger) create(c *cluster, i int, id, name string) (string, answer) {
	doc := map[string]any{"name": name, "disk_format": "raw", "container_format": "bare"}
	if id != "" {
		doc["id"] = id
	}
	body, _ := json.Marshal(doc)
	l.mu.Lock()
	l.names[name] = true
	l.mu.Unlock()
	a := c.do(i, http.MethodPost, "/v2/images", body, "application/json")
	if a.status != http.StatusCreated {
		l.refused()
		return "", a
	}
	got, _ := a.json()["id"].(string)
	if got == "" || (id != "" && got != id) {
		c.t.Errorf("create %s through node %d answered 201 with id %q", name, i, got)
		return "", a
	}
	l.mu.Lock()
	l.images[got] = &entry{id: got, name: name, props: map[string]string{}}
	l.counts.creates++
	l.mu.Unlock()
	return got, a
}

// patch adds property key=value to image id through node i and records it
// when acknowledged.
func (l *ledger) patch(c *cluster, i int, id, key, value string) answer {
	body := fmt.Sprintf(`[{"op": "add", "path": "/%s", "value": %q}]`, key, value)
	a := c.do(i, http.MethodPatch, "/v2/images/"+id, []byte(body), patchType)
	if a.status != http.StatusOK {
		l.refused()
		return a
	}
	l.mu.Lock()
	if e := l.images[id]; e != nil {
		e.props[key] = value
	}
	l.counts.patches++
	l.mu.Unlock()
	return a
}

// upload sends data as image id's file through node i and records it
// when acknowledged. A paced upload sends 64 KiB every 50 ms (1.25 MiB/s),
// so that faults find it under way.
func (l *ledger) upload(c *cluster, i int, id string, data []byte, paced bool) answer {
	l.mu.Lock()
	l.data[id] = data
	l.sending[i]++
	l.mu.Unlock()
	var rd io.Reader = bytes.NewReader(data)
	if paced {
		rd = &pacedReader{data: data}
	}
	a := c.send(i, http.MethodPut, "/v2/images/"+id+"/file", rd, int64(len(data)), "application/octet-stream")
	l.mu.Lock()
	l.sending[i]--
	l.mu.Unlock()
	if a.status != http.StatusNoContent {
		l.refused()
		return a
	}
	l.mu.Lock()
	if e := l.images[id]; e != nil {
		e.uploaded = true
	}
	l.counts.uploads++
	l.mu.Unlock()
	return a
}

func (l *ledger) refused() {
	l.mu.Lock()
	l.counts.refused++
	l.mu.Unlock()
}

// acked is how many writes were acknowledged so far.
func (l *ledger) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts.creates + l.counts.patches + l.counts.uploads
}

// uploading is how many uploads through node i are under way.
func (l *ledger) uploading(i int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sending[i]
}

// pacedReader reads data 64 KiB at a time, one read every 50 ms.
type pacedReader struct {
	data []byte
	pos  int
	last time.Time
}

func (r *pacedReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	if wait := time.Until(r.last.Add(50 * time.Millisecond)); wait > 0 {
		time.Sleep(wait) // pacing the body, not waiting for a condition
	}
	r.last = time.Now()
	k := copy(p[:min(len(p), 64<<10)], r.data[r.pos:])
	r.pos += k
	return k, nil
}

// uploads is how many uploads were acknowledged so far.
func (l *ledger) uploads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts.uploads
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.summaryLocked()
}

func (l *ledger) summaryLocked() string {
	return fmt.Sprintf("acknowledged %d creates, %d patches, %d uploads; %d writes refused or unanswered",
		l.counts.creates, l.counts.patches, l.counts.uploads, l.counts.refused)
}

// randomData is n pseudo-random bytes from seed.
func randomData(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := rand.New(rand.NewChaCha8(key))
	b := make([]byte, n)
	for k := 0; k < n; k += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && k+j < n; j++ {
			b[k+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// load is clients writing through a set of nodes until stopped: each
// uploader creates images (ids of its choosing) and uploads 0.3-1.5 MiB
// to each (the first uploader paced, see ledger.upload); each writer creates images (ids the server chooses) and patches
// each three times, each time through the next node.
type load struct {
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	targets []int

	mu      sync.Mutex
	avoided map[int]bool
}

// avoid makes the clients send no new request to node i (a frozen node:
// each request to it would wait), until use(i).
func (ld *load) avoid(i int) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.avoided[i] = true
}

// use lets the clients send to node i again.
func (ld *load) use(i int) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	delete(ld.avoided, i)
}

// pick is the k-th target, skipping avoided nodes.
func (ld *load) pick(k int) int {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	for n := range ld.targets {
		if i := ld.targets[(k+n)%len(ld.targets)]; !ld.avoided[i] {
			return i
		}
	}
	return ld.targets[k%len(ld.targets)]
}

func startLoad(c *cluster, l *ledger, name string, targets []int, uploaders, writers int) *load {
	ld := &load{stop: make(chan struct{}), targets: targets, avoided: map[int]bool{}}
	pause := func() bool { // after a refusal: back off a little, or stop
		select {
		case <-ld.stop:
			return false
		case <-time.After(200 * time.Millisecond):
			return true
		}
	}
	stopped := func() bool {
		select {
		case <-ld.stop:
			return true
		default:
			return false
		}
	}
	for w := range uploaders {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			for k := 0; !stopped(); k++ {
				i := ld.pick(w + k)
				id, a := l.create(c, i, uuid.NewString(), fmt.Sprintf("%s-up-%d-%d", name, w, k))
				if id == "" {
					_ = a
					if !pause() {
						return
					}
					continue
				}
				seed := uint64(w)<<32 | uint64(k)
				size := 300<<10 + int(seed*7919%(1200<<10))
				if a := l.upload(c, ld.pick(w+k+1), id, randomData(seed^0x5eed, size), w == 0); a.status != http.StatusNoContent && !pause() {
					return
				}
			}
		}()
	}
	for w := range writers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			for k := 0; !stopped(); k++ {
				id, _ := l.create(c, ld.pick(w+k), "", fmt.Sprintf("%s-meta-%d-%d", name, w, k))
				if id == "" {
					if !pause() {
						return
					}
					continue
				}
				for p := range 3 {
					if a := l.patch(c, ld.pick(w+k+p+1), id, fmt.Sprintf("p%d", p), fmt.Sprintf("%s-%d-%d-%d", name, w, k, p)); a.status != http.StatusOK && !pause() {
						return
					}
				}
			}
		}()
	}
	return ld
}

// halt stops the clients and waits for their last requests (a second
// call only waits).
func (ld *load) halt() {
	ld.once.Do(func() { close(ld.stop) })
	ld.wg.Wait()
}

// image is the part of an image's JSON the checks read.
type image struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Size     *int64 `json:"size"`
	Checksum string `json:"checksum"`
	HashAlgo string `json:"os_hash_algo"`
	HashVal  string `json:"os_hash_value"`
	Updated  string `json:"updated_at"`
	props    map[string]any
}

// list is every image node i lists, in id order.
func (c *cluster) list(i int) ([]image, error) {
	var out []image
	path := "/v2/images?limit=200&sort=id:asc"
	for path != "" {
		a := c.do(i, http.MethodGet, path, nil, "")
		if a.status != http.StatusOK {
			return nil, fmt.Errorf("list images on node %d: %v", i, a)
		}
		var page struct {
			Images []json.RawMessage `json:"images"`
			Next   string            `json:"next"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			return nil, fmt.Errorf("list images on node %d: %w", i, err)
		}
		for _, raw := range page.Images {
			var img image
			if err := json.Unmarshal(raw, &img); err != nil {
				return nil, err
			}
			_ = json.Unmarshal(raw, &img.props)
			out = append(out, img)
		}
		path = page.Next
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// fingerprint is what must be equal between two nodes' catalogs.
func fingerprint(imgs []image) string {
	var b strings.Builder
	for _, img := range imgs {
		props, _ := json.Marshal(img.props)
		fmt.Fprintf(&b, "%s %s %s %s\n", img.ID, img.Status, img.Checksum, props)
	}
	return b.String()
}

// waitConverged waits until the nodes idx list the same catalog and no
// image is saving (an upload cut off by a fault is back to queued).
func (c *cluster) waitConverged(timeout time.Duration, idx ...int) {
	c.t.Helper()
	c.eventuallyWhy(timeout, fmt.Sprintf("nodes %v converge", idx), func() (bool, string) {
		first := ""
		for n, i := range idx {
			imgs, err := c.list(i)
			if err != nil {
				return false, err.Error()
			}
			for _, img := range imgs {
				if img.Status == "saving" {
					return false, fmt.Sprintf("image %s saving on node %d", img.ID, i)
				}
			}
			fp := fingerprint(imgs)
			if n == 0 {
				first = fp
			} else if fp != first {
				return false, fmt.Sprintf("node %d's catalog differs from node %d's", i, idx[0])
			}
		}
		return true, ""
	})
}

// verify checks, on every node of idx: every acknowledged create, patch
// and upload is there; no name exists twice (no write applied twice);
// every active image's size, checksum and sha512 are those of the bytes
// an upload sent for it, and it downloads byte-exact with its
// Content-MD5; no other image holds data.
func (l *ledger) verify(c *cluster, idx ...int) {
	c.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	actives := 0
	for _, i := range idx {
		imgs, err := c.list(i)
		if err != nil {
			c.t.Fatal(err)
		}
		byID := map[string]image{}
		names := map[string]int{}
		for _, img := range imgs {
			byID[img.ID] = img
			names[img.Name]++
			if !l.names[img.Name] {
				c.t.Errorf("node %d: image %s named %q, which no client sent", i, img.ID, img.Name)
			}
		}
		for name, n := range names {
			if n > 1 {
				c.t.Errorf("node %d: %d images named %q: a create was applied more than once", i, n, name)
			}
		}
		for id, e := range l.images {
			img, ok := byID[id]
			switch {
			case !ok:
				c.t.Errorf("node %d: acknowledged image %s (%s) is missing", i, id, e.name)
				continue
			case img.Name != e.name:
				c.t.Errorf("node %d: image %s is named %q, want %q", i, id, img.Name, e.name)
			case e.uploaded && img.Status != "active":
				c.t.Errorf("node %d: image %s's upload was acknowledged but it is %s", i, id, img.Status)
			}
			for k, v := range e.props {
				if img.props[k] != v {
					c.t.Errorf("node %d: image %s: acknowledged %s=%q, found %v", i, id, k, v, img.props[k])
				}
			}
		}
		for _, img := range imgs {
			if img.Status != "active" {
				continue
			}
			actives++
			data, ok := l.data[img.ID]
			if !ok {
				c.t.Errorf("node %d: image %s is active but no upload was sent for it", i, img.ID)
				continue
			}
			l.checkData(c, i, img, data)
		}
	}
	c.t.Logf("verified on nodes %v: %s; %d active images byte-exact", idx, l.summaryLocked(), actives/max(len(idx), 1))
}

// checkData checks an active image's attributes and downloads it.
func (l *ledger) checkData(c *cluster, i int, img image, data []byte) {
	c.t.Helper()
	md := md5.Sum(data)
	sh := sha512.Sum512(data)
	wantMD5, wantSHA := hex.EncodeToString(md[:]), hex.EncodeToString(sh[:])
	if img.Size == nil || *img.Size != int64(len(data)) || img.Checksum != wantMD5 || img.HashAlgo != "sha512" || img.HashVal != wantSHA {
		c.t.Errorf("node %d: active image %s: size %v checksum %s %s %s, want %d bytes with md5 %s sha512 %s",
			i, img.ID, img.Size, img.Checksum, img.HashAlgo, img.HashVal, len(data), wantMD5, wantSHA)
		return
	}
	a := c.do(i, http.MethodGet, "/v2/images/"+img.ID+"/file", nil, "")
	switch {
	case a.status != http.StatusOK:
		c.t.Errorf("node %d: download of active image %s: %v", i, img.ID, a)
	case !bytes.Equal(a.body, data):
		c.t.Errorf("node %d: image %s downloads %d bytes that differ from the %d uploaded", i, img.ID, len(a.body), len(data))
	case a.header.Get("Content-MD5") != wantMD5:
		c.t.Errorf("node %d: image %s downloads with Content-MD5 %q, want %s", i, img.ID, a.header.Get("Content-MD5"), wantMD5)
	}
}
