package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/importer"
	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// errHoldersBusy is what prefetchDeps.fetchNoWait returns when every
// holder of a chunk is at its upload limit.
var errHoldersBusy = errors.New("every holder of the chunk is busy")

// prefetchRun is this node's work on one job.
type prefetchRun struct {
	cancel      context.CancelFunc
	chunksDone  atomic.Int64
	bytesDone   atomic.Int64
	chunksTotal int
	bytesTotal  int64
}

// kick makes the loop look at the jobs now, not on its next tick.
func (p *prefetcher) kick() {
	select {
	case p.kicked <- struct{}{}:
	default:
	}
}

// run starts this node's part of every job that targets it and stops
// work on cancelled jobs, until ctx ends; it returns when every run it
// started has ended. Jobs live in the catalog, so they survive leader
// changes and restarts; a node that joins later picks up the jobs it
// matches. It looks at the jobs once the replica has caught up, whenever
// kicked (a job document changed, a result could not be recorded) and
// every interval (jobs restored from a snapshot arrive without a change
// to kick it), never on a short tick: an idle node stays asleep.
func (p *prefetcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for !p.ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.pass(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kicked:
		}
	}
}

// pass starts the runs of the jobs that target this node and that it has
// neither started nor recorded a result for, and cancels the runs of
// cancelled jobs.
func (p *prefetcher) pass(ctx context.Context, wg *sync.WaitGroup) {
	self, _ := p.cluster.Member(p.self)
	for _, d := range p.state().Docs(kindPrefetch) {
		pd, err := decodePrefetch(d)
		if err != nil {
			p.log.Warn("skipping undecodable prefetch job", "job", d.ID, "err", err)
			continue
		}
		p.mu.Lock()
		run := p.runs[pd.ID]
		p.mu.Unlock()
		_, done := pd.Results[p.self]
		switch {
		case pd.State == catalog.PrefetchCancelled:
			if run != nil {
				run.cancel()
			}
		case run == nil && !done && matches(pd.Target, self.Meta):
			p.startRun(ctx, wg, pd)
		}
	}
}

// startRun runs this node's part of a job in the background.
func (p *prefetcher) startRun(ctx context.Context, wg *sync.WaitGroup, pd *prefetchDoc) {
	img, err := p.state().Image(pd.ImageID)
	rctx, cancel := context.WithCancel(ctx)
	run := &prefetchRun{cancel: cancel}
	if err == nil && img.Manifest != nil {
		run.chunksTotal = len(img.Manifest.Chunks)
		run.bytesTotal = img.Manifest.Size
	}
	p.mu.Lock()
	p.runs[pd.ID] = run
	p.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		res := catalog.PrefetchNode{ID: p.self, State: catalog.PrefetchDone, ChunksTotal: run.chunksTotal, BytesTotal: run.bytesTotal}
		var perr error
		if err == nil && importer.OriginBacked(img) {
			// Data still only at its location: one node pulls it, the
			// others wait and then take it from peers.
			if img, perr = p.pull(rctx, img); perr == nil {
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
			if ferr := p.fetchImage(rctx, img, run); ferr != nil {
				res.State, res.Error = catalog.PrefetchFailed, ferr.Error()
				if rctx.Err() != nil {
					res.State = catalog.PrefetchCancelled
				}
			}
		}
		res.ChunksDone, res.BytesDone = int(run.chunksDone.Load()), run.bytesDone.Load()
		retry := false
		if ctx.Err() == nil && res.State != catalog.PrefetchCancelled {
			wctx, wcancel := context.WithTimeout(ctx, p.writeTimeout)
			_, werr := p.mutate(wctx, pd.ID, func(d *prefetchDoc) error {
				if d.Results == nil {
					d.Results = map[string]catalog.PrefetchNode{}
				}
				d.Results[p.self] = res
				return nil
			})
			wcancel()
			if werr != nil {
				p.log.Warn("could not record prefetch result", "job", pd.ID, "err", werr)
				retry = true
			}
		}
		p.mu.Lock()
		delete(p.runs, pd.ID)
		p.mu.Unlock()
		if retry {
			// Without a result the job is run again: look soon.
			time.AfterFunc(prefetchRetry, p.kick)
		}
	}()
}

// fetchImage brings every chunk of img into the local store, rarest
// first: the chunks fewest nodes hold are fetched first (random among
// equals), so across a fleet each node starts on different chunks and
// copies spread from peers instead of all coming from the durable
// holders. Chunks already held count as done at once (idempotent).
func (p *prefetcher) fetchImage(ctx context.Context, img *catalog.Image, run *prefetchRun) error {
	var todo []int
	for i, c := range img.Manifest.Chunks {
		d, err := chunkstore.ParseDigest(c.Digest)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if ok, _ := p.chunks.Has(ctx, d); ok {
			run.chunksDone.Add(1)
			run.bytesDone.Add(c.Size)
			continue
		}
		todo = append(todo, i)
	}
	var mu sync.Mutex
	lastSort := time.Time{}
	holders := func(i int) int { return len(p.cluster.Holders(img.ID, i)) }
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(todo) == 0 {
			return 0, false
		}
		if time.Since(lastSort) > policy.ResortEvery {
			policy.RarestFirst(todo, holders, policy.Global)
			lastSort = time.Now()
		}
		idx := todo[0]
		todo = todo[1:]
		return idx, true
	}
	var wg sync.WaitGroup
	errCh := make(chan error, p.fetchWindow)
	for range p.fetchWindow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A worker that finds every chunk's holders busy waits a
			// little (doubling) instead of asking again at once.
			busy := policy.BusyPause{Max: p.maxBusyPause}
			for {
				idx, ok := next()
				if !ok || ctx.Err() != nil {
					return
				}
				data, release, err := p.fetchNoWait(ctx, img, idx)
				if errors.Is(err, errHoldersBusy) {
					// Take another chunk meanwhile; this one goes to the
					// back of the queue.
					mu.Lock()
					todo = append(todo, idx)
					round := len(todo)
					mu.Unlock()
					if pause := busy.Busy(round); pause > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(pause):
						}
					}
					continue
				}
				busy.Progress()
				if err != nil {
					errCh <- err
					return
				}
				if p.noCache {
					err = p.chunks.Put(ctx, chunkstore.Sum(data), data)
				}
				release()
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
