package testcluster_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestSlowHeadersAreCut: a client that trickles its request headers
// (slowloris) is disconnected once the header timeout is up, on the API
// port and on the peer port, however steadily it trickles.
func TestSlowHeadersAreCut(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.HeaderTimeout = 300 * time.Millisecond
	}))
	for name, addr := range map[string]string{"api": c.Member(0).Config.APIAddr, "peer": c.Member(0).Config.PeerAddr} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		closed := make(chan error, 1)
		go func() {
			_, err := conn.Read(make([]byte, 1))
			closed <- err
		}()
		const lines = 400 // 10 s of trickling at one line every 25 ms
		sent := 0
		_, err = io.WriteString(conn, "GET /v2/images HTTP/1.1\r\nHost: x\r\n")
	trickle:
		for ; err == nil && sent < lines; sent++ {
			select {
			case <-closed:
				break trickle
			case <-time.After(25 * time.Millisecond):
			}
			_, err = fmt.Fprintf(conn, "X-Slow-%d: y\r\n", sent)
		}
		conn.Close()
		if sent == lines {
			t.Errorf("%s port: a client trickling headers kept its connection for all %d lines", name, lines)
		}
	}
}

// TestPeerPortHeaderCap: the peer port, like the API, refuses a header
// block over 64 KiB (431) before any handler or authentication runs.
func TestPeerPortHeaderCap(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory())
	conn, err := net.Dial("tcp", c.Member(0).Config.PeerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, "GET /internal/v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 70<<10)+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("70 KiB of headers on the peer port: %d, want 431", resp.StatusCode)
	}
}

// TestIdleKeepAliveIsClosed: a kept-alive connection idle for the
// keep-alive timeout is closed by the server.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.KeepAliveTimeout = 300 * time.Millisecond
	}))
	conn, err := net.Dial("tcp", c.Member(0).Config.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, "GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /versions: %d (close %v)", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle kept-alive connection: read %v, want EOF from the server closing it", err)
	}
}

// TestStalledDownloadFreesItsSlot: with one request slot, a download to a
// client that stopped reading holds the slot (others get 503 with
// Retry-After in Glance's format) only until the transfer idle timeout
// cuts it; the client then sees a truncated transfer.
func TestStalledDownloadFreesItsSlot(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.MaxConcurrentRequests = 1
		cfg.TransferIdleTimeout = 5 * time.Second
	}))
	waitSettled(c)
	api := newAPIClient(c)
	size := mib(32) // far more than the socket buffers between us hold
	id := api.create(t, `{"name": "big", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	api.upload(t, id, randomBytes(21, size)).want(t, http.StatusNoContent)

	conn, err := net.Dial("tcp", c.Member(0).Config.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(conn, "GET /v2/images/"+id+"/file HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled download: %v %v", resp, err)
	}
	// The download now owns the only slot and we read no more.
	busy := api.do(t, "GET", "/v2/images/"+id, nil)
	if busy.status != http.StatusServiceUnavailable || busy.header.Get("Retry-After") != "1" ||
		!strings.Contains(busy.errMessage(t), "maximum of 1 concurrent requests") {
		t.Fatalf("request while the slot is taken: %d %s (Retry-After %q)", busy.status, busy.body, busy.header.Get("Retry-After"))
	}
	c.Eventually(time.Minute, "the stalled download's slot is free", func() bool {
		return api.do(t, "GET", "/v2/images/"+id, nil).status == http.StatusOK
	})
	got, _ := io.Copy(io.Discard, resp.Body)
	if got >= int64(size) {
		t.Fatalf("the stalled client still received all %d bytes", got)
	}
	t.Logf("stalled download cut after %d of %d bytes", got, size)
}

// countingReader is an endless stream of pseudo-random bytes that counts
// what was read from it, up to limit.
type countingReader struct {
	rng   *rand.ChaCha8
	read  atomic.Int64
	limit int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.limit - r.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), left)]
	_, _ = r.rng.Read(p)
	r.read.Add(int64(len(p)))
	return len(p), nil
}

// TestOverQuotaUploadStopsWhileStreaming: an upload (and a stage) with no
// announced size that goes past what is left of its project's quota is
// cut off with 413 once it passes the limit, long before the client's
// body ends; the image is queued again and the chunks it stored are
// garbage collected.
func TestOverQuotaUploadStopsWhileStreaming(t *testing.T) {
	const quota = 2 << 20
	c := testcluster.New(t, 1, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.QuotaImageSizeTotal = quota
		cfg.QuotaStageTotal = quota
		cfg.GCInterval = 200 * time.Millisecond
	}))
	waitSettled(c)
	q := newAPIClient(c).as("q")
	stored := func() int64 { return c.Node(0).Metrics().StoredChunks }
	base := stored()
	for _, path := range []string{"/file", "/stage"} {
		id := q.create(t, `{"name": "q", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		body := &countingReader{rng: rand.NewChaCha8([32]byte{7}), limit: 256 << 20}
		r := q.do(t, "PUT", "/v2/images/"+id+path, io.Reader(body), "Content-Type", octetStream)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("PUT %s of an endless body over a %d-byte quota: %d %s", path, quota, r.status, r.body)
		}
		if n := body.read.Load(); n <= quota || n >= body.limit/4 {
			t.Fatalf("PUT %s: the client sent %d bytes of %d before the 413, want just over %d", path, n, body.limit, quota)
		} else {
			t.Logf("PUT %s: 413 after the client sent %d bytes (quota %d)", path, n, quota)
		}
		img := q.show(t, id)
		if img["status"] != "queued" || img["size"] != nil {
			t.Fatalf("PUT %s: image after the 413: status %v, size %v", path, img["status"], img["size"])
		}
		c.Eventually(testTimeout, "the cut upload's chunks are collected", func() bool { return stored() == base })
	}
}
