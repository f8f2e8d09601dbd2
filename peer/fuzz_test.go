package peer_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/peer"
)

// FuzzHandler sends hostile paths and bodies to the routes: a Server
// that never fails is never answered 5xx, is called only with requests
// that decode and pass the protocol's checks, and gets a pushed chunk's
// bytes exactly. (node's FuzzPeerRequests runs the same against a real
// node.)
func FuzzHandler(f *testing.F) {
	f.Add(http.MethodPost, peer.PathJoin, []byte(`{"id": "n1", "raft_addr": "127.0.0.1:1", "gossip_addr": "127.0.0.1:2"}`))
	f.Add(http.MethodPost, peer.PathJoin, []byte(`{"id": "n1", "raft_addr": "nowhere"}`))
	f.Add(http.MethodPost, peer.PathMissing, []byte(`{"image": "i", "digests": ["aa"]} {}`))
	f.Add(http.MethodPost, peer.PathReplicate, []byte(`{"image_id": "img"}`))
	f.Add(http.MethodPost, peer.PathApply, []byte{1, '{', '}'})
	f.Add(http.MethodGet, peer.PathChunks+"aa?image=i&idx=-3&from=n1", []byte(nil))
	f.Add(http.MethodPut, peer.PathChunks+"aa?image=i&idx=x&total=99999999999999999999", []byte("data"))
	f.Add(http.MethodGet, peer.PathPrefetch+"job%2F1", []byte(nil))
	f.Add(http.MethodGet, peer.PathStats, []byte(nil))
	f.Add(http.MethodPost, peer.PathHoldings, []byte(`{"holder": "n1", "epoch": 5, "images": [{"image": "a", "version": 2, "total": 9, "bits": "AQE="}, {"image": "b", "version": 3, "gone": true}]}`))
	f.Add(http.MethodPost, peer.PathHoldings, []byte(`{"holder": "n1", "epoch": 5, "images": [{"image": "a", "version": 2, "total": 9, "bits": "AQ=="}]}`))
	f.Add(http.MethodPost, peer.PathHolders, []byte(`{"image": "a", "zone": "z", "limit": 3, "full": true}`))
	f.Add(http.MethodPost, peer.PathHolders, []byte(`{"image": "", "limit": -1}`))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		u, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		s := &fakeServer{chunk: []byte("chunk")}
		req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		req.Method, req.URL, req.RequestURI, req.ContentLength = method, u, target, int64(len(body))
		rec := httptest.NewRecorder()
		peer.Handler(s).ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, target, rec.Code, rec.Body)
		}
		if len(s.calls) == 0 {
			return
		}
		switch call := s.calls[0]; {
		case strings.HasPrefix(call, "Join"):
			if req, err := peer.DecodeJoin(bytes.NewReader(body)); err != nil || req != s.joined {
				t.Fatalf("join %q reached the server as %+v (decode: %v)", body, s.joined, err)
			}
		case strings.HasPrefix(call, "Missing"):
			if _, err := peer.DecodeMissing(bytes.NewReader(body)); err != nil {
				t.Fatalf("missing %q reached the server: %v", body, err)
			}
		case strings.HasPrefix(call, "Replicate"):
			if _, err := peer.DecodeReplicate(bytes.NewReader(body)); err != nil {
				t.Fatalf("replicate %q reached the server: %v", body, err)
			}
		case strings.HasPrefix(call, "Holdings"):
			if h, err := peer.DecodeHoldings(bytes.NewReader(body)); err != nil || !reflect.DeepEqual(h, s.holdings) {
				t.Fatalf("holdings %q reached the server as %+v (decode: %v)", body, s.holdings, err)
			}
		case strings.HasPrefix(call, "Holders"):
			if q, err := peer.DecodeHoldersQuery(bytes.NewReader(body)); err != nil || q != s.query || q.Limit < 1 || q.Limit > peer.MaxHolders {
				t.Fatalf("holders query %q reached the server as %+v (decode: %v)", body, s.query, err)
			}
		case strings.HasPrefix(call, "PutChunk"):
			if !bytes.Equal(s.stored, body) || strings.Contains(s.lastPut.Digest, "/") {
				t.Fatalf("PUT %q of %d bytes stored %d bytes as %+v", target, len(body), len(s.stored), s.lastPut)
			}
		case strings.HasPrefix(call, "GetChunk"):
			if g := s.lastGet; strings.Contains(g.Digest, "/") || (g.Idx < 0 && g.Idx != -1) || rec.Body.String() != "chunk" {
				t.Fatalf("GET %q reached the server as %+v, answered %q", target, g, rec.Body)
			}
		}
	})
}
