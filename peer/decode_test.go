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

// TestDecodeHoldings: a batch of holdings carries an epoch, and every
// image an id, a version and a bitmap that fits its chunk count (or All,
// or Gone), each image once.
func TestDecodeHoldings(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"holder": "n1", "epoch": 1, "images": []}`:                                                                                       true,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 9, "bits": "AQE="}]}`:                               true,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 9, "all": true}]}`:                                  true,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "gone": true}]}`:                                             true,
		`{"holder": "n1", "epoch": 0, "images": []}`:                                                                                       false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 9, "bits": "AQ=="}]}`:                               false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 9}]}`:                                               false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 9, "all": true, "bits": "AQE="}]}`:                  false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 0, "total": 1, "all": true}]}`:                                  false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 0, "all": true}]}`:                                  false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "total": 16777217, "all": true}]}`:                           false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "gone": true, "total": 3}]}`:                                 false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "", "version": 1, "gone": true}]}`:                                              false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "a", "version": 1, "gone": true}, {"image": "a", "version": 2, "gone": true}]}`: false,
		`{"holder": "n1", "epoch": 1, "images": [{"image": "` + strings.Repeat("i", MaxImageIDLen+1) + `", "version": 1, "gone": true}]}`:  false,
	} {
		_, err := DecodeHoldings(strings.NewReader(body))
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadRequest)) {
			t.Errorf("holdings %s: error %v, want ok=%v", body, err, ok)
		}
	}
	padded := `{"holder": "n1", "epoch": 1` + strings.Repeat(" ", MaxHoldingsBody) + `}`
	if _, err := DecodeHoldings(strings.NewReader(padded)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("a holdings body of %d bytes: %v (cap %d)", len(padded), err, MaxHoldingsBody)
	}
}

// TestDecodeHoldersQuery: a query names an image; its limit is at most
// MaxHolders, and 0 means as many.
func TestDecodeHoldersQuery(t *testing.T) {
	for body, limit := range map[string]int{
		`{"image": "a"}`:                 MaxHolders,
		`{"image": "a", "limit": 7}`:     7,
		`{"image": "a", "limit": 99999}`: MaxHolders,
		`{"image": "a", "limit": -1}`:    -1,
		`{"image": ""}`:                  -1,
		`{"image": "` + strings.Repeat("i", MaxImageIDLen+1) + `"}`:     -1,
		`{"image": "` + strings.Repeat("i", MaxHoldersQueryBody) + `"}`: -1,
	} {
		q, err := DecodeHoldersQuery(strings.NewReader(body))
		if limit < 0 {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("query %.80s: %v, want a bad request", body, err)
			}
			continue
		}
		if err != nil || q.Limit != limit {
			t.Errorf("query %s: limit %d, error %v; want limit %d", body, q.Limit, err, limit)
		}
	}
}
