package testcluster

import (
	"net"
	"sync"
)

// network is the loopback network of a cluster's nodes as the nodes see
// it through node.Config.Links: Partition cuts it into groups, Heal
// joins it again. It knows every node's listen addresses and the local
// address of every connection a node opened to another, so it can tell
// which node traffic comes from as well as where it goes.
type network struct {
	mu     sync.Mutex
	groups map[string]int // node id -> group while partitioned; nil: whole
	owner  map[string]string
	conns  map[*trackedConn]struct{}
}

func newNetwork() *network {
	return &network{owner: map[string]string{}, conns: map[*trackedConn]struct{}{}}
}

// register records that node id listens at addrs.
func (w *network) register(id string, addrs ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range addrs {
		w.owner[a] = id
	}
}

// allowedLocked reports whether node from may talk to whoever is at addr
// (addresses of no node, such as test clients, are always reachable).
func (w *network) allowedLocked(from, addr string) bool {
	if w.groups == nil {
		return true
	}
	to, ok := w.owner[addr]
	return !ok || w.groups[from] == w.groups[to]
}

// partition puts every node in groups[k] in group k, and every node not
// listed in one more group, and closes the connections that now cross
// groups.
func (w *network) partition(ids []string, groups [][]string) {
	w.mu.Lock()
	w.groups = map[string]int{}
	for _, id := range ids {
		w.groups[id] = len(groups)
	}
	for k, g := range groups {
		for _, id := range g {
			w.groups[id] = k
		}
	}
	var cut []*trackedConn
	for c := range w.conns {
		if !w.allowedLocked(c.from, c.to) {
			cut = append(cut, c)
		}
	}
	w.mu.Unlock()
	for _, c := range cut {
		_ = c.Close()
	}
}

// heal lets all traffic flow again.
func (w *network) heal() {
	w.mu.Lock()
	w.groups = nil
	w.mu.Unlock()
}

// links returns node id's view of the network (a node.Links).
func (w *network) links(id string) *links { return &links{w: w, id: id} }

// links implements node.Links (and gossip.Links) for one node.
type links struct {
	w  *network
	id string
}

// Allowed reports whether this node may talk to the node at addr.
func (l *links) Allowed(addr string) bool {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.allowedLocked(l.id, addr)
}

// Track registers a connection this node opened to addr.
func (l *links) Track(conn net.Conn, addr string) net.Conn {
	c := &trackedConn{Conn: conn, w: l.w, from: l.id, to: addr, local: conn.LocalAddr().String()}
	l.w.mu.Lock()
	l.w.conns[c] = struct{}{}
	l.w.owner[c.local] = l.id
	ok := l.w.allowedLocked(l.id, addr)
	l.w.mu.Unlock()
	if !ok {
		_ = c.Close()
	}
	return c
}

// trackedConn is a connection one node opened to another.
type trackedConn struct {
	net.Conn
	w        *network
	from, to string
	local    string
	once     sync.Once
}

// Close closes the connection and forgets it.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.w.mu.Lock()
		delete(c.w.conns, c)
		if c.w.owner[c.local] == c.from {
			delete(c.w.owner, c.local)
		}
		c.w.mu.Unlock()
	})
	return c.Conn.Close()
}
