package node

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// recoverImports runs until ctx ends. Once the replica has caught up,
// every node fails the imports and stages it owns but no longer runs (it
// restarted during them); the leader also fails those of nodes that gossip
// has seen dead for UploadGrace. Either way the image goes back to queued
// (copy-image: stays active) and its import lock is released.
func (n *Node) recoverImports(ctx context.Context) {
	for !n.ready.Load() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t := time.NewTicker(min(5*time.Second, n.cfg.UploadGrace/4))
	defer t.Stop()
	goneSince := map[string]time.Time{}
	for {
		leader := n.raft.State() == raft.Leader
		if !leader {
			clear(goneSince)
		}
		n.recoverStale(ctx, func(owner string) bool {
			if owner == n.id {
				return true
			}
			if !leader {
				return false
			}
			if m, ok := n.gossip.Member(owner); ok && m.Alive {
				delete(goneSince, owner)
				return false
			}
			if _, seen := goneSince[owner]; !seen {
				goneSince[owner] = time.Now()
			}
			return time.Since(goneSince[owner]) > n.cfg.UploadGrace
		})
		n.imports.settled.Store(true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recoverStale fails the unfinished tasks and stages whose owner node is
// stale(owner) and that this node is not running.
func (n *Node) recoverStale(ctx context.Context, stale func(owner string) bool) {
	st := n.fsm.State()
	for _, d := range st.Docs(catalog.TaskKind) {
		t, err := catalog.TaskFromDoc(d)
		if err != nil || t.Finished() || t.Runner == "" || n.imports.isActive(t.ID) || !stale(t.Runner) {
			continue
		}
		n.log.Warn("failing import whose node stopped running it", "task", t.ID, "image", t.Target, "runner", t.Runner)
		n.failImport(t.Target, t.ID, t.Method, fmt.Errorf("the import was interrupted: node %s stopped running it", t.Runner))
		if ctx.Err() != nil {
			return
		}
	}
	var stages, uploads []*catalog.Image
	st.Each(func(img *catalog.Image) bool {
		if img.Status == catalog.StatusUploading && img.Upload != nil && !n.imports.isActive(img.Upload.Session) && stale(img.Upload.Node) {
			stages = append(stages, img)
		}
		// An upload of this node that ended without requeuing its image
		// (no leader was reachable then, e.g. during a partition).
		if img.Status == catalog.StatusSaving && img.Upload != nil && img.Upload.Node == n.id && !n.imports.isActive(img.Upload.Session) {
			uploads = append(uploads, img)
		}
		return ctx.Err() == nil
	})
	for _, img := range uploads {
		n.log.Warn("requeuing image whose upload ended without requeuing it", "image", img.ID)
		n.abortUpload(img.ID, img.Upload.Session)
	}
	n.releaseStalePulls(ctx)
	for _, img := range stages {
		owner, session := img.Upload.Node, img.Upload.Session
		n.log.Warn("requeuing image whose stage was interrupted", "image", img.ID, "stager", owner)
		n.requeueStage(ctx, img.ID, func(cur *catalog.Image) bool { return stagedBy(cur, session) })
	}
}

// ImportsSettled reports whether the node has caught up with the catalog
// since it started and has run its first recovery pass over interrupted
// imports and stages (and, before it, over interrupted uploads): work
// started from then on is never mistaken for work left over from before
// a restart.
func (n *Node) ImportsSettled() bool { return n.imports.settled.Load() }
