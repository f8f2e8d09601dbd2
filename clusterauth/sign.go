package clusterauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Headers that carry a request's signature and an answer's MAC.
const (
	HeaderNode      = "X-P2pglance-Node"      // sender's node id (informational: every node holds the key)
	HeaderTime      = "X-P2pglance-Time"      // sender's clock, Unix nanoseconds
	HeaderNonce     = "X-P2pglance-Nonce"     // 16 random bytes, hex
	HeaderBody      = "X-P2pglance-Body"      // hex SHA-256 of the body, or BodyChunk
	HeaderSignature = "X-P2pglance-Signature" // hex HMAC-SHA256 of the canonical request, one per key, comma-separated
	HeaderResponse  = "X-P2pglance-Response"  // hex HMAC-SHA256 of the canonical answer
)

// BodyChunk in HeaderBody marks a content-addressed chunk body: the
// receiver verifies it against the digest in the path instead.
const BodyChunk = "chunk"

// MaxKeys bounds the keys a Transport signs with and a Verifier
// accepts (the current secret's and one being rotated out fit), and so
// the signatures a request may carry.
const MaxKeys = 4

// MaxClockSkew is how far a request's time may be from the receiver's
// clock; requests outside the window are refused, and within it every
// nonce is accepted once.
const MaxClockSkew = 2 * time.Minute

// Protocol tells a Transport and a Verifier what of the protocol they
// carry needs more than the method, path, query and body: which bodies
// are content-addressed, and which request headers steer handlers and
// so are signed. The zero Protocol has no content-addressed bodies and
// signs no header beyond the authentication headers themselves.
type Protocol struct {
	// ContentAddressedRequest reports whether a request's body is
	// verified by the receiver against a digest in its (signed) path,
	// so the signature need not cover the body (BodyChunk).
	ContentAddressedRequest func(method, path string) bool
	// ContentAddressedResponse reports whether the answer to a request
	// is verified by the requester against the digest it asked for, so
	// the answer carries no MAC.
	ContentAddressedResponse func(method, path string) bool
	// SignedHeader reports whether a request header (canonical name)
	// is covered by the signature. The authentication headers never
	// are: they carry it.
	SignedHeader func(name string) bool
}

// contentAddressedRequest is p.ContentAddressedRequest, false if unset.
func (p Protocol) contentAddressedRequest(method, path string) bool {
	return p.ContentAddressedRequest != nil && p.ContentAddressedRequest(method, path)
}

// contentAddressedResponse is p.ContentAddressedResponse, false if unset.
func (p Protocol) contentAddressedResponse(method, path string) bool {
	return p.ContentAddressedResponse != nil && p.ContentAddressedResponse(method, path)
}

// Errors of signing and verification.
var (
	// ErrUnauthenticated is a request refused for its signature.
	ErrUnauthenticated = errors.New("cluster authentication failed")
	// ErrBadResponse is an answer whose MAC is missing or wrong.
	ErrBadResponse = errors.New("peer answer not authenticated")
)

// emptySHA256 is the hex SHA-256 of an empty body.
var emptySHA256 = bodyDigest(nil)

func bodyDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// requestMAC is the signature of a request's canonical form: method,
// path and query, sender, time, nonce, body digest, and the headers the
// protocol signs (see Protocol.SignedHeader).
func requestMAC(key []byte, p Protocol, method, uri, node string, ts int64, nonce, body string, h http.Header) []byte {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{"p2pglance-request-v1", method, uri, node, strconv.FormatInt(ts, 10), nonce, body} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	for _, s := range p.signedHeaders(h) {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}

// authHeaders are the headers the signature itself travels in.
var authHeaders = map[string]bool{HeaderNode: true, HeaderTime: true, HeaderNonce: true, HeaderBody: true, HeaderSignature: true, HeaderResponse: true}

// signedHeaders lists, sorted, "name: value" of every header of h the
// protocol signs that is not an authentication header.
func (p Protocol) signedHeaders(h http.Header) []string {
	if p.SignedHeader == nil {
		return nil
	}
	var out []string
	for name, vals := range h {
		if authHeaders[name] || !p.SignedHeader(name) {
			continue
		}
		for _, v := range vals {
			out = append(out, name+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

// responseMAC binds an answer (status and body digest) to the request it
// answers, by that request's signature.
func responseMAC(key []byte, reqSig string, status int, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{"p2pglance-response-v1", reqSig, strconv.Itoa(status), bodyDigest(body)} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}
