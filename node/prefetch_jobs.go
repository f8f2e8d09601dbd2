package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// prefetcher runs pre-seeding jobs (api.Prefetcher): it owns the jobs'
// catalog documents (kindPrefetch), this node's part of every job that
// targets it (prefetch_run.go) and the progress view that asks every
// target node. Its loop and runs are bounded by the context given to run
// (the node's Run context).
type prefetcher struct {
	prefetchDeps

	mu     sync.Mutex
	runs   map[string]*prefetchRun // job id -> this node's work on it
	kicked chan struct{}           // a job started, ended or was cancelled
}

// prefetchRetry is how soon the jobs are looked at again after a run
// ended without recording its result (the run is then started again).
const prefetchRetry = time.Second

// prefetchDeps is what a prefetcher needs from the node, which wires it
// in New.
type prefetchDeps struct {
	self         string
	log          *slog.Logger
	fetchWindow  int           // chunks fetched at once (Config.FetchWindow)
	noCache      bool          // fetched chunks are not kept unless stored here (Config.NoCache)
	writeTimeout time.Duration // bound of the write recording a node's result
	maxBusyPause time.Duration // longest wait after a round of busy holders
	interval     time.Duration // between looks at the jobs when not kicked (Config.GCInterval)

	// state is the catalog replica, read-only.
	state func() *raftfsm.State
	// putDoc writes a catalog document (create, or replace revision
	// expect); sync waits until this replica has applied every committed
	// write.
	putDoc func(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error)
	sync   func(ctx context.Context) error
	// ready reports whether the replica has caught up once since start.
	ready   func() bool
	cluster prefetchCluster
	chunks  prefetchStore
	// pull brings an image whose data is still only at its locations into
	// the cluster (api.Backend.PullImage).
	pull func(ctx context.Context, img *catalog.Image) (*catalog.Image, error)
	// fetchNoWait returns chunk idx of img, verified, fetched from its
	// holders unless held here (and then kept unless noCache); release
	// gives its buffer back. It returns errHoldersBusy at once when every
	// holder is at its upload limit.
	fetchNoWait func(ctx context.Context, img *catalog.Image, idx int) (data []byte, release func(), err error)
	// progressOf asks the node at peer address addr how far it is with
	// job id.
	progressOf func(ctx context.Context, addr, id string) (catalog.PrefetchNode, error)
}

// prefetchCluster is the membership and chunk availability a prefetcher
// reads (nodeCluster: gossip and the trackers).
type prefetchCluster interface {
	Members() []gossip.Member
	Member(id string) (gossip.Member, bool)
	Holders(imageID string, idx int) []string
}

// prefetchStore is the local chunk store as a prefetcher uses it.
type prefetchStore interface {
	Has(ctx context.Context, d chunkstore.Digest) (bool, error)
	Put(ctx context.Context, d chunkstore.Digest, data []byte) error
}

var _ api.Prefetcher = (*prefetcher)(nil)

func newPrefetcher(d prefetchDeps) *prefetcher {
	return &prefetcher{prefetchDeps: d, runs: map[string]*prefetchRun{}, kicked: make(chan struct{}, 1)}
}

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
func (p *prefetcher) StartPrefetch(ctx context.Context, imageID string, target catalog.PrefetchTarget) (*catalog.PrefetchJob, error) {
	now := time.Now().UTC()
	pd := &prefetchDoc{PrefetchJob: catalog.PrefetchJob{
		ID: uuid.NewString(), ImageID: imageID, Target: target, State: catalog.PrefetchRunning, CreatedAt: now, UpdatedAt: now,
	}}
	body, err := json.Marshal(pd)
	if err != nil {
		return nil, fmt.Errorf("encode prefetch job: %w", err)
	}
	if _, err := p.putDoc(ctx, &catalog.Doc{Kind: kindPrefetch, ID: pd.ID, Body: body, CreatedAt: now, UpdatedAt: now}, true, 0); err != nil {
		return nil, err
	}
	p.kick()
	return p.jobView(pd, nil), nil
}

// Prefetches implements api.Prefetcher.
func (p *prefetcher) Prefetches(_ context.Context) ([]*catalog.PrefetchJob, error) {
	var out []*catalog.PrefetchJob
	for _, d := range p.state().Docs(kindPrefetch) {
		pd, err := decodePrefetch(d)
		if err != nil {
			return nil, err
		}
		out = append(out, p.jobView(pd, nil))
	}
	slices.SortFunc(out, func(a, b *catalog.PrefetchJob) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Prefetch implements api.Prefetcher: the job with every target node's
// live progress, asked from the nodes themselves.
func (p *prefetcher) Prefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error) {
	d, err := p.state().Doc(kindPrefetch, id)
	if errors.Is(err, catalog.ErrNotFound) {
		if serr := p.sync(ctx); serr == nil {
			d, err = p.state().Doc(kindPrefetch, id)
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
	for _, m := range p.targets(pd) {
		if _, final := pd.Results[m.Meta.ID]; final {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pn, err := p.progressOfMember(ctx, m, id)
			if err != nil {
				pn = catalog.PrefetchNode{ID: m.Meta.ID, State: "unknown", Error: err.Error()}
			}
			mu.Lock()
			live[m.Meta.ID] = pn
			mu.Unlock()
		}()
	}
	wg.Wait()
	return p.jobView(pd, live), nil
}

// progressOfMember asks node m (or this node) how far it is with job id.
func (p *prefetcher) progressOfMember(ctx context.Context, m gossip.Member, id string) (catalog.PrefetchNode, error) {
	if m.Meta.ID == p.self {
		return p.localProgress(id), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pn, err := p.progressOf(ctx, m.Meta.PeerAddr, id)
	if err != nil {
		return catalog.PrefetchNode{}, fmt.Errorf("ask %s: %w", m.Meta.ID, err)
	}
	return pn, nil
}

// localProgress is this node's progress on a job (what a peer asking
// with progressOf learns).
func (p *prefetcher) localProgress(id string) catalog.PrefetchNode {
	p.mu.Lock()
	run := p.runs[id]
	p.mu.Unlock()
	if run == nil {
		return catalog.PrefetchNode{ID: p.self, State: "pending"}
	}
	return catalog.PrefetchNode{
		ID: p.self, State: "running",
		ChunksDone: int(run.chunksDone.Load()), ChunksTotal: run.chunksTotal,
		BytesDone: run.bytesDone.Load(), BytesTotal: run.bytesTotal,
	}
}

// runProgress is this node's progress on one job it is running.
type runProgress struct {
	catalog.PrefetchNode
	job string
}

// localRuns lists this node's progress on the jobs it is running.
func (p *prefetcher) localRuns() []runProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]runProgress, 0, len(p.runs))
	for id, run := range p.runs {
		out = append(out, runProgress{job: id, PrefetchNode: catalog.PrefetchNode{
			ID: p.self, State: "running", ChunksDone: int(run.chunksDone.Load()), ChunksTotal: run.chunksTotal,
			BytesDone: run.bytesDone.Load(), BytesTotal: run.bytesTotal,
		}})
	}
	return out
}

// targets lists the live members a job targets, plus every node that
// already reported a result.
func (p *prefetcher) targets(pd *prefetchDoc) []gossip.Member {
	var out []gossip.Member
	for _, m := range p.cluster.Members() {
		_, reported := pd.Results[m.Meta.ID]
		if (m.Alive && matches(pd.Target, m.Meta)) || reported {
			out = append(out, m)
		}
	}
	return out
}

// jobView builds the API view: per-node entries from final results, live
// progress, or pending; the job state from those.
func (p *prefetcher) jobView(pd *prefetchDoc, live map[string]catalog.PrefetchNode) *catalog.PrefetchJob {
	job := pd.PrefetchJob
	job.Nodes = []catalog.PrefetchNode{}
	finished, failed := 0, 0
	targets := p.targets(pd)
	for _, m := range targets {
		pn, final := pd.Results[m.Meta.ID]
		if !final {
			pn = live[m.Meta.ID]
			if pn.ID == "" {
				pn = catalog.PrefetchNode{ID: m.Meta.ID, State: "pending"}
			}
			if job.State == catalog.PrefetchCancelled {
				pn.State = catalog.PrefetchCancelled
			}
		} else {
			finished++
			if pn.State == catalog.PrefetchFailed {
				failed++
			}
		}
		job.Nodes = append(job.Nodes, pn)
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
func (p *prefetcher) CancelPrefetch(ctx context.Context, id string) (*catalog.PrefetchJob, error) {
	pd, err := p.mutate(ctx, id, func(pd *prefetchDoc) error {
		pd.State = catalog.PrefetchCancelled
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.kick()
	return p.jobView(pd, nil), nil
}

// mutate applies fn to a fresh copy of a job and writes it back,
// retrying on conflicts.
func (p *prefetcher) mutate(ctx context.Context, id string, fn func(*prefetchDoc) error) (*prefetchDoc, error) {
	// Every target node records its result in the same document: spread
	// the retries out.
	retry := 0
	backoff := func(ctx context.Context) error {
		retry++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(20*time.Millisecond) * int64(min(retry, 10))))):
			return p.sync(ctx)
		}
	}
	var pd *prefetchDoc
	err := catalog.RetryOnConflict(ctx, 29, backoff, func(ctx context.Context) error {
		d, err := p.state().Doc(kindPrefetch, id)
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
		_, err = p.putDoc(ctx, &next, false, d.Revision)
		return err
	})
	return pd, err
}
