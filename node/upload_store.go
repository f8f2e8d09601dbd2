package node

import (
	"context"
	"io"

	"github.com/p2pglance/p2pglance/catalog"
)

// UploadToStore implements api.Backend: an upload (X-Image-Meta-Store)
// whose durable copies include one on a node of the store's zone. The
// data is ingested as by Upload (R copies spread over zones); if none of
// them landed in the zone, a live node of the zone gets a copy before the
// image becomes active, and one copy outside the zone leaves the
// placement so the image keeps R durable copies (the copy it leaves stays
// on its node as cache; transfer.Transfer.PlaceInZone). Any failure puts
// the image back to queued.
func (n *Node) UploadToStore(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64, store string) (*catalog.Image, error) {
	return n.uploadTo(ctx, img, r, sizeHint, store)
}
