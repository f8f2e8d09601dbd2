package peer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"
)

// Paths of the catalog's distribution to agents outside Raft.
const (
	// PathLog: GET ?after=N&wait=MS: the committed commands after index
	// N, waiting up to MS milliseconds for one (a long poll).
	PathLog = "/internal/v1/log"
	// PathCheckpoints: GET + index: a certified checkpoint's bytes.
	PathCheckpoints = "/internal/v1/checkpoints/"
)

// HeaderDigest carries a checkpoint's BLAKE3 digest (hex) on its GET.
const HeaderDigest = "X-P2pglance-Digest"

// MaxLogAnswer caps a log answer the Client decodes: a batch holds about
// MaxLogBatch bytes of commands, base64 in JSON, and at least one command
// (which can be as large as MaxApplyBody).
const (
	MaxLogBatch  = 1 << 20
	MaxLogAnswer = 4*MaxLogBatch + 2*MaxApplyBody
)

// MaxLogWait bounds the wait of one log long poll.
const MaxLogWait = 60 * time.Second

// LogEntry is one committed command at its log index.
type LogEntry struct {
	Index uint64 `json:"i"`
	Data  []byte `json:"d"`
}

// Voter names a Raft voter and its peer address.
type Voter struct {
	ID   string `json:"id"`
	Peer string `json:"peer"`
}

// Hints tell an agent outside Raft where the voters and the leader are,
// as the node answering knows them.
type Hints struct {
	Leader string  `json:"leader,omitempty"` // the leader's id
	Voters []Voter `json:"voters,omitempty"`
}

// CheckpointInfo names a certified checkpoint: the catalog at Index,
// Size bytes with BLAKE3 digest Digest (hex).
type CheckpointInfo struct {
	Index  uint64 `json:"index"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
}

// LogBatch answers a log poll: the commands after the index asked for,
// in order (indexes without a command carry Raft's own entries and are
// skipped), up to Applied, the answering node's applied index. When the
// node no longer keeps the commands asked for, Entries is empty and
// Checkpoint names the certified checkpoint to install first.
type LogBatch struct {
	Entries    []LogEntry      `json:"entries,omitempty"`
	Applied    uint64          `json:"applied"`
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	Hints
}

// CatalogServer is what a node does to feed the catalog to agents
// downstream of it.
type CatalogServer interface {
	// Log answers the commands after index after, waiting up to wait
	// for one. ErrUnavailable when the node is itself out of touch with
	// the voters or feeds too many pollers already.
	Log(ctx context.Context, after uint64, wait time.Duration) (LogBatch, error)
	// Checkpoint opens the certified checkpoint at index; ErrNotFound
	// when the node does not hold it.
	Checkpoint(ctx context.Context, index uint64) (CheckpointInfo, io.ReadCloser, error)
}

// CatalogRoutes registers the catalog distribution routes on r.
func CatalogRoutes(r *mux.Router, s CatalogServer) {
	h := catalogHandlers{s: s}
	r.Handle(PathLog, route(h.log, http.StatusServiceUnavailable)).Methods(http.MethodGet)
	r.Handle(PathCheckpoints+"{index:[0-9]+}", route(h.checkpoint, http.StatusInternalServerError)).Methods(http.MethodGet)
}

type catalogHandlers struct{ s CatalogServer }

func (h catalogHandlers) log(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: after: %w", ErrBadRequest, err)
	}
	ms, err := strconv.ParseUint(q.Get("wait"), 10, 32)
	if err != nil {
		return fmt.Errorf("%w: wait: %w", ErrBadRequest, err)
	}
	out, err := h.s.Log(r.Context(), after, min(time.Duration(ms)*time.Millisecond, MaxLogWait))
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

func (h catalogHandlers) checkpoint(w http.ResponseWriter, r *http.Request) error {
	idx, err := strconv.ParseUint(mux.Vars(r)["index"], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: index: %w", ErrBadRequest, err)
	}
	info, body, err := h.s.Checkpoint(r.Context(), idx)
	if err != nil {
		return err
	}
	defer body.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set(HeaderDigest, info.Digest)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, body)
	return nil
}

// Log polls the node at addr for the commands after index after, waiting
// up to wait for one.
func (c *Client) Log(ctx context.Context, addr string, after uint64, wait time.Duration) (LogBatch, error) {
	var out LogBatch
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "wait": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(addr, PathLog, q), nil)
	if err != nil {
		return out, fmt.Errorf("build request %s: %w", PathLog, err)
	}
	resp, err := c.do(req, addr, PathLog, http.StatusOK)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if err := decodeAnswer(resp.Body, MaxLogAnswer, &out); err != nil {
		return out, fmt.Errorf("decode %s%s: %w", addr, PathLog, err)
	}
	return out, nil
}

// Checkpoint opens the certified checkpoint at index from the node at
// addr. The caller verifies the bytes against the digest it trusts and
// closes the body.
func (c *Client) Checkpoint(ctx context.Context, addr string, index uint64) (io.ReadCloser, int64, error) {
	path := PathCheckpoints + strconv.FormatUint(index, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(addr, path, nil), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("build request %s: %w", path, err)
	}
	resp, err := c.do(req, addr, path, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}
