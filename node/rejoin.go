package node

import (
	"context"
	"time"
)

// rejoinLoop brings the members of the Raft configuration that gossip
// lost back into gossip. After a network partition that outlasted
// failure detection, each side has declared the other dead, and
// memberlist never contacts a dead node again on its own: without this
// the two sides would stay apart in gossip (no chunk holdings, no leader
// address to forward writes to) although Raft has healed. Every pass
// joins the last known gossip address of each Raft server that is not
// alive in gossip.
func (n *Node) rejoinLoop(ctx context.Context) {
	every := n.cfg.Timing.RejoinInterval
	t := time.NewTicker(every)
	defer t.Stop()
	known := map[string]string{} // node id -> gossip address last seen
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.rejoinPass(ctx, known, every)
	}
}

func (n *Node) rejoinPass(ctx context.Context, known map[string]string, timeout time.Duration) {
	alive := map[string]bool{}
	for _, m := range n.gossip.Members() {
		if m.Addr != "" {
			known[m.Meta.ID] = m.Addr
		}
		alive[m.Meta.ID] = m.Alive
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	var addrs []string
	for _, s := range f.Configuration().Servers {
		id := string(s.ID)
		if id != n.id && !alive[id] && known[id] != "" {
			addrs = append(addrs, known[id])
		}
	}
	if len(addrs) == 0 {
		return
	}
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if k, err := n.gossip.Join(jctx, addrs); k > 0 {
		n.log.Info("rejoined lost gossip members", "tried", len(addrs), "reached", k)
	} else {
		n.log.Debug("gossip rejoin failed", "addrs", addrs, "err", err)
	}
}
