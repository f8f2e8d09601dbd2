package node

import (
	"context"
	"errors"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/transfer"
	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// The node's background jobs are components, each in its own files with
// the dependencies it needs declared next to it: the prefetcher
// (prefetch_jobs.go, prefetch_run.go), the cache (cache.go,
// cache_evict.go), the garbage collector (gc.go), the healer of this
// node's durable copies (selfheal.go) and the repairer of lost durable
// holders (repair.go). wireJobs builds them over the node; the node only
// starts their loops in Run and forwards to them.

// wireJobs builds the job components. The stores, gossip, the peer
// client and the transfer must be open; the importer may come later (it
// is reached through the node when used).
func (n *Node) wireJobs() {
	cfg := n.cfg
	state := n.fsm.State
	n.cache = newCache(cacheDeps{
		self: n.id, log: n.log.With("component", "cache"),
		fetchWindow: cfg.FetchWindow, noCache: cfg.NoCache, budget: cfg.CacheBudget, apiScheme: n.sec.apiScheme,
		prefetchInterval: cfg.CachePrefetchInterval,
		sinceCheck:       &n.cachedSinceEvict,
		state:            state, chunks: n.chunks, cluster: n.cluster, inflight: n.inflight,
		announce: n.holdings.announce,
		pull:     n.PullImage,
		fetch:    importData{n}.FetchChunk,
		spawn: func(name string, fn func(context.Context)) error {
			return n.imports.Go(name, fn)
		},
		collect: n.CollectGarbage,
	})
	n.collector = newCollector(collectorDeps{
		log: n.log.With("component", "gc"), interval: cfg.GCInterval, orphanGrace: cfg.OrphanGrace, deleted: &n.metrics.gcDeleted,
		state: state, ready: n.ready.Load, applied: n.fsm.AppliedIndex, chunks: n.chunks, inflight: n.inflight,
		enforceBudget: n.cache.enforceBudget,
	})
	n.healer = newHealer(healerDeps{
		self: n.id, log: n.log.With("component", "heal"), interval: cfg.GCInterval, healed: &n.metrics.healed,
		eachMine: func(fn func(*catalog.Image) bool) { n.placed.each(n.id, fn) }, ready: n.ready.Load, chunks: n.chunks,
		fetchFromHolders: func(ctx context.Context, img *catalog.Image, idx int, _ chunkstore.Digest, _ int64) ([]byte, func(), error) {
			buf, data, err := n.xfer.FetchFromHolders(ctx, img, idx)
			if err != nil {
				return nil, nil, err
			}
			return data, buf.Release, nil
		},
		announce: n.holdings.announce,
	})
	n.repairer = newRepairer(repairerDeps{
		self: n.id, log: n.log.With("component", "repair"), replicas: cfg.Replicas, repairGrace: cfg.RepairGrace, repairs: &n.metrics.repairs,
		placed: n.placed, state: state, sync: n.replica.Sync, mutateImage: n.replica.mutateImage, isLeader: n.IsLeader,
		cluster:       n.cluster,
		spread:        spreadPick,
		replicatePeer: n.peerClient.Replicate,
		fill: func(ctx context.Context, img *catalog.Image) error {
			return n.xfer.FillLocal(ctx, img, cfg.FetchWindow)
		},
	})
	n.prefetcher = newPrefetcher(prefetchDeps{
		self: n.id, log: n.log.With("component", "prefetch"),
		fetchWindow: cfg.FetchWindow, noCache: cfg.NoCache, writeTimeout: cfg.WriteTimeout, maxBusyPause: policy.BusyPenalty, interval: cfg.GCInterval,
		state: state, putDoc: n.replica.PutDoc, sync: n.replica.Sync, ready: n.ready.Load,
		cluster: n.cluster, chunks: n.chunks,
		pull: n.PullImage,
		fetchNoWait: func(ctx context.Context, img *catalog.Image, idx int) ([]byte, func(), error) {
			buf, data, err := n.xfer.TryFetchChunk(ctx, img, idx)
			if errors.Is(err, transfer.ErrAllBusy) {
				return nil, nil, errHoldersBusy
			}
			if err != nil {
				return nil, nil, err
			}
			return data, buf.Release, nil
		},
		progressOf: func(ctx context.Context, addr, id string) (catalog.PrefetchNode, error) {
			p, err := n.peerClient.PrefetchProgress(ctx, addr, id)
			return catalog.PrefetchNode(p), err
		},
	})
}

// kickGC asks the garbage collector to run soon.
func (n *Node) kickGC() { n.collector.kick() }

// kickHeal asks the healer to look for missing durable chunks soon.
func (n *Node) kickHeal() { n.healer.kick() }

// CollectGarbage deletes every local chunk that no image references and
// no upload in progress needs, then gives the space back to the file
// system. It returns the number of chunks deleted. It does nothing until
// the node's replica has caught up with the leader after start.
func (n *Node) CollectGarbage(ctx context.Context) (int, error) { return n.collector.collect(ctx) }

// CacheState lists the images this node cached (and holds every chunk
// of), and the images queued for prefetch into it (the cache API's GET
// /v2/cache).
func (n *Node) CacheState(ctx context.Context) (*api.CacheState, error) {
	return n.cache.CacheState(ctx)
}

// HoldsImage reports whether this node's store holds every chunk of
// active image id, cached or durable (what a repair or prefetch probe
// checks).
func (n *Node) HoldsImage(ctx context.Context, id string) (bool, error) {
	return n.cache.holdsAll(ctx, id)
}

// CacheNodes returns the Glance API URLs of the live nodes that hold
// every chunk of the image, sorted.
func (n *Node) CacheNodes(ctx context.Context, imageID string) ([]string, error) {
	return n.cache.CacheNodes(ctx, imageID)
}
