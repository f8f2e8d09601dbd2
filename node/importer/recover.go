package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// recoverLoop runs until ctx ends. Once the replica has caught up, every
// node fails the imports and stages it owns but no longer runs (it
// restarted during them); the leader also fails those of nodes that
// gossip has seen dead for UploadGrace. Either way the image goes back
// to queued (copy-image: stays active) and its import lock is released.
func (im *Importer) recoverLoop(ctx context.Context) {
	for !im.cat.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t := time.NewTicker(min(5*time.Second, im.cfg.UploadGrace/4))
	defer t.Stop()
	goneSince := map[string]time.Time{}
	self := im.cluster.Self()
	for {
		leader := im.cluster.IsLeader()
		if !leader {
			clear(goneSince)
		}
		im.recoverStale(ctx, func(owner string) bool {
			if owner == self {
				return true
			}
			if !leader {
				return false
			}
			if im.cluster.Alive(owner) {
				delete(goneSince, owner)
				return false
			}
			if _, seen := goneSince[owner]; !seen {
				goneSince[owner] = time.Now()
			}
			return time.Since(goneSince[owner]) > im.cfg.UploadGrace
		})
		im.settled.Store(true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recoverStale fails the unfinished tasks and stages whose owner node is
// stale(owner) and that this node is not running.
func (im *Importer) recoverStale(ctx context.Context, stale func(owner string) bool) {
	for _, d := range im.cat.Docs(catalog.TaskKind) {
		t, err := catalog.TaskFromDoc(d)
		if err != nil || t.Finished() || t.Runner == "" || im.isActive(t.ID) || !stale(t.Runner) {
			continue
		}
		im.log.Warn("failing import whose node stopped running it", "task", t.ID, "image", t.Target, "runner", t.Runner)
		im.failImport(t.Target, t.ID, t.Method, fmt.Errorf("the import was interrupted: node %s stopped running it", t.Runner))
		if ctx.Err() != nil {
			return
		}
	}
	self := im.cluster.Self()
	var stages, uploads []*catalog.Image
	im.cat.EachLocked(func(img *catalog.Image) bool {
		if img.Status == catalog.StatusUploading && img.Upload != nil && !im.isActive(img.Upload.Session) && stale(img.Upload.Node) {
			stages = append(stages, img)
		}
		// An upload of this node that ended without requeuing its image
		// (no leader was reachable then, e.g. during a partition).
		if img.Status == catalog.StatusSaving && img.Upload != nil && img.Upload.Node == self && !im.isActive(img.Upload.Session) {
			uploads = append(uploads, img)
		}
		return ctx.Err() == nil
	})
	for _, img := range uploads {
		im.log.Warn("requeuing image whose upload ended without requeuing it", "image", img.ID)
		im.data.AbortUpload(img.ID, img.Upload.Session)
	}
	im.releaseStalePulls(ctx)
	for _, img := range stages {
		owner, session := img.Upload.Node, img.Upload.Session
		im.log.Warn("requeuing image whose stage was interrupted", "image", img.ID, "stager", owner)
		im.requeueStage(ctx, img.ID, func(cur *catalog.Image) bool { return stagedBy(cur, session) })
	}
}
