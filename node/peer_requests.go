package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"unicode"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
)

// Request caps of the API and peer servers.
const (
	// maxHeaderBytes caps a request's header block (431 above it).
	maxHeaderBytes = 64 << 10

	// Body caps of the peer API's JSON requests.
	maxJoinBody      = 64 << 10
	maxReplicateBody = 4 << 10
	// maxMissingBody fits the digests of a 1 TiB image (262,144 chunks
	// of 4 MiB, about 70 bytes each as JSON) with room to spare.
	maxMissingBody = 64 << 20
)

// errBadPeerRequest is wrapped by every refusal of a peer request body.
var errBadPeerRequest = errors.New("bad peer request")

// decodePeerJSON decodes one JSON value of at most limit bytes from r
// into v: a longer body, or anything after the value, is refused.
func decodePeerJSON(r io.Reader, limit int64, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, limit+1))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errBadPeerRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value (or over %d bytes)", errBadPeerRequest, limit)
	}
	return nil
}

// validNodeID accepts what gossip carries as a node id: 1 to
// gossip.MaxNodeIDLen bytes of printable, non-space characters.
func validNodeID(id string) bool {
	if id == "" || len(id) > gossip.MaxNodeIDLen {
		return false
	}
	for _, r := range id {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// validHostPort accepts host:port with a port from 1 to 65535.
func validHostPort(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || len(addr) > 512 {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p > 0 && p <= 65535
}

// parseJoinRequest decodes and checks the body of POST
// /internal/v1/join: a node id and a Raft address are required (Raft
// would otherwise take any string as a voter's address and lose quorum
// dialing it), the gossip address is optional.
func parseJoinRequest(r io.Reader) (joinRequest, error) {
	var req joinRequest
	if err := decodePeerJSON(r, maxJoinBody, &req); err != nil {
		return req, err
	}
	switch {
	case !validNodeID(req.ID):
		return req, fmt.Errorf("%w: node id %q", errBadPeerRequest, req.ID)
	case !validHostPort(req.RaftAddr):
		return req, fmt.Errorf("%w: raft address %q", errBadPeerRequest, req.RaftAddr)
	case req.GossipAddr != "" && !validHostPort(req.GossipAddr):
		return req, fmt.Errorf("%w: gossip address %q", errBadPeerRequest, req.GossipAddr)
	}
	return req, nil
}

// parseMissingRequest decodes and checks the body of POST
// /internal/v1/missing: every digest must parse.
func parseMissingRequest(r io.Reader) (missingRequest, []chunkstore.Digest, error) {
	var req missingRequest
	if err := decodePeerJSON(r, maxMissingBody, &req); err != nil {
		return req, nil, err
	}
	if len(req.Image) > gossip.MaxImageIDLen {
		return req, nil, fmt.Errorf("%w: image id of %d bytes", errBadPeerRequest, len(req.Image))
	}
	ds := make([]chunkstore.Digest, len(req.Digests))
	for i, s := range req.Digests {
		d, err := chunkstore.ParseDigest(s)
		if err != nil {
			return req, nil, fmt.Errorf("%w: %w", errBadPeerRequest, err)
		}
		ds[i] = d
	}
	return req, ds, nil
}

// replicateRequest asks a node to become a durable holder of an image.
type replicateRequest struct {
	ImageID string `json:"image_id"`
}

// parseReplicateRequest decodes and checks the body of POST
// /internal/v1/replicate.
func parseReplicateRequest(r io.Reader) (replicateRequest, error) {
	var req replicateRequest
	if err := decodePeerJSON(r, maxReplicateBody, &req); err != nil {
		return req, err
	}
	if req.ImageID == "" || len(req.ImageID) > gossip.MaxImageIDLen {
		return req, fmt.Errorf("%w: image id %q", errBadPeerRequest, req.ImageID)
	}
	return req, nil
}
