package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// usageOf asks every live node for its usage, in parallel, bounded.
func (n *Node) usageOf(ctx context.Context, peers map[string]string) map[string]peer.Usage {
	out := map[string]peer.Usage{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for id, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var u peer.Usage
			var err error
			if id == n.id {
				u, err = n.cache.usage(ctx)
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

func (n *Node) fetchUsage(ctx context.Context, addr string) (peer.Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u, err := n.peerClient.Stats(ctx, addr)
	if err != nil {
		return peer.Usage{}, fmt.Errorf("stats of %s: %w", addr, err)
	}
	return u, nil
}
