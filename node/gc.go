package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// orphanGrace protects chunks pushed for an upload whose saving status
// this node may not have applied yet.
const orphanGrace = 2 * time.Minute

// collector is the node's garbage collector: it deletes the local chunks
// no image references and no upload in progress needs, every interval
// and when kicked, then has the cache keep its cached chunks within the
// cache budget. Its loop is bounded by the context given to run (the
// node's Run context).
type collector struct {
	collectorDeps
	kicked chan struct{}

	mu sync.Mutex
	// quiet is what the last pass started from (applied index, chunks
	// stored since open), set when nothing was protected then: while
	// neither moves and nothing is protected, no chunk can have become
	// garbage and a pass would read the whole catalog for nothing.
	quiet struct {
		ok      bool
		applied uint64
		stored  int64
	}
}

// collectorDeps is what the collector needs from the node, which wires
// it in New.
type collectorDeps struct {
	log         *slog.Logger
	interval    time.Duration // between passes (Config.GCInterval)
	orphanGrace time.Duration // how long an upload's pushed chunks stay protected (Config.OrphanGrace)
	deleted     *atomic.Int64 // counts the chunks deleted (Metrics.GCDeleted)

	// state is the catalog replica, read-only.
	state func() *raftfsm.State
	// ready reports whether the replica has caught up once since start.
	ready func() bool
	// applied is the replica's applied index (raftfsm.FSM.AppliedIndex):
	// every change to the catalog moves it.
	applied  func() uint64
	chunks   collectorStore
	inflight collectorGuard
	// enforceBudget evicts cached chunks over the cache budget.
	enforceBudget func(ctx context.Context)
}

// collectorStore is the local chunk store as the collector uses it.
type collectorStore interface {
	List(ctx context.Context, fn func(d chunkstore.Digest, size int64) error) error
	Delete(ctx context.Context, ds ...chunkstore.Digest) error
	Reclaim(ctx context.Context) error
	Stats() chunkstore.Stats
}

// collectorGuard is the chunks uploads in progress protect (inflightSet).
type collectorGuard interface {
	retain(keep func(image string, touched time.Time) bool, live func(chunkstore.Digest))
	hold(fn func(protected map[chunkstore.Digest]bool))
	empty() bool
}

func newCollector(d collectorDeps) *collector {
	return &collector{collectorDeps: d, kicked: make(chan struct{}, 1)}
}

// kick asks the loop to run soon.
func (c *collector) kick() {
	select {
	case c.kicked <- struct{}{}:
	default:
	}
}

// run collects garbage every interval and when kicked, then keeps cached
// (non-durable) chunks within the cache budget, least recently used
// evicted first, until ctx ends.
func (c *collector) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kicked:
		}
		if _, err := c.collect(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("garbage collection failed", "err", err)
		}
		if c.ready() {
			c.enforceBudget(ctx)
		}
	}
}

// collect deletes every local chunk that no image references and no
// upload in progress needs, then gives the space back to the file
// system. It returns the number of chunks deleted.
//
// It does nothing until the node's replica has caught up with the leader
// after start: before that, a chunk of a committed image could look
// unreferenced. Nor when nothing changed since the last pass: garbage
// comes from a change to the catalog (a delete, a failed upload, a
// replaced manifest), a stored chunk or a protection running out.
func (c *collector) collect(ctx context.Context) (int, error) {
	if !c.ready() {
		return 0, nil
	}
	c.mu.Lock() // one pass at a time: the loop's and the cache API's
	defer c.mu.Unlock()
	applied, writes := c.applied(), c.chunks.Stats().Stored
	if c.quiet.ok && c.quiet.applied == applied && c.quiet.stored == writes && c.inflight.empty() {
		return 0, nil
	}
	c.quiet.ok = false
	quiet := c.inflight.empty()
	// The order matters: an upload protects a chunk before it stores
	// it, and commits its manifest before it unprotects. So the chunks
	// listed first either belong to an upload protected when the
	// protections are read, or to an image committed before the
	// catalog is read after them; the last check, under the
	// protections' lock, spares a chunk an upload began to store again
	// since.
	var stored []chunkstore.Digest
	err := c.chunks.List(ctx, func(d chunkstore.Digest, _ int64) error {
		stored = append(stored, d)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list chunks: %w", err)
	}
	live := map[chunkstore.Digest]struct{}{}
	before := c.state()
	c.inflight.retain(func(image string, touched time.Time) bool {
		img, err := before.Image(image)
		// Data still arriving stays protected however long its stream
		// stalls: an upload (saving), a stage, import or location pull
		// (a lock on the image). The uploader's status may not have
		// reached this node yet, so a recent push stays protected too
		// unless the image is gone for good.
		arriving := err == nil && (img.Status == catalog.StatusSaving || img.Status == catalog.StatusImporting || img.Upload != nil)
		return arriving || (!before.Tombstoned(image) && time.Since(touched) < c.orphanGrace)
	}, func(d chunkstore.Digest) { live[d] = struct{}{} })
	c.state().Each(func(img *catalog.Image) bool {
		for _, m := range []*catalog.Manifest{img.Manifest, img.Staging} {
			if m == nil {
				continue
			}
			for _, ref := range m.Chunks {
				if d, err := chunkstore.ParseDigest(ref.Digest); err == nil {
					live[d] = struct{}{}
				}
			}
		}
		return true
	})

	var dead []chunkstore.Digest
	for _, d := range stored {
		if _, ok := live[d]; !ok {
			dead = append(dead, d)
		}
	}
	if len(dead) == 0 {
		c.quiet.ok, c.quiet.applied, c.quiet.stored = quiet, applied, writes
		return 0, nil
	}
	c.inflight.hold(func(protected map[chunkstore.Digest]bool) {
		kept := dead[:0]
		for _, d := range dead {
			if !protected[d] {
				kept = append(kept, d)
			}
		}
		dead = kept
		if len(dead) > 0 {
			err = c.chunks.Delete(ctx, dead...)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("delete garbage chunks: %w", err)
	}
	c.quiet.ok, c.quiet.applied, c.quiet.stored = quiet, applied, writes
	if len(dead) == 0 {
		return 0, nil
	}
	c.deleted.Add(int64(len(dead)))
	if err := c.chunks.Reclaim(ctx); err != nil {
		return len(dead), fmt.Errorf("reclaim space: %w", err)
	}
	c.log.Info("collected garbage", "chunks", len(dead))
	return len(dead), nil
}
