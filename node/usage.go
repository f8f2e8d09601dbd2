package node

import (
	"context"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// usageTTL is how long a computed store usage is reused: computing it
// reads the local chunk index and the catalog, and a dashboard, a
// Prometheus scrape and every other node's cluster view all ask.
const usageTTL = 5 * time.Second

// usageCache keeps the node's last store usage.
type usageCache struct {
	mu sync.Mutex
	u  peer.Usage
	at time.Time
}

// usage returns what a peer's Stats, the cluster view and the metrics
// report of this node: its store usage (reused for usageTTL), its chunk
// traffic with peers, whether it is ready and its applied index.
func (n *Node) usage(ctx context.Context) (peer.Usage, error) {
	c := &n.usageCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) > usageTTL {
		u, err := n.cache.usage(ctx)
		if err != nil {
			return peer.Usage{}, err
		}
		c.u, c.at = u, time.Now()
	}
	u := c.u
	x := n.xfer.Counters()
	u.ServedBytes, u.FetchedBytes = x.ServedBytes, x.FetchedBytes
	rd := n.health.Readiness(ctx)
	u.Ready, u.AppliedIndex = rd.Ready, rd.AppliedIndex
	return u, nil
}
