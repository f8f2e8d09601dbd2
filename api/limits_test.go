package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// gateBackend is a memBackend whose image lookups wait for gate to close.
type gateBackend struct {
	*memBackend
	entered chan struct{}
	gate    chan struct{}
}

func (b *gateBackend) Image(ctx context.Context, id string) (*catalog.Image, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.memBackend.Image(ctx, id)
}

// newLimitServer serves a one-image memBackend over real HTTP (the
// transfer deadlines need a real connection).
func newLimitServer(t *testing.T, cfg Config) (*httptest.Server, *memBackend) {
	t.Helper()
	b := &memBackend{images: map[string]*catalog.Image{}}
	_, _ = b.CreateImage(context.Background(), &catalog.Image{ID: testImageID, Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared, Tags: []string{}})
	if cfg.Backend == nil {
		cfg.Backend = b
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, b
}

func TestConcurrencyLimit(t *testing.T) {
	b := &gateBackend{memBackend: &memBackend{images: map[string]*catalog.Image{}}, entered: make(chan struct{}, 8), gate: make(chan struct{})}
	_, _ = b.CreateImage(context.Background(), &catalog.Image{ID: testImageID, Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared})
	srv, _ := newLimitServer(t, Config{Backend: b, MaxConcurrentRequests: 2})
	url := srv.URL + "/v2/images/" + testImageID
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(url)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range 2 {
		select {
		case <-b.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the first two requests did not reach the backend")
		}
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct{ Message string }
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		json.Unmarshal(body, &e) != nil || !strings.Contains(e.Message, "maximum of 2 concurrent requests") {
		t.Fatalf("third request: %d, Retry-After %q, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	close(b.gate)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("a request within the limit answered %d", code)
		}
	}
	// The slots are free again.
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the limit: %d", resp.StatusCode)
	}
}

// rawExchange writes head and then each part of the body, waiting pause
// before each part, and returns the status of the answer and how long it
// took from the first write.
func rawExchange(t *testing.T, srv *httptest.Server, head string, pause time.Duration, parts ...string) (int, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, p := range parts {
			time.Sleep(pause)
			if _, err := io.WriteString(conn, p); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func TestTransferIdleTimeout(t *testing.T) {
	// The idle time is well above the steady body's pauses (150 ms), so
	// a loaded host that stretches a pause does not cut it.
	srv, b := newLimitServer(t, Config{TransferIdleTimeout: time.Second})
	patch := "PATCH /v2/images/" + testImageID + " HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n" +
		"Content-Type: " + patchV21 + "\r\n"
	body := `[{"op": "replace", "path": "/name", "value": "steady"}]`

	// A body that stops arriving fails with 408 once the idle time is up.
	status, took := rawExchange(t, srv, patch+"Content-Length: 200\r\n\r\n"+body[:10], 0)
	if status != http.StatusRequestTimeout || took > 6*time.Second {
		t.Fatalf("stalled body: %d after %v, want 408 soon after 1s", status, took)
	}
	status, _ = rawExchange(t, srv, patch+"Transfer-Encoding: chunked\r\n\r\n5\r\n[{\"op\r\n", 0)
	if status != http.StatusRequestTimeout {
		t.Fatalf("stalled chunked body: %d, want 408", status)
	}

	// A slow body that keeps coming is never cut, however long it takes.
	var parts []string
	for i := 0; i < len(body); i += 10 {
		parts = append(parts, body[i:min(i+10, len(body))])
	}
	status, took = rawExchange(t, srv, patch+"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n", 150*time.Millisecond, parts...)
	if status != http.StatusOK || took < 600*time.Millisecond {
		t.Fatalf("steady body: %d after %v, want 200 after about a second", status, took)
	}
	img, _ := b.Image(context.Background(), testImageID)
	if img.Name == nil || *img.Name != "steady" {
		t.Fatalf("image name %v after the steady PATCH", img.Name)
	}
}

func TestRequestTargetLimits(t *testing.T) {
	s, _ := newMemServer(t, catalog.StatusQueued)
	for _, tc := range []struct {
		target string
		status int
		msg    string
	}{
		{"/v2/images?name=" + strings.Repeat("n", maxURILength), http.StatusRequestURITooLong, "The request URI was too long for this server."},
		{"/v2/images?" + strings.Repeat("a=1&", maxQueryParams) + "a=1", http.StatusBadRequest, "Too many query parameters (257)"},
		{"/v2/images?name=%zz", http.StatusBadRequest, "Invalid query string: bad percent-encoding."},
		{"/v2/images?name=a;b", http.StatusBadRequest, "Invalid query string"},
		{"/v2/images/%ff", http.StatusBadRequest, errDecoding},
		{"/v2/images?tag=%c3%28", http.StatusBadRequest, errDecoding},
	} {
		rec := memDo(t, s, "GET", tc.target, "", "Accept", "application/json")
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("GET %.60s: %d %s, want %d with %q", tc.target, rec.Code, rec.Body, tc.status, tc.msg)
		}
	}
	// Just within the limits.
	rec := memDo(t, s, "GET", "/v2/images/"+testImageID+"?"+strings.Repeat("a=1&", maxQueryParams-1)+"a=1", "")
	if rec.Code != http.StatusOK {
		t.Errorf("%d query parameters: %d %s", maxQueryParams, rec.Code, rec.Body)
	}
}
