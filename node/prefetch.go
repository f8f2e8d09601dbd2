package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/importer"
)

var _ api.Prefetcher = (*Node)(nil)

// kindPrefetch is the catalog document kind of pre-seeding jobs.
const kindPrefetch = "prefetch"

// prefetchDoc is a job as the catalog stores it: the job, and the final
// result of every node that finished its part.
type prefetchDoc struct {
	catalog.PrefetchJob
	Results map[string]catalog.PrefetchNode `json:"results,omitempty"`
}

func decodePrefetch(d *catalog.Doc) (*prefetchDoc, error) {
	var pd prefetchDoc
	if err := json.Unmarshal(d.Body, &pd); err != nil {
		return nil, fmt.Errorf("decode prefetch job %s: %w", d.ID, err)
	}
	return &pd, nil
}

// prefetchRun is this node's work on one job.
type prefetchRun struct {
	cancel      context.CancelFunc
	chunksDone  atomic.Int64
	bytesDone   atomic.Int64
	chunksTotal int
	bytesTotal  int64
}

// matches reports whether a node is a target of t.
func matches(t catalog.PrefetchTarget, m gossip.Meta) bool {
	if t.All {
		return true
	}
	if t.Zone != "" && m.Zone != t.Zone {
		return false
	}
	if t.Rack != "" && m.Rack != t.Rack {
		return false
	}
	for k, v := range t.Labels {
		if m.Labels[k] != v {
			return false
		}
	}
	return true
}

// StartPrefetch implements api.Prefetcher.
func (n *Node) StartPrefetch(ctx context.Context, imageID string, target catalog.PrefetchTarget) (*catalog.PrefetchJob, error) {
	now := time.Now().UTC()
	pd := &prefetchDoc{PrefetchJob: catalog.PrefetchJob{
		ID: uuid.NewString(), ImageID: imageID, Target: target, State: catalog.PrefetchRunning, CreatedAt: now, UpdatedAt: now,
	}}
	body, err := json.Marshal(pd)
	if err != nil {
		return nil, fmt.Errorf("encode prefetch job: %w", err)
	}
	if _, err := n.PutDoc(ctx, &catalog.Doc{Kind: kindPrefetch, ID: pd.ID, Body: body, CreatedAt: now, UpdatedAt: now}, true, 0); err != nil {
		return nil, err
	}
	n.kickPrefetch()
	return n.jobView(pd, nil), nil
}

// Prefetches implements api.Prefetcher.
func (n *Node) Prefetches(_ context.Context) ([]*catalog.PrefetchJob, error) {
	var out []*catalog.PrefetchJob
	for _, d := range n.fsm.State().Docs(kindPrefetch) {
		pd, err := decodePrefetch(d)
		if err != nil {
			return nil, err
		}
		out = append(out, n.jobView(pd, nil))
	}
	slices.SortFunc(out, func(a, b *catalog.PrefetchJob) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Prefetch implements api.Prefetcher: the job with every target node's
// live progress, asked from the nodes themselves.
func (n *Node) Prefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error) {
	d, err := n.fsm.State().Doc(kindPrefetch, id)
	if errors.Is(err, catalog.ErrNotFound) {
		if serr := n.Sync(ctx); serr == nil {
			d, err = n.fsm.State().Doc(kindPrefetch, id)
		}
	}
	if err != nil {
		return nil, err
	}
	pd, err := decodePrefetch(d)
	if err != nil {
		return nil, err
	}
	live := map[string]catalog.PrefetchNode{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, m := range n.targets(pd) {
		if _, final := pd.Results[m.Meta.ID]; final {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := n.progressOf(ctx, m, id)
			if err != nil {
				p = catalog.PrefetchNode{ID: m.Meta.ID, State: "unknown", Error: err.Error()}
			}
			mu.Lock()
			live[m.Meta.ID] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	return n.jobView(pd, live), nil
}

// progressOf asks node m (or this node) how far it is with job id.
func (n *Node) progressOf(ctx context.Context, m gossip.Member, id string) (catalog.PrefetchNode, error) {
	if m.Meta.ID == n.id {
		return n.localProgress(id), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := n.peerClient.PrefetchProgress(ctx, m.Meta.PeerAddr, id)
	if err != nil {
		return catalog.PrefetchNode{}, fmt.Errorf("ask %s: %w", m.Meta.ID, err)
	}
	return catalog.PrefetchNode(p), nil
}

// localProgress is this node's progress on a job.
func (n *Node) localProgress(id string) catalog.PrefetchNode {
	n.prefetchMu.Lock()
	run := n.prefetchRuns[id]
	n.prefetchMu.Unlock()
	if run == nil {
		return catalog.PrefetchNode{ID: n.id, State: "pending"}
	}
	return catalog.PrefetchNode{
		ID: n.id, State: "running",
		ChunksDone: int(run.chunksDone.Load()), ChunksTotal: run.chunksTotal,
		BytesDone: run.bytesDone.Load(), BytesTotal: run.bytesTotal,
	}
}

// targets lists the live members a job targets, plus every node that
// already reported a result.
func (n *Node) targets(pd *prefetchDoc) []gossip.Member {
	var out []gossip.Member
	for _, m := range n.gossip.Members() {
		_, reported := pd.Results[m.Meta.ID]
		if (m.Alive && matches(pd.Target, m.Meta)) || reported {
			out = append(out, m)
		}
	}
	return out
}

// jobView builds the API view: per-node entries from final results, live
// progress, or pending; the job state from those.
func (n *Node) jobView(pd *prefetchDoc, live map[string]catalog.PrefetchNode) *catalog.PrefetchJob {
	job := pd.PrefetchJob
	job.Nodes = []catalog.PrefetchNode{}
	finished, failed := 0, 0
	targets := n.targets(pd)
	for _, m := range targets {
		p, final := pd.Results[m.Meta.ID]
		if !final {
			p = live[m.Meta.ID]
			if p.ID == "" {
				p = catalog.PrefetchNode{ID: m.Meta.ID, State: "pending"}
			}
			if job.State == catalog.PrefetchCancelled {
				p.State = catalog.PrefetchCancelled
			}
		} else {
			finished++
			if p.State == catalog.PrefetchFailed {
				failed++
			}
		}
		job.Nodes = append(job.Nodes, p)
	}
	if job.State == catalog.PrefetchRunning && finished == len(targets) && len(targets) > 0 {
		job.State = catalog.PrefetchDone
		if failed > 0 {
			job.State = catalog.PrefetchFailed
		}
	}
	return &job
}

// CancelPrefetch implements api.Prefetcher.
func (n *Node) CancelPrefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error) {
	pd, err := n.mutatePrefetch(ctx, id, func(pd *prefetchDoc) error {
		pd.State = catalog.PrefetchCancelled
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.kickPrefetch()
	return n.jobView(pd, nil), nil
}

// mutatePrefetch applies fn to a fresh copy of a job and writes it back,
// retrying on conflicts.
func (n *Node) mutatePrefetch(ctx context.Context, id string, fn func(*prefetchDoc) error) (*prefetchDoc, error) {
	// Every target node records its result in the same document: spread
	// the retries out.
	retry := 0
	backoff := func(ctx context.Context) error {
		retry++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(20*time.Millisecond) * int64(min(retry, 10))))):
			return n.Sync(ctx)
		}
	}
	var pd *prefetchDoc
	err := catalog.RetryOnConflict(ctx, 29, backoff, func(ctx context.Context) error {
		d, err := n.fsm.State().Doc(kindPrefetch, id)
		if err != nil {
			return err
		}
		pd, err = decodePrefetch(d)
		if err != nil {
			return err
		}
		if err := fn(pd); err != nil {
			return err
		}
		pd.UpdatedAt = time.Now().UTC()
		body, err := json.Marshal(pd)
		if err != nil {
			return fmt.Errorf("encode prefetch job: %w", err)
		}
		next := *d
		next.Body, next.UpdatedAt = body, pd.UpdatedAt
		_, err = n.PutDoc(ctx, &next, false, d.Revision)
		return err
	})
	return pd, err
}

func (n *Node) kickPrefetch() {
	select {
	case n.prefetchKick <- struct{}{}:
	default:
	}
}

// prefetchLoop starts this node's part of every job that targets it and
// stops work on cancelled jobs. Jobs live in the catalog, so they survive
// leader changes and restarts; a node that joins later picks up the jobs
// it matches.
func (n *Node) prefetchLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.prefetchKick:
		}
		if !n.ready.Load() {
			continue
		}
		self, _ := n.gossip.Member(n.id)
		for _, d := range n.fsm.State().Docs(kindPrefetch) {
			pd, err := decodePrefetch(d)
			if err != nil {
				n.log.Warn("skipping undecodable prefetch job", "job", d.ID, "err", err)
				continue
			}
			n.prefetchMu.Lock()
			run := n.prefetchRuns[pd.ID]
			n.prefetchMu.Unlock()
			_, done := pd.Results[n.id]
			switch {
			case pd.State == catalog.PrefetchCancelled:
				if run != nil {
					run.cancel()
				}
			case run == nil && !done && matches(pd.Target, self.Meta):
				n.startPrefetchRun(ctx, &wg, pd)
			}
		}
	}
}

// startPrefetchRun runs this node's part of a job in the background.
func (n *Node) startPrefetchRun(ctx context.Context, wg *sync.WaitGroup, pd *prefetchDoc) {
	img, err := n.fsm.State().Image(pd.ImageID)
	rctx, cancel := context.WithCancel(ctx)
	run := &prefetchRun{cancel: cancel}
	if err == nil && img.Manifest != nil {
		run.chunksTotal = len(img.Manifest.Chunks)
		run.bytesTotal = img.Manifest.Size
	}
	n.prefetchMu.Lock()
	n.prefetchRuns[pd.ID] = run
	n.prefetchMu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		res := catalog.PrefetchNode{ID: n.id, State: catalog.PrefetchDone, ChunksTotal: run.chunksTotal, BytesTotal: run.bytesTotal}
		var perr error
		if err == nil && importer.OriginBacked(img) {
			// Data still only at its location: one node pulls it, the
			// others wait and then take it from peers.
			if img, perr = n.PullImage(rctx, img); perr == nil {
				res.ChunksTotal, res.BytesTotal = len(img.Manifest.Chunks), img.Manifest.Size
			}
		}
		switch {
		case perr != nil:
			res.State, res.Error = catalog.PrefetchFailed, perr.Error()
			if rctx.Err() != nil {
				res.State = catalog.PrefetchCancelled
			}
		case err != nil || img.Manifest == nil:
			res.State, res.Error = catalog.PrefetchFailed, fmt.Sprintf("image %s has no data (deleted or not active)", pd.ImageID)
		default:
			if ferr := n.prefetchImage(rctx, img, run); ferr != nil {
				res.State, res.Error = catalog.PrefetchFailed, ferr.Error()
				if rctx.Err() != nil {
					res.State = catalog.PrefetchCancelled
				}
			}
		}
		res.ChunksDone, res.BytesDone = int(run.chunksDone.Load()), run.bytesDone.Load()
		if ctx.Err() == nil && res.State != catalog.PrefetchCancelled {
			wctx, wcancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
			_, werr := n.mutatePrefetch(wctx, pd.ID, func(d *prefetchDoc) error {
				if d.Results == nil {
					d.Results = map[string]catalog.PrefetchNode{}
				}
				d.Results[n.id] = res
				return nil
			})
			wcancel()
			if werr != nil {
				n.log.Warn("could not record prefetch result", "job", pd.ID, "err", werr)
			}
		}
		n.prefetchMu.Lock()
		delete(n.prefetchRuns, pd.ID)
		n.prefetchMu.Unlock()
	}()
}

// prefetchImage brings every chunk of img into the local store, rarest
// first: the chunks fewest nodes hold are fetched first (random among
// equals), so across a fleet each node starts on different chunks and
// copies spread from peers instead of all coming from the durable
// holders. Chunks already held count as done at once (idempotent).
func (n *Node) prefetchImage(ctx context.Context, img *catalog.Image, run *prefetchRun) error {
	var todo []int
	for i, c := range img.Manifest.Chunks {
		d, err := chunkstore.ParseDigest(c.Digest)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if ok, _ := n.chunks.Has(ctx, d); ok {
			run.chunksDone.Add(1)
			run.bytesDone.Add(c.Size)
			continue
		}
		todo = append(todo, i)
	}
	var mu sync.Mutex
	lastSort := time.Time{}
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(todo) == 0 {
			return 0, false
		}
		if time.Since(lastSort) > 200*time.Millisecond {
			n.sortRarestFirst(img, todo)
			lastSort = time.Now()
		}
		idx := todo[0]
		todo = todo[1:]
		return idx, true
	}
	var wg sync.WaitGroup
	errCh := make(chan error, n.cfg.FetchWindow)
	for range n.cfg.FetchWindow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Busy answers in a row, and the pause after a whole round of
			// them: a worker that finds every chunk's holders busy waits
			// a little (doubling) instead of asking again at once.
			streak, pause := 0, 10*time.Millisecond
			for {
				idx, ok := next()
				if !ok || ctx.Err() != nil {
					return
				}
				buf, data, err := n.fetchChunkOpt(ctx, img, idx, false)
				if errors.Is(err, errAllBusy) {
					// Take another chunk meanwhile; this one goes to the
					// back of the queue.
					mu.Lock()
					todo = append(todo, idx)
					round := len(todo)
					mu.Unlock()
					if streak++; streak >= round {
						select {
						case <-ctx.Done():
						case <-time.After(pause):
						}
						streak, pause = 0, min(2*pause, busyPenalty)
					}
					continue
				}
				streak, pause = 0, 10*time.Millisecond
				if err != nil {
					errCh <- err
					return
				}
				if n.cfg.NoCache {
					err = n.chunks.Put(ctx, chunkstore.Sum(data), data)
				}
				n.bufs.put(buf)
				if err != nil {
					errCh <- err
					return
				}
				run.chunksDone.Add(1)
				run.bytesDone.Add(img.Manifest.Chunks[idx].Size)
			}
		}()
	}
	wg.Wait()
	close(errCh)
	if err := <-errCh; err != nil {
		return err
	}
	return ctx.Err()
}

// sortRarestFirst orders chunk indexes by how many live nodes hold them,
// random among equals.
func (n *Node) sortRarestFirst(img *catalog.Image, idxs []int) {
	count := make(map[int]int, len(idxs))
	for _, i := range idxs {
		count[i] = len(n.gossip.Holders(img.ID, i))
	}
	rand.Shuffle(len(idxs), func(a, b int) { idxs[a], idxs[b] = idxs[b], idxs[a] })
	slices.SortStableFunc(idxs, func(a, b int) int { return count[a] - count[b] })
}
