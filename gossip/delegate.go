package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate implements memberlist's Delegate, EventDelegate and PingDelegate
// for a Gossip without exporting those methods on Gossip itself. None of its
// methods block: they take Gossip's mutex only for short bookkeeping and
// never call back into memberlist. It adds no user messages and no
// push/pull state of its own: memberlist carries the member list and each
// member's metadata, nothing more.
type delegate struct {
	g *Gossip
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

// NodeMeta returns this node's JSON Meta (validated to fit in New).
func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.g.meta) > limit {
		return nil
	}
	return d.g.meta
}

// NotifyMsg drops user messages: gossip carries none (an older node may
// still send chunk holdings; who holds what is package node/tracker's).
func (d *delegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to add to memberlist's own gossip.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState adds nothing to memberlist's push/pull state: it carries
// the member list (with each member's metadata) and nothing else.
func (d *delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores whatever a peer adds to its push/pull state.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// memberOf decodes a node's metadata, with its name as id, into what
// Gossip keeps of it.
func memberOf(n *memberlist.Node, alive bool) *memberInfo {
	m, keys := decodeMeta(n.Meta)
	m.ID = n.Name
	return &memberInfo{meta: m, keys: keys, addr: n.Address(), alive: alive}
}

// NotifyJoin records a (re)joined node.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	g := d.g
	g.mu.Lock()
	g.members[n.Name] = memberOf(n, true)
	g.mu.Unlock()
	g.log.Debug("member joined", "member", n.Name, "addr", n.Address())
	g.settleKey()
	g.changed()
}

// NotifyLeave marks a node dead or departed.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	g := d.g
	if n.Name == g.self {
		return // our own graceful leave; we still hold what we hold
	}
	g.mu.Lock()
	mi := g.members[n.Name]
	if mi == nil {
		mi = memberOf(n, false)
		g.members[n.Name] = mi
	}
	mi.alive = false
	mi.deadAt = time.Now()
	delete(g.rtt, n.Name)
	g.mu.Unlock()
	g.log.Debug("member left or failed", "member", n.Name, "state", n.State)
	g.settleKey()
	g.changed()
}

// NotifyUpdate records changed metadata.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	g := d.g
	g.mu.Lock()
	if mi := g.members[n.Name]; mi != nil {
		nm := memberOf(n, mi.alive)
		mi.meta, mi.keys, mi.addr = nm.meta, nm.keys, nm.addr
	} else {
		g.members[n.Name] = memberOf(n, true)
	}
	g.mu.Unlock()
	g.settleKey()
	g.changed()
}

// AckPayload attaches nothing to acks; only the RTT is of interest.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete records the latest round-trip time to other.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, _ []byte) {
	g := d.g
	if other == nil || other.Name == g.self {
		return
	}
	g.mu.Lock()
	if g.aliveLocked(other.Name) {
		g.rtt[other.Name] = max(rtt, time.Nanosecond)
	}
	g.mu.Unlock()
}
