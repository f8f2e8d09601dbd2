package node

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
)

// repairPass runs on the leader: for every image whose durable holders
// include a node gone (not alive in gossip) for RepairGrace, or whose
// data was committed on fewer than R nodes (ShortPlacement: nodes were
// down then) and is older than RepairGrace, it has surviving or new nodes
// copy the image until it has as many live holders as before (R for a
// short placement), spreading over zones, and records the new placement. goneSince tracks when each node was first seen gone.
func (n *Node) repairPass(ctx context.Context, goneSince map[string]time.Time) {
	alive := map[string]gossip.Member{}
	for _, m := range n.gossip.Members() {
		if m.Alive {
			alive[m.Meta.ID] = m
			delete(goneSince, m.Meta.ID)
		}
	}
	var todo []*catalog.Image
	n.fsm.State().Each(func(img *catalog.Image) bool {
		if img.Manifest == nil || len(img.Manifest.Chunks) == 0 {
			return true
		}
		if img.ShortPlacement && len(img.Placement) < min(n.cfg.Replicas, len(alive)) && time.Since(img.UpdatedAt) >= n.cfg.RepairGrace {
			// Placed with fewer than R copies (nodes were down then):
			// topped up now that enough nodes are alive.
			todo = append(todo, img)
			return true
		}
		for _, p := range img.Placement {
			if _, ok := alive[p]; ok {
				continue
			}
			if _, seen := goneSince[p]; !seen {
				goneSince[p] = time.Now()
			}
			if time.Since(goneSince[p]) >= n.cfg.RepairGrace {
				todo = append(todo, img)
				break
			}
		}
		return ctx.Err() == nil
	})
	n.repairAll(ctx, todo, alive)
}

// repairParallel is how many images the leader repairs at once. A copy
// runs at the pace of its sources' upload caps, so several at once keep
// more of the surviving holders' uplinks busy.
const repairParallel = 4

// repairAll repairs images, up to repairParallel at once, and returns
// when every repair it started has ended. Each next image is the one
// whose live holders (the copy's sources) the repairs in flight use
// least, so the copies spread over the survivors' uplinks.
func (n *Node) repairAll(ctx context.Context, todo []*catalog.Image, alive map[string]gossip.Member) {
	var (
		mu   sync.Mutex
		busy = map[string]int{} // live holder -> repairs in flight reading from it
		wg   sync.WaitGroup
		sem  = make(chan struct{}, repairParallel)
	)
	sources := func(img *catalog.Image) []string {
		var out []string
		for _, p := range img.Placement {
			if _, ok := alive[p]; ok {
				out = append(out, p)
			}
		}
		return out
	}
	defer wg.Wait()
	for len(todo) > 0 {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil || !n.IsLeader() {
			<-sem
			return
		}
		mu.Lock()
		best, bestLoad := 0, -1
		for i, img := range todo {
			load := 0
			for _, p := range sources(img) {
				load += busy[p]
			}
			if bestLoad < 0 || load < bestLoad {
				best, bestLoad = i, load
			}
		}
		img := todo[best]
		todo = slices.Delete(todo, best, best+1)
		src := sources(img)
		for _, p := range src {
			busy[p]++
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				for _, p := range src {
					busy[p]--
				}
				mu.Unlock()
				<-sem
			}()
			start := time.Now()
			added, err := n.repairImage(ctx, img, alive)
			if err != nil {
				n.log.Warn("repair failed; will retry", "image", img.ID, "err", err)
				return
			}
			n.metrics.repairs.Add(1)
			n.log.Info("repaired image placement", "image", img.ID, "added", added, "took", time.Since(start))
		}()
	}
}

// repairImage copies img to new holders and rewrites its placement to the
// live holders plus the new ones.
func (n *Node) repairImage(ctx context.Context, img *catalog.Image, alive map[string]gossip.Member) ([]string, error) {
	var live []string
	var used []gossip.Meta
	for _, p := range img.Placement {
		if m, ok := alive[p]; ok {
			live = append(live, p)
			used = append(used, m.Meta)
		}
	}
	// Back to as many holders as the placement had (a store delete may
	// have left fewer than R on purpose; copy-image may have added more),
	// or to R for a placement committed short.
	target := len(img.Placement)
	if img.ShortPlacement {
		target = max(target, n.cfg.Replicas)
	}
	want := min(target, len(alive))
	var cands []gossip.Member
	for id, m := range alive {
		if !slices.Contains(live, id) {
			cands = append(cands, m)
		}
	}
	var added []string
	for _, m := range spreadPick(want-len(live), cands, used) {
		if err := n.replicateTo(ctx, m, img.ID); err != nil {
			n.log.Warn("repair copy failed", "image", img.ID, "target", m.Meta.ID, "err", err)
			continue
		}
		added = append(added, m.Meta.ID)
	}
	if len(live)+len(added) == 0 {
		return nil, fmt.Errorf("repair %s: no holder left and no copy made", img.ID)
	}
	// Only the holders this pass found gone leave the placement: one
	// added meanwhile (a copy-image to a zone) stays.
	var gone []string
	for _, p := range img.Placement {
		if !slices.Contains(live, p) {
			gone = append(gone, p)
		}
	}
	_, err := n.mutateImage(ctx, img.ID, func(cur *catalog.Image) error {
		var next []string
		for _, p := range cur.Placement {
			if !slices.Contains(gone, p) {
				next = append(next, p)
			}
		}
		for _, a := range added {
			if !slices.Contains(next, a) {
				next = append(next, a)
			}
		}
		short := cur.ShortPlacement && len(next) < n.cfg.Replicas
		if slices.Equal(next, cur.Placement) && short == cur.ShortPlacement {
			return errNoChange
		}
		cur.Placement, cur.ShortPlacement = next, short
		return nil
	})
	if err != nil && err != errNoChange {
		return nil, err
	}
	return added, nil
}

// replicateTo makes node m hold every chunk of an image durably.
func (n *Node) replicateTo(ctx context.Context, m gossip.Member, imageID string) error {
	if m.Meta.ID == n.id {
		return n.replicateLocal(ctx, imageID)
	}
	return n.peerClient.Replicate(ctx, m.Meta.PeerAddr, imageID)
}

// replicateLocal fetches every chunk of an image this node lacks (from
// peers, verified) and makes the store durable.
func (n *Node) replicateLocal(ctx context.Context, imageID string) error {
	img, err := n.fsm.State().Image(imageID)
	if err != nil || img.Manifest == nil {
		// This replica may not have applied the image's commit yet.
		if serr := n.Sync(ctx); serr != nil {
			return serr
		}
		if img, err = n.fsm.State().Image(imageID); err != nil {
			return err
		}
	}
	if img.Manifest == nil {
		return fmt.Errorf("replicate %s: no data", imageID)
	}
	// Every chunk protected until the new placement is committed, so a
	// cache eviction here cannot undo the copy; then the missing ones
	// fetched (verified) FetchWindow at a time, spread over the holders.
	if err := n.fillReplica(ctx, localReplica{n}, imageID, img.Manifest, n.holderSource(img), n.cfg.FetchWindow); err != nil {
		return fmt.Errorf("replicate %s: %w", imageID, err)
	}
	n.gossip.AnnounceAll(imageID, len(img.Manifest.Chunks))
	return nil
}
