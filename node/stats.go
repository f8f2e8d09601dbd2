package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// nodeUsage is how a node's chunk store is used.
type nodeUsage struct {
	Chunks      int64 `json:"chunks"`
	Bytes       int64 `json:"bytes"`
	PinnedBytes int64 `json:"pinned_bytes"` // chunks held as durable copies
	CacheBytes  int64 `json:"cache_bytes"`  // everything else: evictable cache
	CacheBudget int64 `json:"cache_budget"` // 0: unlimited
}

// usage measures this node's store: pinned (durable) and cached bytes.
func (n *Node) usage(ctx context.Context) (nodeUsage, error) {
	local, err := n.localChunks(ctx)
	if err != nil {
		return nodeUsage{}, err
	}
	keep, _ := n.chunkUse(n.fsm.State())
	u := nodeUsage{CacheBudget: n.cfg.CacheBudget}
	for d, size := range local {
		u.Chunks++
		u.Bytes += size
		if keep[d] {
			u.PinnedBytes += size
		} else {
			u.CacheBytes += size
		}
	}
	return u, nil
}

// handleStats serves GET /internal/v1/stats.
func (n *Node) handleStats(w http.ResponseWriter, r *http.Request) {
	u, err := n.usage(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONResp(w, u)
}

// usageOf asks every live node for its usage, in parallel, bounded.
func (n *Node) usageOf(ctx context.Context, peers map[string]string) map[string]nodeUsage {
	out := map[string]nodeUsage{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for id, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var u nodeUsage
			var err error
			if id == n.id {
				u, err = n.usage(ctx)
			} else {
				u, err = n.fetchUsage(ctx, addr)
			}
			if err != nil {
				return
			}
			mu.Lock()
			out[id] = u
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (n *Node) fetchUsage(ctx context.Context, addr string) (nodeUsage, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.peerURL(addr, "/internal/v1/stats"), nil)
	if err != nil {
		return nodeUsage{}, fmt.Errorf("build stats request: %w", err)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nodeUsage{}, fmt.Errorf("stats of %s: %w", addr, err)
	}
	defer resp.Body.Close()
	var u nodeUsage
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		return nodeUsage{}, fmt.Errorf("decode stats of %s: %w", addr, err)
	}
	return u, nil
}
