package node

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/metadefs"
)

// watchChanges reacts to applied catalog changes: a node in an image's
// placement announces its copies when the image becomes active; a deleted
// image is withdrawn from gossip and its chunks collected.
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
				n.gossip.Withdraw(c.ID)
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

// recoverUploads runs once the node has caught up with the log: images
// left in saving by this node (it restarted mid-upload) go back to
// queued; then the node announces what it holds.
func (n *Node) recoverUploads(ctx context.Context) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := n.replica.Sync(sctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	n.ready.Store(true)
	n.kickGC()
	var mine []string
	n.fsm.State().Each(func(img *catalog.Image) bool {
		// Only uploads from before this start: the API already serves, so
		// a newer one may be in flight here.
		if img.Status == catalog.StatusSaving && img.Upload != nil && img.Upload.Node == n.id && img.Upload.Started.Before(n.started) {
			mine = append(mine, img.ID)
		}
		return true
	})
	for _, id := range mine {
		n.requeueStale(ctx, id, n.id)
	}
	n.holdings.announceAll(ctx)
	n.seedCatalog(ctx)
}

// seedCatalog writes the default catalog content (the metadefs resource
// types and namespaces) once per cluster; any node may do it, the seed is
// idempotent. It retries until it succeeds or the node stops.
func (n *Node) seedCatalog(ctx context.Context) {
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		err := metadefs.Seed(ctx, n.replica)
		if err == nil || ctx.Err() != nil {
			return
		}
		n.log.Debug("seeding metadefs failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// requeueStale returns an image to queued if its upload is still owned by
// node.
func (n *Node) requeueStale(ctx context.Context, id, node string) {
	_, err := n.replica.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if cur.Status != catalog.StatusSaving || cur.Upload == nil || cur.Upload.Node != node {
			return errNoChange
		}
		cur.Requeue(time.Now().UTC())
		return nil
	})
	if err == nil {
		n.log.Info("requeued image whose upload was interrupted", "image", id, "uploader", node)
	} else if !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Warn("could not requeue interrupted upload", "image", id, "err", err)
	}
}

// leaderLoop does the leader's periodic duties: images whose durable
// holders are gone get new ones (repairer.pass), and images whose uploader
// is gone (dead in gossip for UploadGrace) go back to queued.
func (n *Node) leaderLoop(ctx context.Context) {
	t := time.NewTicker(min(5*time.Second, n.cfg.UploadGrace/4, n.cfg.RepairGrace/4))
	defer t.Stop()
	goneSince := map[string]time.Time{}
	holderGone := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.raft.State() != raft.Leader {
			clear(goneSince)
			clear(holderGone)
			continue
		}
		n.repairer.pass(ctx, holderGone)
		var stale [][2]string
		n.fsm.State().Each(func(img *catalog.Image) bool {
			if img.Status != catalog.StatusSaving || img.Upload == nil {
				return true
			}
			up := img.Upload.Node
			if m, ok := n.gossip.Member(up); ok && m.Alive {
				delete(goneSince, up)
				return true
			}
			if _, seen := goneSince[up]; !seen {
				goneSince[up] = time.Now()
			}
			if time.Since(goneSince[up]) > n.cfg.UploadGrace {
				stale = append(stale, [2]string{img.ID, up})
			}
			return true
		})
		for _, s := range stale {
			n.requeueStale(ctx, s[0], s[1])
		}
	}
}
