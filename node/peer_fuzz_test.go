package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// startFuzzNode runs a real one-node cluster (in-memory stores, loopback
// listeners) until the test ends, and waits for it to lead.
func startFuzzNode(tb testing.TB) *Node {
	tb.Helper()
	n, err := New(Config{
		NodeID: "fuzz0", Replicas: 1, Voters: 1,
		APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
		// nodetest.Timing's Raft timers (package node's tests cannot import nodetest).
		Timing: Timing{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, LeaderLeaseTimeout: 150 * time.Millisecond, CommitTimeout: 5 * time.Millisecond},
	}, InMemory())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	for deadline := time.Now().Add(20 * time.Second); n.raft.State() != raft.Leader; {
		if time.Now().After(deadline) {
			tb.Fatal("the node did not become leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// Peer operations the fuzz target exercises.
const (
	peerOpJoin = iota
	peerOpApply
	peerOpMissing
	peerOpReplicate
	peerOpGetChunk
	peerOpPutChunk
	peerOpHoldings
	peerOpHolders
	peerOpCount
)

// FuzzPeerRequests sends hostile bodies and chunk paths to a real node's
// peer API. No request may crash the node (in particular, no command
// that would stop every replica may reach Raft), malformed bodies are
// 400s, a chunk is stored only under its own BLAKE3 digest, every chunk
// served matches the digest asked for, and a holdings batch or holders
// query is accepted exactly when it decodes and names valid ids.
func FuzzPeerRequests(f *testing.F) {
	n := startFuzzNode(f)
	held := []byte("a chunk the node holds")
	heldDigest := chunkstore.Sum(held)
	if err := n.chunks.Put(context.Background(), heldDigest, held); err != nil {
		f.Fatal(err)
	}
	handler := n.peerRoutes()

	create, _ := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{ID: "fuzz-image", Status: catalog.StatusQueued, Tags: []string{}}})
	f.Add(uint8(peerOpJoin), "", []byte(`{"id": "n1", "raft_addr": "127.0.0.1:1", "gossip_addr": "127.0.0.1:2"}`))
	f.Add(uint8(peerOpJoin), "", []byte(`{"id": "n 1", "raft_addr": "nowhere"}`))
	f.Add(uint8(peerOpJoin), "", []byte(`{"id": "n1", "raft_addr": "127.0.0.1:1"} {}`))
	f.Add(uint8(peerOpApply), "", create)
	f.Add(uint8(peerOpApply), "", []byte{byte(raftfsm.CmdCreateImage), '{'})
	f.Add(uint8(peerOpApply), "", []byte{0x33})
	f.Add(uint8(peerOpApply), "", []byte{byte(raftfsm.CmdNoop)})
	f.Add(uint8(peerOpMissing), "", []byte(`{"image": "i", "digests": ["`+heldDigest.String()+`"]}`))
	f.Add(uint8(peerOpMissing), "", []byte(`{"image": "i", "digests": ["zz"]}`))
	f.Add(uint8(peerOpReplicate), "", []byte(`{"image_id": "fuzz-image"}`))
	f.Add(uint8(peerOpReplicate), "", []byte(`{"image_id": ""}`))
	f.Add(uint8(peerOpGetChunk), heldDigest.String(), []byte(nil))
	f.Add(uint8(peerOpGetChunk), "../../etc/passwd", []byte(nil))
	f.Add(uint8(peerOpGetChunk), strings.ToUpper(heldDigest.String()), []byte(nil))
	f.Add(uint8(peerOpPutChunk), chunkstore.Sum([]byte("x")).String()+"?image=i&idx=0&total=1", []byte("x"))
	f.Add(uint8(peerOpPutChunk), heldDigest.String()+"?image=i&idx=-5&total=99999999999", []byte("not it"))
	f.Add(uint8(peerOpHoldings), "", []byte(`{"holder": "n7", "epoch": 3, "images": [{"image": "i", "version": 2, "total": 9, "bits": "AQE="}]}`))
	f.Add(uint8(peerOpHoldings), "", []byte(`{"holder": "n 7", "epoch": 3, "images": []}`))
	f.Add(uint8(peerOpHoldings), "", []byte(`{"holder": "n7", "epoch": 3, "images": [{"image": "i", "version": 2, "total": 9, "bits": "AQ=="}]}`))
	f.Add(uint8(peerOpHolders), "", []byte(`{"image": "i", "zone": "z", "limit": 2}`))
	f.Add(uint8(peerOpHolders), "", []byte(`{"image": "", "limit": -2}`))
	f.Fuzz(func(t *testing.T, op uint8, path string, body []byte) {
		var method, target string
		switch op % peerOpCount {
		case peerOpJoin:
			if joinAccepted(body) == nil {
				// A valid join changes the Raft configuration for
				// good; the parser's acceptance is what is fuzzed.
				return
			}
			method, target = http.MethodPost, peer.PathJoin
		case peerOpApply:
			method, target = http.MethodPost, peer.PathApply
		case peerOpMissing:
			method, target = http.MethodPost, peer.PathMissing
		case peerOpReplicate:
			method, target = http.MethodPost, peer.PathReplicate
		case peerOpGetChunk:
			method, target, body = http.MethodGet, peer.PathChunks+path, nil
		case peerOpPutChunk:
			method, target = http.MethodPut, peer.PathChunks+path
		case peerOpHoldings:
			method, target = http.MethodPost, peer.PathHoldings
		case peerOpHolders:
			method, target = http.MethodPost, peer.PathHolders
		}
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest(method, "/", bytes.NewReader(body))
		req.URL = u
		req.RequestURI = target
		req.ContentLength = int64(len(body))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req.WithContext(ctx))
		code := rec.Code
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: %d %s", method, target, code, rec.Body)
		}
		switch op % peerOpCount {
		case peerOpJoin:
			if code != http.StatusBadRequest {
				t.Fatalf("join refused by the parser answered %d", code)
			}
		case peerOpApply:
			valid := raftfsm.Validate(body) == nil
			if valid != (code == http.StatusOK) {
				t.Fatalf("apply %q (valid %v): %d %s", body, valid, code, rec.Body)
			}
		case peerOpMissing:
			if err := missingAccepted(body); (err == nil) != (code == http.StatusOK) {
				t.Fatalf("missing %q (parse error %v): %d", body, err, code)
			}
		case peerOpReplicate:
			if err := replicateAccepted(body); err != nil && code != http.StatusBadRequest {
				t.Fatalf("replicate %q (parse error %v): %d", body, err, code)
			}
		case peerOpGetChunk:
			if code == http.StatusOK {
				d, err := chunkstore.ParseDigest(strings.TrimPrefix(u.Path, peer.PathChunks))
				if err != nil || chunkstore.Sum(rec.Body.Bytes()) != d {
					t.Fatalf("GET %q served %d bytes that do not match the digest", target, rec.Body.Len())
				}
			}
		case peerOpPutChunk:
			d, err := chunkstore.ParseDigest(strings.TrimPrefix(u.Path, peer.PathChunks))
			match := err == nil && chunkstore.Sum(body) == d
			if match != (code == http.StatusNoContent) {
				t.Fatalf("PUT %q of %d bytes (digest match %v): %d %s", target, len(body), match, code, rec.Body)
			}
		case peerOpHoldings:
			if err := holdingsAccepted(body); (err == nil) != (code == http.StatusNoContent) {
				t.Fatalf("holdings %q (parse error %v): %d %s", body, err, code, rec.Body)
			}
		case peerOpHolders:
			if _, err := peer.DecodeHoldersQuery(bytes.NewReader(body)); (err == nil) != (code == http.StatusOK) {
				t.Fatalf("holders query %q (parse error %v): %d %s", body, err, code, rec.Body)
			}
		}
		// The node still commits writes: nothing poisoned the log.
		if err := n.Sync(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("sync after %s %q: %v", method, target, err)
		}
	})
}

// joinAccepted is what a node accepts of a join body: what package peer
// decodes, with a node id gossip can carry.
func joinAccepted(body []byte) error {
	req, err := peer.DecodeJoin(bytes.NewReader(body))
	if err == nil && !validNodeID(req.ID) {
		err = fmt.Errorf("node id %q", req.ID)
	}
	return err
}

// missingAccepted is what a node accepts of a missing body.
func missingAccepted(body []byte) error {
	req, err := peer.DecodeMissing(bytes.NewReader(body))
	if err == nil {
		_, err = checkMissing(req)
	}
	return err
}

// holdingsAccepted is what a node accepts of a holdings body.
func holdingsAccepted(body []byte) error {
	h, err := peer.DecodeHoldings(bytes.NewReader(body))
	if err == nil && !validNodeID(h.Holder) {
		err = fmt.Errorf("holder id %q", h.Holder)
	}
	return err
}

// replicateAccepted is what a node accepts of a replicate body.
func replicateAccepted(body []byte) error {
	id, err := peer.DecodeReplicate(bytes.NewReader(body))
	if err == nil && !validImageID(id) {
		err = fmt.Errorf("image id %q", id)
	}
	return err
}

// TestApplyRefusesUndecodable pins the poison-pill fix: bytes that are
// not a command are refused with 400 before they reach Raft, and the
// node keeps committing.
func TestApplyRefusesUndecodable(t *testing.T) {
	n := startFuzzNode(t)
	srv := httptest.NewServer(n.peerRoutes())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	client := peer.NewClient(http.DefaultClient, "http")
	ctx := context.Background()
	for _, body := range []string{"\x01{", "\x33", "\x01null trailing", "\x07[]"} {
		var se *peer.StatusError
		if _, err := client.Apply(ctx, addr, []byte(body), nil); !errors.As(err, &se) || se.Code != http.StatusBadRequest || !errors.Is(err, peer.ErrBadRequest) {
			t.Fatalf("apply %q: %v, want 400", body, err)
		}
	}
	data, _ := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{ID: "after", Status: catalog.StatusQueued, Tags: []string{}}})
	out, err := client.Apply(ctx, addr, data, nil)
	if err != nil || out.Code != "" || out.Index == 0 {
		t.Fatalf("a valid command after the refused ones: %v %+v", err, out)
	}
	if _, err := n.Image(ctx, "after"); err != nil {
		t.Fatal(err)
	}
}

// TestJoinRequestChecks: a join must name a node id gossip can carry and
// Raft addresses that can be dialled.
func TestJoinRequestChecks(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"id": "n1", "raft_addr": "127.0.0.1:7000", "gossip_addr": "10.0.0.1:7001"}`: true,
		`{"id": "n1", "raft_addr": "[::1]:7000"}`:                                     true,
		`{"id": "", "raft_addr": "127.0.0.1:7000"}`:                                   false,
		`{"id": "n 1", "raft_addr": "127.0.0.1:7000"}`:                                false,
		`{"id": "n1", "raft_addr": "127.0.0.1"}`:                                      false,
		`{"id": "n1", "raft_addr": "127.0.0.1:0"}`:                                    false,
		`{"id": "n1", "raft_addr": "127.0.0.1:99999"}`:                                false,
		`{"id": "n1", "raft_addr": "127.0.0.1:7000", "gossip_addr": "x"}`:             false,
		`{"id": "n1", "raft_addr": "127.0.0.1:7000"} trailing`:                        false,
		`{"id": "` + strings.Repeat("n", 129) + `", "raft_addr": "127.0.0.1:7000"}`:   false,
	} {
		if err := joinAccepted([]byte(body)); (err == nil) != ok {
			t.Errorf("join %s: error %v, want ok=%v", body, err, ok)
		}
	}
	// Valid JSON, but over the body cap.
	padded := `{"id": "n1", "raft_addr": "127.0.0.1:7000"` + strings.Repeat(" ", peer.MaxJoinBody) + `}`
	if err := joinAccepted([]byte(padded)); err == nil {
		t.Errorf("a join body of %d bytes was accepted (cap %d)", len(padded), peer.MaxJoinBody)
	}
	if err := replicateAccepted([]byte(`{"image_id": "` + strings.Repeat("i", peer.MaxReplicateBody) + `"}`)); err == nil {
		t.Error("a replicate body over its cap was accepted")
	}
}
