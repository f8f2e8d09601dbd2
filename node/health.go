package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/api"
)

// ReadyMaxLag is the most catalog entries a node may be behind the commit
// index it knows of and still answer ready.
const ReadyMaxLag = 64

// writeCheckEvery is how long a data directory write check stands: a
// load balancer probing every second does not write every second.
const writeCheckEvery = 5 * time.Second

// health answers the health and readiness probes (api.Health).
type health struct {
	n *Node

	mu      sync.Mutex
	checked time.Time // when the data directory was last written
	lastErr error     // what that check found
}

var _ api.Health = (*health)(nil)

// Healthcheck reports whether the node can serve: it holds a catalog (it
// applied some of the log, or leads) and its data directory takes a write.
func (h *health) Healthcheck(context.Context) error {
	n := h.n
	if n.fsm.AppliedIndex() == 0 && !n.replica.IsLeader() && !n.ready.Load() {
		return errors.New("no catalog yet: the node has not received the catalog")
	}
	return h.writable()
}

// writable writes, syncs and removes a file in the data directory, at
// most once per writeCheckEvery.
func (h *health) writable() error {
	n := h.n
	if n.inMemory {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) < writeCheckEvery {
		return h.lastErr
	}
	h.checked = time.Now()
	h.lastErr = nil
	path := filepath.Join(n.cfg.DataDir, ".healthcheck")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = f.Write([]byte("ok\n"))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(path); err == nil {
			err = rerr
		}
	}
	if err != nil {
		h.lastErr = fmt.Errorf("data directory not writable: %w", err)
	}
	return h.lastErr
}

// Readiness reports whether the node has joined, caught up with the log
// once since it started, is in touch with the voters (directly or through
// its upstream) and is at most ReadyMaxLag entries behind the commit index
// it knows of.
func (h *health) Readiness(context.Context) api.Readiness {
	n := h.n
	rd := api.Readiness{AppliedIndex: n.fsm.AppliedIndex(), MaxLag: ReadyMaxLag}
	switch {
	case n.follower.active.Load():
		rd.Role = "replica"
		rd.CommitIndex = n.follower.upstreamApplied.Load()
	case n.raft == nil:
		rd.Role = "joining"
	default:
		rd.Role = "voter"
		if n.raft.State() == raft.Leader {
			rd.Role = "leader"
		}
		rd.CommitIndex = n.raft.CommitIndex()
	}
	rd.CommitIndex = max(rd.CommitIndex, rd.AppliedIndex)
	rd.Lag = rd.CommitIndex - rd.AppliedIndex
	switch {
	case rd.Role == "joining":
		rd.Reason = "joining the cluster"
	case !n.ready.Load():
		rd.Reason = "catching up with the catalog since start"
	case n.feed.outOfTouch():
		rd.Reason = "out of touch with the voters: " + n.feed.touchState()
	case rd.Lag > ReadyMaxLag:
		rd.Reason = fmt.Sprintf("catalog %d entries behind", rd.Lag)
	default:
		rd.Ready = true
		if err := h.writable(); err != nil {
			rd.Ready, rd.Reason = false, err.Error()
		}
	}
	return rd
}
