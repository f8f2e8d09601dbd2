package node

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// repairer gives images whose durable holders are lost new ones: on the
// leader, its pass (called by the leader loop) has surviving or new nodes
// copy each such image and records the new placement; on every node,
// replicateLocal is this node's part when the leader asks it to hold a
// copy. Its copies are bounded by the context of the pass.
type repairer struct{ repairerDeps }

// repairerDeps is what the repairer needs from the node, which wires it
// in New.
type repairerDeps struct {
	self        string
	log         *slog.Logger
	replicas    int           // durable copies of an image (Config.Replicas)
	repairGrace time.Duration // how long a holder may be gone before it is replaced (Config.RepairGrace)
	repairs     *atomic.Int64 // counts the images repaired (Metrics.Repairs)

	// placed files the replica's images by durable holder and short
	// placement (placedKeys); sync waits until the replica has applied
	// every committed write.
	placed placedIndex
	state  func() *raftfsm.State // the catalog replica, read-only
	sync   func(ctx context.Context) error
	// mutateImage applies fn to a fresh copy of an image and writes it
	// back, retrying on conflicts; fn returns errNoChange to write
	// nothing.
	mutateImage func(ctx context.Context, id string, fn func(*catalog.Image) error) (*catalog.Image, error)
	// isLeader reports whether this node leads the cluster.
	isLeader func() bool
	cluster  repairCluster
	// spread chooses up to k of cands for durable copies, spread over
	// the zones and racks of the holders used (spreadPick).
	spread func(k int, cands []gossip.Member, used []gossip.Meta) []gossip.Member
	// replicatePeer asks the node at peer address addr to hold a durable
	// copy of an image (its replicateLocal).
	replicatePeer func(ctx context.Context, addr, imageID string) error
	// fill makes this node hold a durable copy of every chunk of img,
	// fetching what it lacks from img's holders (verified) and protecting
	// every chunk until the new placement is committed.
	fill func(ctx context.Context, img *catalog.Image) error
}

func newRepairer(d repairerDeps) *repairer { return &repairer{d} }

// repairCluster is the membership and chunk availability the repairer
// reads and updates (nodeCluster: gossip and the trackers).
type repairCluster interface {
	Members() []gossip.Member
	AnnounceAll(imageID string, total int)
}

// placedIndex is the replica's images by durable holder (imageIndex
// with placedKeys).
type placedIndex interface {
	keyList() []string
	each(key string, fn func(*catalog.Image) bool)
}

// pass runs on the leader: for every image whose durable holders
// include a node gone (not alive in gossip) for RepairGrace, or whose
// data was committed on fewer than R nodes (ShortPlacement: nodes were
// down then) and is older than RepairGrace, it has surviving or new nodes
// copy the image until it has as many live holders as before (R for a
// short placement), spreading over zones, and records the new placement.
// goneSince tracks when each node was first seen gone.
func (r *repairer) pass(ctx context.Context, goneSince map[string]time.Time) {
	alive := map[string]gossip.Member{}
	for _, m := range r.cluster.Members() {
		if m.Alive {
			alive[m.Meta.ID] = m
			delete(goneSince, m.Meta.ID)
		}
	}
	// Only the images of gone holders and short placements are read:
	// with every holder alive a pass reads no image.
	var todo []*catalog.Image
	queued := map[string]bool{}
	r.placed.each(shortKey, func(img *catalog.Image) bool {
		if len(img.Placement) < min(r.replicas, len(alive)) && time.Since(img.UpdatedAt) >= r.repairGrace {
			// Placed with fewer than R copies (nodes were down then):
			// topped up now that enough nodes are alive.
			todo = append(todo, img)
			queued[img.ID] = true
		}
		return ctx.Err() == nil
	})
	for _, p := range r.placed.keyList() {
		if _, ok := alive[p]; ok || p == shortKey {
			continue
		}
		if _, seen := goneSince[p]; !seen {
			goneSince[p] = time.Now()
		}
		if time.Since(goneSince[p]) < r.repairGrace {
			continue
		}
		r.placed.each(p, func(img *catalog.Image) bool {
			if !queued[img.ID] {
				todo = append(todo, img)
				queued[img.ID] = true
			}
			return ctx.Err() == nil
		})
	}
	slices.SortFunc(todo, func(a, b *catalog.Image) int { return strings.Compare(a.ID, b.ID) })
	r.repairAll(ctx, todo, alive)
}

// repairParallel is how many images the leader repairs at once. A copy
// runs at the pace of its sources' upload caps, so several at once keep
// more of the surviving holders' uplinks busy.
const repairParallel = 4

// repairAll repairs images, up to repairParallel at once, and returns
// when every repair it started has ended. Each next image is the one
// whose live holders (the copy's sources) the repairs in flight use
// least, so the copies spread over the survivors' uplinks.
func (r *repairer) repairAll(ctx context.Context, todo []*catalog.Image, alive map[string]gossip.Member) {
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
		if ctx.Err() != nil || !r.isLeader() {
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
			added, err := r.repairImage(ctx, img, alive)
			if err != nil {
				r.log.Warn("repair failed; will retry", "image", img.ID, "err", err)
				return
			}
			r.repairs.Add(1)
			r.log.Info("repaired image placement", "image", img.ID, "added", added, "took", time.Since(start))
		}()
	}
}

// repairImage copies img to new holders and rewrites its placement to the
// live holders plus the new ones.
func (r *repairer) repairImage(ctx context.Context, img *catalog.Image, alive map[string]gossip.Member) ([]string, error) {
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
		target = max(target, r.replicas)
	}
	want := min(target, len(alive))
	var cands []gossip.Member
	for id, m := range alive {
		if !slices.Contains(live, id) {
			cands = append(cands, m)
		}
	}
	var added []string
	for _, m := range r.spread(want-len(live), cands, used) {
		if err := r.replicateTo(ctx, m, img.ID); err != nil {
			r.log.Warn("repair copy failed", "image", img.ID, "target", m.Meta.ID, "err", err)
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
	_, err := r.mutateImage(ctx, img.ID, func(cur *catalog.Image) error {
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
		short := cur.ShortPlacement && len(next) < r.replicas
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
func (r *repairer) replicateTo(ctx context.Context, m gossip.Member, imageID string) error {
	if m.Meta.ID == r.self {
		return r.replicateLocal(ctx, imageID)
	}
	return r.replicatePeer(ctx, m.Meta.PeerAddr, imageID)
}

// replicateLocal fetches every chunk of an image this node lacks (from
// peers, verified) and makes the store durable: this node's part of a
// repair (the leader asks through the peer API's Replicate).
func (r *repairer) replicateLocal(ctx context.Context, imageID string) error {
	img, err := r.state().Image(imageID)
	if err != nil || img.Manifest == nil {
		// This replica may not have applied the image's commit yet.
		if serr := r.sync(ctx); serr != nil {
			return serr
		}
		if img, err = r.state().Image(imageID); err != nil {
			return err
		}
	}
	if img.Manifest == nil {
		return fmt.Errorf("replicate %s: no data", imageID)
	}
	// Every chunk protected until the new placement is committed, so a
	// cache eviction here cannot undo the copy; then the missing ones
	// fetched (verified) FetchWindow at a time, spread over the holders.
	if err := r.fill(ctx, img); err != nil {
		return fmt.Errorf("replicate %s: %w", imageID, err)
	}
	r.cluster.AnnounceAll(imageID, len(img.Manifest.Chunks))
	return nil
}
