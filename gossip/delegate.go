package gossip

import (
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate implements memberlist's Delegate, EventDelegate and PingDelegate
// for a Gossip without exporting those methods on Gossip itself. None of its
// methods block: they take Gossip's mutex only for short bookkeeping and
// never call back into memberlist.
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

// NotifyMsg applies a gossip update and, if it was news, relays it.
func (d *delegate) NotifyMsg(b []byte) {
	g := d.g
	msg := slices.Clone(b) // memberlist reuses the buffer
	u, err := decodeUpdate(msg)
	if err != nil {
		g.log.Warn("drop gossip message", "err", err, "len", len(msg))
		return
	}
	if u.origin == g.self {
		return
	}
	g.mu.Lock()
	applied := g.acceptLocked(u.origin) && g.st.apply(u)
	g.mu.Unlock()
	if applied {
		g.queue.QueueBroadcast(newBroadcast(u, msg))
	}
}

// GetBroadcasts hands queued updates to memberlist's gossip packets.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.g.queue.GetBroadcasts(overhead, limit)
}

// LocalState returns the push/pull state: our own holdings and what we know
// of every live (or not yet known dead) node's.
func (d *delegate) LocalState(join bool) []byte {
	g := d.g
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.encodeSnapshot(g.self, g.version, g.acceptLocked)
}

// MergeRemoteState folds a peer's push/pull state into ours.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	g := d.g
	snap, err := decodeSnapshot(slices.Clone(buf))
	if err != nil {
		g.log.Warn("drop push/pull state", "err", err, "len", len(buf))
		return
	}
	g.mu.Lock()
	g.st.merge(snap, g.self, g.acceptLocked)
	g.mu.Unlock()
}

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
	mi := g.members[n.Name]
	if mi == nil || !mi.alive {
		g.numAlive.Add(1)
	}
	g.members[n.Name] = memberOf(n, true)
	g.mu.Unlock()
	g.log.Debug("member joined", "member", n.Name, "addr", n.Address())
	g.settleKey()
	g.changed()
}

// NotifyLeave marks a node dead or departed and forgets its holdings.
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
	} else if mi.alive {
		g.numAlive.Add(-1)
	}
	mi.alive = false
	mi.deadAt = time.Now()
	g.st.forget(n.Name)
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
		g.numAlive.Add(1)
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

// newQueue returns a TransmitLimitedQueue that works around a memberlist
// bug (hashicorp/memberlist PR #263, still present in v0.7.0): whenever the
// queue becomes momentarily empty — the only queued message is invalidated
// by a new one, or is taken out for sending — its id generator restarts at
// 0 while the surviving message keeps its old id, so a later message of the
// same length and transmit count gets the same btree key and silently
// replaces it. A permanent sentinel that is too large ever to be sent keeps
// the queue from ever being empty, so ids never restart.
func newQueue(numNodes func() int, retransmitMult int) *memberlist.TransmitLimitedQueue {
	q := &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmitMult}
	q.QueueBroadcast(sentinel{})
	return q
}

// sentinelMsg is never written, so it costs no resident memory.
var sentinelMsg [1 << 17]byte

// sentinel is the never-sent queue entry described at newQueue.
type sentinel struct{}

func (sentinel) Invalidates(memberlist.Broadcast) bool { return false }
func (sentinel) Message() []byte                       { return sentinelMsg[:] }
func (sentinel) Finished()                             {}

// broadcast is a queued gossip update. A newer update for the same origin,
// image and segment (or a newer withdrawal of the image) invalidates it.
type broadcast struct {
	origin, image string
	seg           int
	withdraw      bool
	version       uint64
	msg           []byte
}

func newBroadcast(u update, msg []byte) *broadcast {
	return &broadcast{origin: u.origin, image: u.image, seg: u.seg,
		withdraw: u.kind == msgWithdraw, version: u.version, msg: msg}
}

// Invalidates reports whether b supersedes the queued broadcast other.
func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	if !ok || o.origin != b.origin || o.image != b.image || o.version > b.version {
		return false
	}
	return b.withdraw || (!o.withdraw && o.seg == b.seg)
}

// Message returns the encoded update.
func (b *broadcast) Message() []byte { return b.msg }

// Finished is a no-op: nobody waits for delivery.
func (b *broadcast) Finished() {}
