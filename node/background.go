package node

import (
	"context"

	"github.com/p2pglance/p2pglance/catalog"
)

// watchChanges reacts to applied catalog changes: a node in an image's
// placement announces its copies when the image becomes active; a deleted
// image is withdrawn (its trackers told) and its chunks collected.
func (n *Node) watchChanges(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.changes.signal:
		}
		gc := false
		for _, c := range n.changes.drain() {
			switch {
			case c.DocKind == kindPrefetch:
				// A job started, finished or cancelled: act now, not on
				// the next tick.
				n.prefetcher.kick()
			case c.DocKind != "":
			case c.Image == nil:
				n.tracker.Withdraw(c.ID)
				gc = true
			case c.Image.Status == catalog.StatusActive && (c.Prev == nil || c.Prev.Status != catalog.StatusActive):
				n.holdings.announce(ctx, c.Image)
			case c.Image.Status == catalog.StatusQueued && c.Prev != nil && c.Prev.Status != catalog.StatusQueued:
				// A failed upload, stage or import (refused data
				// included) left orphans; the chunks pushed here for it
				// need no protection any more.
				n.unprotect(c.ID)
				gc = true
			}
		}
		if gc {
			n.kickGC()
		}
	}
}
