package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/p2pglance/p2pglance/clusterauth"
	"github.com/p2pglance/p2pglance/peer"
)

// recorder keeps the last request it carried and the last answer.
type recorder struct {
	mu   sync.Mutex
	req  *http.Request
	body []byte
	resp http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.req, r.body = req.Clone(req.Context()), b
	if resp != nil {
		r.resp = resp.Header.Clone()
	}
	return resp, err
}

func (r *recorder) last() (*http.Request, []byte, http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.req.Clone(r.req.Context()), bytes.Clone(r.body), r.resp
}

// TestSigning: behind Guard, a Client that signs with SignTransport is
// served; chunk bodies and chunk answers are content-addressed (not
// hashed, not MAC'd), every other answer is MAC'd, and the protocol's
// headers are covered by the signature.
func TestSigning(t *testing.T) {
	keys, err := clusterauth.Derive([]byte("the secret of the cluster under test"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{chunk: []byte("chunk bytes"), usage: peer.Usage{Chunks: 1}}
	var mu sync.Mutex
	var rejects []string
	srv := httptest.NewServer(peer.Guard([][]byte{keys.Peer}, func(_ *http.Request, reason string) {
		mu.Lock()
		rejects = append(rejects, reason)
		mu.Unlock()
	}, peer.Handler(f)))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	rec := &recorder{}
	c := peer.NewClient(&http.Client{Transport: peer.SignTransport([][]byte{keys.Peer}, "n1", rec)}, "http")
	ctx := context.Background()

	if err := c.PutChunk(ctx, addr, peer.ChunkPut{Digest: "cc", Image: "img", Idx: 1, Total: 2}, []byte("pushed")); err != nil {
		t.Fatalf("signed chunk PUT: %v", err)
	}
	if req, _, resp := rec.last(); req.Header.Get(clusterauth.HeaderBody) != clusterauth.BodyChunk || resp.Get(clusterauth.HeaderResponse) == "" {
		t.Fatalf("chunk PUT signed as %q, answer MAC %q", req.Header.Get(clusterauth.HeaderBody), resp.Get(clusterauth.HeaderResponse))
	}
	body, err := c.GetChunk(ctx, addr, peer.ChunkRequest{Digest: "aa", Image: "img", Idx: 0, LastResort: true})
	if err != nil {
		t.Fatalf("signed chunk GET: %v", err)
	}
	body.Close()
	getReq, _, resp := rec.last()
	if resp.Get(clusterauth.HeaderResponse) != "" {
		t.Fatal("a chunk GET's answer carries a MAC: it is verified by its digest")
	}
	if _, err := c.Stats(ctx, addr); err != nil {
		t.Fatalf("signed stats: %v", err)
	}
	if _, _, resp := rec.last(); resp.Get(clusterauth.HeaderResponse) == "" {
		t.Fatal("a stats answer without a MAC")
	}
	if _, err := c.Missing(ctx, addr, peer.MissingRequest{Image: "img", Digests: []string{"aa"}}); err != nil {
		t.Fatalf("signed missing: %v", err)
	}
	missReq, missBody, _ := rec.last()
	if missReq.Header.Get(clusterauth.HeaderBody) == clusterauth.BodyChunk {
		t.Fatal("a JSON body not hashed")
	}

	// Replays with one thing changed: refused for the change (the
	// signature and body are checked before the nonce).
	resend := func(r *http.Request, body []byte) int {
		t.Helper()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	getReq.Header.Set(peer.HeaderLastResort, "")
	if code := resend(getReq, nil); code != http.StatusUnauthorized {
		t.Errorf("a chunk GET with its last-resort header changed: %d, want 401", code)
	}
	if code := resend(missReq, append(missBody, ' ')); code != http.StatusUnauthorized {
		t.Errorf("a missing request with its body changed: %d, want 401", code)
	}
	unsigned := peer.NewClient(http.DefaultClient, "http")
	var se *peer.StatusError
	if _, err := unsigned.Stats(ctx, addr); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("unsigned stats: %v, want 401", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rejects) != 3 || rejects[0] != clusterauth.RejectBadSig || rejects[1] != clusterauth.RejectBody || rejects[2] != clusterauth.RejectUnsigned {
		t.Errorf("refusals %v", rejects)
	}
}
