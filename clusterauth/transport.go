package clusterauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds the bodies that are hashed whole: signed request bodies
// (other than chunks) and MAC'd answers.
const MaxBody = 64 << 20

// Transport is an http.RoundTripper that signs every request with the
// peer keys and verifies the MAC of every answer (except a
// content-addressed one, which the caller verifies by digest). An answer
// that fails is closed and reported as an error wrapping ErrBadResponse.
type Transport struct {
	// Keys are Keys.Peer of the cluster secrets the node holds, the
	// current one first, then the one being rotated out (if any). Every
	// request carries one signature per key, so a node that knows only
	// one of them accepts it; an answer MAC'd with any of them passes.
	Keys [][]byte
	// NodeID names the sender.
	NodeID string
	// Next carries the signed request; nil is http.DefaultTransport.
	Next http.RoundTripper
	// Now is the clock (nil: time.Now); tests skew it.
	Now func() time.Time
	// Protocol names the content-addressed bodies and the signed
	// headers of the protocol carried; the Verifier must use the same.
	Protocol Protocol
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	body, err := t.bodyHash(req, out)
	if err != nil {
		return nil, err
	}
	sigs, err := t.Sign(out, body)
	if err != nil {
		return nil, err
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if t.Protocol.contentAddressedResponse(req.Method, req.URL.Path) {
		return resp, nil
	}
	if err := checkResponse(t.Keys, sigs, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Sign sets the authentication headers of req, whose body has the hex
// SHA-256 digest body (or BodyChunk), and returns its signatures, one
// per key of t.Keys in that order.
func (t *Transport) Sign(req *http.Request, body string) ([]string, error) {
	if len(t.Keys) == 0 || len(t.Keys) > MaxKeys {
		return nil, fmt.Errorf("sign request: %d keys, want 1 to %d", len(t.Keys), MaxKeys)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	ts := now().UnixNano()
	n := hex.EncodeToString(nonce[:])
	sigs := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		sigs[i] = hex.EncodeToString(requestMAC(k, t.Protocol, req.Method, req.URL.RequestURI(), t.NodeID, ts, n, body, req.Header))
	}
	h := req.Header
	h.Set(HeaderNode, t.NodeID)
	h.Set(HeaderTime, strconv.FormatInt(ts, 10))
	h.Set(HeaderNonce, n)
	h.Set(HeaderBody, body)
	h.Set(HeaderSignature, strings.Join(sigs, ","))
	return sigs, nil
}

// bodyHash digests req's body without consuming it (through GetBody, or
// by buffering it into out), or names it BodyChunk.
func (t *Transport) bodyHash(req, out *http.Request) (string, error) {
	if t.Protocol.contentAddressedRequest(req.Method, req.URL.Path) {
		return BodyChunk, nil
	}
	if req.Body == nil || req.Body == http.NoBody {
		return emptySHA256, nil
	}
	var r io.ReadCloser
	if req.GetBody != nil {
		var err error
		if r, err = req.GetBody(); err != nil {
			return "", fmt.Errorf("sign request: read body: %w", err)
		}
	} else {
		r = req.Body
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	_ = r.Close()
	if err != nil {
		return "", fmt.Errorf("sign request: read body: %w", err)
	}
	if len(b) > MaxBody {
		return "", fmt.Errorf("sign request: body over %d bytes", MaxBody)
	}
	if req.GetBody == nil {
		out.Body = io.NopCloser(bytes.NewReader(b))
		out.ContentLength = int64(len(b))
	}
	return bodyDigest(b), nil
}

// checkResponse reads resp's body and checks its MAC, made with one of
// keys over the request's signature under that key (sigs[i] is keys[i]'s);
// on success the body is replaced by the bytes read.
func checkResponse(keys [][]byte, sigs []string, resp *http.Response) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read peer answer: %w", err)
	}
	if len(b) > MaxBody {
		return fmt.Errorf("%w: body over %d bytes", ErrBadResponse, MaxBody)
	}
	if got, err := hex.DecodeString(resp.Header.Get(HeaderResponse)); err == nil {
		for i, k := range keys {
			if hmac.Equal(got, responseMAC(k, sigs[i], resp.StatusCode, b)) {
				resp.Body = io.NopCloser(bytes.NewReader(b))
				resp.ContentLength = int64(len(b))
				return nil
			}
		}
	}
	return fmt.Errorf("%w (status %d: %.200q)", ErrBadResponse, resp.StatusCode, bytes.TrimSpace(b))
}

// CloseIdleConnections closes Next's idle connections, if it can.
func (t *Transport) CloseIdleConnections() {
	type closer interface{ CloseIdleConnections() }
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if c, ok := next.(closer); ok {
		c.CloseIdleConnections()
	}
}
