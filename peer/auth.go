package peer

import (
	"net/http"
	"strings"

	"github.com/p2pglance/p2pglance/clusterauth"
)

// authProtocol is what the cluster secret protects of the internal API
// beyond method, path, query and body: a chunk PUT's body and a chunk
// GET's answer are content-addressed (the receiver re-hashes them
// against the digest in the signed path), so they are not hashed again;
// so is a checkpoint's answer (verified against the digest that a signed
// log answer certified); every X-P2pglance-* header of a request steers a
// handler, so it is signed.
var authProtocol = clusterauth.Protocol{
	ContentAddressedRequest: func(method, path string) bool {
		return method == http.MethodPut && strings.HasPrefix(path, PathChunks)
	},
	ContentAddressedResponse: func(method, path string) bool {
		return method == http.MethodGet && (strings.HasPrefix(path, PathChunks) || strings.HasPrefix(path, PathCheckpoints))
	},
	SignedHeader: func(name string) bool { return strings.HasPrefix(name, headerPrefix) },
}

// SignTransport returns a RoundTripper that signs every request to the
// internal API with keys (clusterauth.Keys.Peer of the current secret,
// then of one being rotated out, if any) as node nodeID, sends it
// through next (nil: http.DefaultTransport) and verifies the answer's
// MAC (a chunk's answer is verified by its digest instead).
func SignTransport(keys [][]byte, nodeID string, next http.RoundTripper) *clusterauth.Transport {
	return &clusterauth.Transport{Keys: keys, NodeID: nodeID, Next: next, Protocol: authProtocol}
}

// Guard puts h behind the cluster secret: a request not signed with one
// of keys (by a SignTransport) is refused with 401 before h runs, and
// onReject (if not nil) is told why.
func Guard(keys [][]byte, onReject func(r *http.Request, reason string), h http.Handler) http.Handler {
	return clusterauth.NewVerifier(keys, authProtocol, onReject).Wrap(h)
}
