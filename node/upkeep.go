package node

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/metadefs"
)

// upkeep is the node's start-up catch-up and the leader's periodic
// duties: once the replica has caught up after a start, it marks the
// node ready, requeues the uploads this node left unfinished, announces
// its holdings and seeds the default metadefs; on the leader it runs the
// repair pass and requeues uploads whose uploader is gone.
type upkeep struct {
	self    string
	started time.Time // when the node started: older uploads of self are stale
	// uploadGrace and repairGrace: how long an uploader, or a durable
	// holder, may be gone before its work is taken over.
	uploadGrace, repairGrace time.Duration

	replica *replica
	// eachLocked visits the images holding an upload lock
	// (imageIndex lockedKey): the leader's loop looks at those every few
	// seconds, never at the whole catalog.
	eachLocked func(fn func(*catalog.Image) bool)
	gossip     *gossip.Gossip
	ready      *atomic.Bool // set once the replica has caught up since start
	log        *slog.Logger

	kickGC      func()
	announceAll func(context.Context)
	repair      func(ctx context.Context, holderGone map[string]time.Time)
}

// recoverUploads runs once the node has caught up with the log: images
// left in saving by this node (it restarted mid-upload) go back to
// queued; then the node announces what it holds.
func (u *upkeep) recoverUploads(ctx context.Context) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := u.replica.Sync(sctx)
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
	u.ready.Store(true)
	u.kickGC()
	var mine []string
	u.eachLocked(func(img *catalog.Image) bool {
		// Only uploads from before this start: the API already serves, so
		// a newer one may be in flight here.
		if img.Status == catalog.StatusSaving && img.Upload != nil && img.Upload.Node == u.self && img.Upload.Started.Before(u.started) {
			mine = append(mine, img.ID)
		}
		return true
	})
	for _, id := range mine {
		u.requeueStale(ctx, id, u.self)
	}
	u.announceAll(ctx)
	u.seedCatalog(ctx)
}

// seedCatalog writes the default catalog content (the metadefs resource
// types and namespaces) once per cluster; any node may do it, the seed is
// idempotent. It retries until it succeeds or the node stops.
func (u *upkeep) seedCatalog(ctx context.Context) {
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		err := metadefs.Seed(ctx, u.replica)
		if err == nil || ctx.Err() != nil {
			return
		}
		u.log.Debug("seeding metadefs failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// requeueStale returns an image to queued if its upload is still owned by
// node.
func (u *upkeep) requeueStale(ctx context.Context, id, node string) {
	_, err := u.replica.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if cur.Status != catalog.StatusSaving || cur.Upload == nil || cur.Upload.Node != node {
			return errNoChange
		}
		cur.Requeue(time.Now().UTC())
		return nil
	})
	if err == nil {
		u.log.Info("requeued image whose upload was interrupted", "image", id, "uploader", node)
	} else if !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		u.log.Warn("could not requeue interrupted upload", "image", id, "err", err)
	}
}

// leaderLoop does the leader's periodic duties: images whose durable
// holders are gone get new ones (repairer.pass), and images whose uploader
// is gone (dead in gossip for UploadGrace) go back to queued.
func (u *upkeep) leaderLoop(ctx context.Context) {
	t := time.NewTicker(min(5*time.Second, u.uploadGrace/4, u.repairGrace/4))
	defer t.Stop()
	goneSince := map[string]time.Time{}
	holderGone := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !u.replica.IsLeader() {
			clear(goneSince)
			clear(holderGone)
			continue
		}
		u.repair(ctx, holderGone)
		var stale [][2]string
		u.eachLocked(func(img *catalog.Image) bool {
			if img.Status != catalog.StatusSaving || img.Upload == nil {
				return true
			}
			up := img.Upload.Node
			if m, ok := u.gossip.Member(up); ok && m.Alive {
				delete(goneSince, up)
				return true
			}
			if _, seen := goneSince[up]; !seen {
				goneSince[up] = time.Now()
			}
			if time.Since(goneSince[up]) > u.uploadGrace {
				stale = append(stale, [2]string{img.ID, up})
			}
			return true
		})
		for _, s := range stale {
			u.requeueStale(ctx, s[0], s[1])
		}
	}
}
