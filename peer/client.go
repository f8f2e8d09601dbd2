package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/p2pglance/p2pglance/internal/reqid"
)

// Client calls other nodes' internal API. Addresses are their peer
// addresses (host:port); the http.Client given carries TLS, the request
// signature (SignTransport) and whatever else the caller layers.
type Client struct {
	hc     *http.Client
	scheme string
}

// NewClient returns a Client that sends through hc with scheme ("http",
// or "https" for peer TLS).
func NewClient(hc *http.Client, scheme string) *Client {
	return &Client{hc: hc, scheme: scheme}
}

// CloseIdleConnections closes the idle connections of the http.Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func (c *Client) url(addr, path string, q url.Values) string {
	u := c.scheme + "://" + addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request, with the request id of its context, and returns the answer if its status is want; any
// other answer is a *StatusError (its body read up to 4 KiB).
func (c *Client) do(req *http.Request, addr, path string, want int) (*http.Response, error) {
	reqid.Outbound(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s%s: %w", addr, path, err)
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp, &StatusError{Addr: addr, Path: path, Code: resp.StatusCode, Msg: string(bytes.TrimSpace(msg))}
	}
	return resp, nil
}

// call sends method path with body (nil: none) and decodes the JSON
// answer, of at most limit bytes, into out (nil: discarded).
func (c *Client) call(ctx context.Context, method, addr, path string, body []byte, limit int64, out any) error {
	return c.callQuery(ctx, method, addr, path, nil, body, limit, out)
}

// callQuery is call with query parameters.
func (c *Client) callQuery(ctx context.Context, method, addr, path string, q url.Values, body []byte, limit int64, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(addr, path, q), rd)
	if err != nil {
		return fmt.Errorf("build request %s: %w", path, err)
	}
	resp, err := c.do(req, addr, path, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := decodeAnswer(resp.Body, limit, out); err != nil {
		return fmt.Errorf("decode %s%s: %w", addr, path, err)
	}
	return nil
}

// decodeAnswer decodes one JSON value of at most limit bytes from r into
// out: a longer answer, or anything after the value, is an error.
func decodeAnswer(r io.Reader, limit int64, out any) error {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	dec := json.NewDecoder(lr)
	err := dec.Decode(out)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON answer")
		}
	}
	if err != nil && lr.N == 0 {
		return fmt.Errorf("answer over %d bytes", limit)
	}
	return err
}

// callJSON is call with in encoded as the JSON body.
func (c *Client) callJSON(ctx context.Context, addr, path string, in any, limit int64, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", path, err)
	}
	return c.call(ctx, http.MethodPost, addr, path, body, limit, out)
}

// Apply forwards cmd (an encoded raftfsm command) to the leader at addr.
// An error that wraps a dial error means the command never left.
// With cu, the answer may carry the committed entries the sender lacks
// up to its write.
func (c *Client) Apply(ctx context.Context, addr string, cmd []byte, cu *CatchUp) (ApplyResponse, error) {
	var out ApplyResponse
	var q url.Values
	if cu != nil {
		q = url.Values{queryCatchUp: {strconv.FormatUint(cu.After, 10)}}
	}
	err := c.callQuery(ctx, http.MethodPost, addr, PathApply, q, cmd, MaxAnswerBody, &out)
	return out, err
}

// Join asks the node at addr to add a node to the cluster.
func (c *Client) Join(ctx context.Context, addr string, req JoinRequest) (JoinResponse, error) {
	var out JoinResponse
	err := c.callJSON(ctx, addr, PathJoin, req, MaxAnswerBody, &out)
	return out, err
}

// Missing asks the node at addr which of req.Digests it lacks, after it
// made everything it holds durable; none means it holds a durable copy
// of every one. The chunks are protected there for req.Image.
func (c *Client) Missing(ctx context.Context, addr string, req MissingRequest) ([]string, error) {
	var out missingResponse
	err := c.callJSON(ctx, addr, PathMissing, req, MaxMissingAnswerBody, &out)
	return out.Missing, err
}

// Replicate asks the node at addr to become a durable holder of an
// image; it returns once the node holds every chunk durably.
func (c *Client) Replicate(ctx context.Context, addr, imageID string) error {
	return c.callJSON(ctx, addr, PathReplicate, replicateRequest{ImageID: imageID}, MaxAnswerBody, nil)
}

// Stats asks the node at addr how its chunk store is used.
func (c *Client) Stats(ctx context.Context, addr string) (Usage, error) {
	var out Usage
	err := c.call(ctx, http.MethodGet, addr, PathStats, nil, MaxAnswerBody, &out)
	return out, err
}

// PrefetchProgress asks the node at addr how far it is with prefetch
// job id.
func (c *Client) PrefetchProgress(ctx context.Context, addr, id string) (Progress, error) {
	var out Progress
	err := c.call(ctx, http.MethodGet, addr, PathPrefetch+url.PathEscape(id), nil, MaxAnswerBody, &out)
	return out, err
}

// GetChunk asks the node at addr for a chunk and returns the answer's
// body, which the caller reads (the chunk's bytes, not yet verified
// against the digest) and closes. A refusal is a *BusyError (busy, or
// origin protection, with the nodes to try), a chunk not held a
// *StatusError matching ErrNotFound.
func (c *Client) GetChunk(ctx context.Context, addr string, req ChunkRequest) (io.ReadCloser, error) {
	q := url.Values{}
	if req.Image != "" {
		q.Set(queryImage, req.Image)
		q.Set(queryIdx, strconv.Itoa(req.Idx))
	}
	if req.From != "" {
		q.Set(queryFrom, req.From)
	}
	path := PathChunks + url.PathEscape(req.Digest)
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(addr, path, q), nil)
	if err != nil {
		return nil, fmt.Errorf("build chunk request: %w", err)
	}
	if req.LastResort {
		hr.Header.Set(HeaderLastResort, "1")
	}
	resp, err := c.do(hr, addr, path, http.StatusOK)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			switch {
			case resp.Header.Get(HeaderOrigin) != "":
				return nil, &BusyError{Origin: true, Try: parseTry(resp.Header.Get(HeaderTry))}
			case resp.Header.Get(HeaderBusy) != "":
				return nil, &BusyError{Try: parseTry(resp.Header.Get(HeaderTry))}
			}
		}
		return nil, err
	}
	return resp.Body, nil
}

// PutChunk pushes a chunk to the node at addr, which verifies it
// against put.Digest (ErrMismatch) and stores it.
func (c *Client) PutChunk(ctx context.Context, addr string, put ChunkPut, data []byte) error {
	q := url.Values{}
	q.Set(queryImage, put.Image)
	q.Set(queryIdx, strconv.Itoa(put.Idx))
	q.Set(queryTotal, strconv.Itoa(put.Total))
	path := PathChunks + url.PathEscape(put.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url(addr, path, q), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build chunk push: %w", err)
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, addr, path, http.StatusNoContent)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Holdings sends a batch of this node's holdings to the node at addr,
// one of the trackers of every image in it.
func (c *Client) Holdings(ctx context.Context, addr string, h Holdings) error {
	body, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", PathHoldings, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(addr, PathHoldings, nil), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request %s: %w", PathHoldings, err)
	}
	resp, err := c.do(req, addr, PathHoldings, http.StatusNoContent)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

// Holders asks the node at addr, one of the image's trackers, who holds
// an image.
func (c *Client) Holders(ctx context.Context, addr string, q HoldersQuery) (HoldersAnswer, error) {
	var out HoldersAnswer
	err := c.callJSON(ctx, addr, PathHolders, q, MaxHoldersAnswerBody, &out)
	return out, err
}
