package node

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
)

// UploadToStore implements api.Backend: an upload (X-Image-Meta-Store)
// whose durable copies include one on a node of the store's zone. The
// data is ingested as by Upload (R copies spread over zones); if none of
// them landed in the zone, a live node of the zone gets a copy before the
// image becomes active, and one copy outside the zone leaves the
// placement so the image keeps R durable copies (the copy it leaves stays
// on its node as cache). Any failure puts the image back to queued.
func (n *Node) UploadToStore(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64, store string) (*catalog.Image, error) {
	return n.uploadTo(ctx, img, r, sizeHint, store)
}

// placeInZone copies man (held by placement) to a live node of zone and
// returns the new placement: that node added and, past R copies, the last
// copy outside the zone removed.
func (n *Node) placeInZone(ctx context.Context, imageID string, man *catalog.Manifest, placement []string, zone string) ([]string, error) {
	target, err := n.copyToZone(ctx, imageID, man, placement, zone)
	if err != nil {
		return nil, fmt.Errorf("copy to store %s: %w", zone, err)
	}
	out := slices.Clone(placement)
	if len(out)+1 > n.replicaCount() {
		for i := len(out) - 1; i >= 0; i-- {
			if m, ok := n.gossip.Member(out[i]); !ok || m.Meta.Zone != zone {
				out = slices.Delete(out, i, i+1)
				break
			}
		}
	}
	return append(out, target), nil
}
