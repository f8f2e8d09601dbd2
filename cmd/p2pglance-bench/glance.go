package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"time"
)

// newHTTPClient returns a client for loopback benchmarks: no proxy, keep-alive
// connections for up to conns concurrent requests per host.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConns:        4 * conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			WriteBufferSize:     256 << 10,
			ReadBufferSize:      256 << 10,
		},
	}
}

// glance is a minimal Glance v2 client for one endpoint.
type glance struct {
	base    string
	hc      *http.Client
	project string // X-Project-Id; empty: noauth admin
}

func (g *glance) do(ctx context.Context, method, path string, body io.Reader, size int64, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ctype)
	}
	if g.project != "" {
		req.Header.Set("X-Project-Id", g.project)
		req.Header.Set("X-Roles", "member,reader")
	}
	return g.hc.Do(req)
}

// expect drains and closes resp's body and checks its status.
func expect(resp *http.Response, status int, what string) error {
	defer resp.Body.Close()
	if resp.StatusCode != status {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, status, bytes.TrimSpace(msg))
	}
	_, err := io.Copy(io.Discard, resp.Body)
	return err
}

// create POSTs a raw/bare image and returns its id.
func (g *glance) create(ctx context.Context, name string) (string, error) {
	body := fmt.Sprintf(`{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	resp, err := g.do(ctx, http.MethodPost, "/v2/images", bytes.NewReader([]byte(body)), int64(len(body)), "application/json")
	if err != nil {
		return "", fmt.Errorf("create image: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("create image: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("create image: decode: %w", err)
	}
	return out.ID, nil
}

// upload PUTs data as the image's file.
func (g *glance) upload(ctx context.Context, id string, data []byte) error {
	resp, err := g.do(ctx, http.MethodPut, "/v2/images/"+id+"/file", bytes.NewReader(data), int64(len(data)), "application/octet-stream")
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return expect(resp, http.StatusNoContent, "upload")
}

// fetch GETs url and reads the whole body into a 1 MiB buffer, discarding
// it (and hashing it when h is not nil). It returns the bytes read.
func fetch(ctx context.Context, hc *http.Client, url string, h hash.Hash) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("get %s: status %d: %s", url, resp.StatusCode, bytes.TrimSpace(msg))
	}
	// Not io.Copy(io.Discard, ...): io.Discard's ReadFrom reads 8 KiB at
	// a time, which would make the client, not the server, the bottleneck.
	buf := make([]byte, 1<<20)
	var total int64
	for {
		k, err := resp.Body.Read(buf)
		total += int64(k)
		if h != nil {
			h.Write(buf[:k])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, fmt.Errorf("read %s: %w", url, err)
		}
	}
	if resp.ContentLength >= 0 && total != resp.ContentLength {
		return total, fmt.Errorf("get %s: %d bytes, announced %d", url, total, resp.ContentLength)
	}
	return total, nil
}

// download fetches an image's data; it checks the length.
func (g *glance) download(ctx context.Context, id string, want int64) error {
	n, err := fetch(ctx, g.hc, g.base+"/v2/images/"+id+"/file", nil)
	if err == nil && n != want {
		err = fmt.Errorf("download %s: %d bytes, want %d", id, n, want)
	}
	return err
}

// verify downloads an image (unmeasured) and compares its md5 with want.
func verify(ctx context.Context, hc *http.Client, url string, want []byte) error {
	h := md5.New()
	if _, err := fetch(ctx, hc, url, h); err != nil {
		return err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%s: md5 %s, want %s", url, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return nil
}

// list GETs /v2/images?query and reads the whole answer (what a timed
// list request costs a client, without decoding).
func (g *glance) list(ctx context.Context, query string) ([]byte, error) {
	resp, err := g.do(ctx, http.MethodGet, "/v2/images?"+query, nil, 0, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", query, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list %s: status %d: %s", query, resp.StatusCode, bytes.TrimSpace(body[:min(len(body), 512)]))
	}
	return body, nil
}

// pageSize decodes a list answer and returns how many images it held.
func pageSize(body []byte) (int, error) {
	var out struct {
		Images []json.RawMessage `json:"images"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("decode list: %w", err)
	}
	return len(out.Images), nil
}
