package node

import (
	"fmt"
	"unicode"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/peer"
)

// maxHeaderBytes caps a request's header block on the API and peer
// servers (431 above it). The peer API's body caps are package peer's.
const maxHeaderBytes = 64 << 10

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

// validImageID accepts an image id a holder can announce.
func validImageID(id string) bool { return id != "" && len(id) <= peer.MaxImageIDLen }

// checkMissing checks a missing request beyond what package peer
// decodes: the image id (optional) must fit an announcement and every
// digest must parse. It returns the parsed digests.
func checkMissing(req peer.MissingRequest) ([]chunkstore.Digest, error) {
	if req.Image != "" && !validImageID(req.Image) {
		return nil, fmt.Errorf("%w: image id of %d bytes", peer.ErrBadRequest, len(req.Image))
	}
	ds := make([]chunkstore.Digest, len(req.Digests))
	for i, s := range req.Digests {
		d, err := chunkstore.ParseDigest(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", peer.ErrBadRequest, err)
		}
		ds[i] = d
	}
	return ds, nil
}
