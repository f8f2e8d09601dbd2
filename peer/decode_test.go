package peer

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeJoin: a join names Raft and gossip addresses that can be
// dialled, in one JSON value under the body cap.
func TestDecodeJoin(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"id": "n1", "raft_addr": "127.0.0.1:7000", "gossip_addr": "10.0.0.1:7001"}`: true,
		`{"id": "n1", "raft_addr": "[::1]:7000"}`:                                     true,
		`{"id": "n1", "raft_addr": "127.0.0.1"}`:                                      false,
		`{"id": "n1", "raft_addr": ":7000"}`:                                          false,
		`{"id": "n1", "raft_addr": "127.0.0.1:0"}`:                                    false,
		`{"id": "n1", "raft_addr": "127.0.0.1:99999"}`:                                false,
		`{"id": "n1", "raft_addr": "127.0.0.1:7000", "gossip_addr": "x"}`:             false,
		`{"id": "n1", "raft_addr": "127.0.0.1:7000"} trailing`:                        false,
		`{"id": "n1", "raft_addr": "127.0.0.1:7000"} {}`:                              false,
		`{"id": "n1", "raft_addr": "127.0.0.1:` + strings.Repeat("0", 600) + `1"}`:    false,
		`not json`: false,
	} {
		_, err := DecodeJoin(strings.NewReader(body))
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadRequest)) {
			t.Errorf("join %s: error %v, want ok=%v", body, err, ok)
		}
	}
	padded := `{"id": "n1", "raft_addr": "127.0.0.1:7000"` + strings.Repeat(" ", MaxJoinBody) + `}`
	if _, err := DecodeJoin(strings.NewReader(padded)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("a join body of %d bytes: %v (cap %d)", len(padded), err, MaxJoinBody)
	}
}

// TestDecodeCaps: the missing and replicate bodies are capped too.
func TestDecodeCaps(t *testing.T) {
	if _, err := DecodeReplicate(strings.NewReader(`{"image_id": "` + strings.Repeat("i", MaxReplicateBody) + `"}`)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("a replicate body over its cap: %v", err)
	}
	if id, err := DecodeReplicate(strings.NewReader(`{"image_id": "img"}`)); err != nil || id != "img" {
		t.Errorf("replicate: %q %v", id, err)
	}
	if req, err := DecodeMissing(strings.NewReader(`{"image": "i", "digests": ["a", "b"]}`)); err != nil || req.Image != "i" || len(req.Digests) != 2 {
		t.Errorf("missing: %+v %v", req, err)
	}
	if _, err := DecodeMissing(strings.NewReader(`{"image": "i"} []`)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("missing with trailing data: %v", err)
	}
}
