package clusterauth

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Reasons a request is refused, as passed to Verifier.OnReject.
const (
	RejectUnsigned = "unsigned"
	RejectSkew     = "clock skew"
	RejectBadSig   = "bad signature"
	RejectBody     = "body does not match its signed digest"
	RejectReplay   = "replayed"
)

// Verifier is HTTP middleware that lets through only requests signed by
// a Transport with one of its keys, at most once each, and MACs the
// answers to them with the key the request was signed with.
type Verifier struct {
	keys     [][]byte
	proto    Protocol
	now      func() time.Time
	onReject func(r *http.Request, reason string)
	seen     replayCache
}

// NewVerifier returns a Verifier that accepts requests signed with any
// of keys (Keys.Peer of the cluster secrets accepted: the current one,
// and one being rotated out) under the protocol p (as its Transports
// have it). onReject, if not nil, is called for every refused request
// (to count and log it).
func NewVerifier(keys [][]byte, p Protocol, onReject func(r *http.Request, reason string)) *Verifier {
	return &Verifier{keys: keys, proto: p, now: time.Now, onReject: onReject}
}

// Sender is the node id a request claims to come from (informational:
// every node holds the key).
func Sender(r *http.Request) string { return r.Header.Get(HeaderNode) }

// Wrap returns h behind the verifier.
func (v *Verifier) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, sig, reason := v.check(r)
		if reason != "" {
			if v.onReject != nil {
				v.onReject(r, reason)
			}
			http.Error(w, "cluster authentication failed: "+reason, http.StatusUnauthorized)
			return
		}
		if v.proto.contentAddressedResponse(r.Method, r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		bw := &bufferedWriter{header: w.Header(), status: http.StatusOK}
		h.ServeHTTP(bw, r)
		w.Header().Set(HeaderResponse, hex.EncodeToString(responseMAC(key, sig, bw.status, bw.body.Bytes())))
		w.Header().Set("Content-Length", strconv.Itoa(bw.body.Len()))
		w.WriteHeader(bw.status)
		_, _ = w.Write(bw.body.Bytes())
	})
}

// check verifies r's signature, body and freshness; it returns the key
// and the signature (of those r carries) that hold, or the reason r is
// refused. A verified body is buffered back into r.Body.
func (v *Verifier) check(r *http.Request) ([]byte, string, string) {
	h := r.Header
	node, tsText, nonceText, body, sigText := h.Get(HeaderNode), h.Get(HeaderTime), h.Get(HeaderNonce), h.Get(HeaderBody), h.Get(HeaderSignature)
	if tsText == "" || nonceText == "" || body == "" || sigText == "" {
		return nil, "", RejectUnsigned
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, "", RejectUnsigned
	}
	now := v.now()
	if d := now.Sub(time.Unix(0, ts)); d > MaxClockSkew || d < -MaxClockSkew {
		return nil, "", RejectSkew
	}
	var nonce [16]byte
	sigs := strings.Split(sigText, ",")
	if len(nonceText) != hex.EncodedLen(len(nonce)) || len(sigs) > MaxKeys {
		return nil, "", RejectBadSig
	}
	if _, err := hex.Decode(nonce[:], []byte(nonceText)); err != nil {
		return nil, "", RejectBadSig
	}
	key, sig := v.match(r, sigs, node, ts, nonceText, body)
	if key == nil {
		return nil, "", RejectBadSig
	}
	// The signature holds, so the headers are a peer's: now the body.
	if body == BodyChunk {
		if !v.proto.contentAddressedRequest(r.Method, r.URL.Path) {
			return nil, "", RejectBody
		}
	} else {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		if err != nil || len(b) > MaxBody || bodyDigest(b) != body {
			return nil, "", RejectBody
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	if v.seen.replayed(nonce, now) {
		return nil, "", RejectReplay
	}
	return key, sig, ""
}

// match returns the first of the verifier's keys that made one of sigs
// (hex) over r's canonical form, and that signature; nil if none did.
func (v *Verifier) match(r *http.Request, sigs []string, node string, ts int64, nonce, body string) ([]byte, string) {
	raw := make([][]byte, len(sigs))
	for i, s := range sigs {
		raw[i], _ = hex.DecodeString(s) // a bad one matches nothing
	}
	for _, k := range v.keys {
		want := requestMAC(k, v.proto, r.Method, r.URL.RequestURI(), node, ts, nonce, body, r.Header)
		for i, got := range raw {
			if hmac.Equal(got, want) {
				return k, sigs[i]
			}
		}
	}
	return nil, ""
}

// bufferedWriter holds an answer until its MAC is computed.
type bufferedWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// replayCache remembers the nonces of accepted requests for as long as
// their time stamps stay inside the skew window: two generations, each
// kept for 2*MaxClockSkew, so a nonce is remembered for at least that
// long — longer than a time stamp can stay acceptable.
type replayCache struct {
	mu        sync.Mutex
	cur, prev map[[16]byte]struct{}
	rotated   time.Time
}

// replayed records nonce and reports whether it was already recorded.
func (c *replayCache) replayed(nonce [16]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		c.cur, c.rotated = map[[16]byte]struct{}{}, now
	}
	if now.Sub(c.rotated) >= 2*MaxClockSkew {
		c.prev, c.cur, c.rotated = c.cur, map[[16]byte]struct{}{}, now
	}
	if _, ok := c.cur[nonce]; ok {
		return true
	}
	if _, ok := c.prev[nonce]; ok {
		return true
	}
	c.cur[nonce] = struct{}{}
	return false
}
