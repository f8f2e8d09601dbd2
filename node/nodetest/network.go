package nodetest

import (
	"net"
	"sync"

	"github.com/p2pglance/p2pglance/node"
)

// Network is the loopback network of the nodes of one process, as each
// sees it through its view (Node). It knows every node's listen addresses
// (Register) and the local address of every connection a node opened to
// another, so it can tell which node traffic comes from as well as where
// it goes. Addresses of no node (a test's own clients) are always
// reachable. All methods are safe for concurrent use.
type Network struct {
	mu     sync.Mutex
	groups map[string]int // node id -> group while partitioned; nil: whole
	rest   int            // the group of nodes in none of Partition's groups
	owner  map[string]string
	conns  map[*trackedConn]struct{}
}

// NewNetwork returns a network with every link up.
func NewNetwork() *Network {
	return &Network{owner: map[string]string{}, conns: map[*trackedConn]struct{}{}}
}

// Node returns node id's view of the network, for node.WithNetwork.
func (w *Network) Node(id string) node.Network { return &nodeNet{w: w, id: id} }

// Register records that node id listens at addrs (its API, internal
// HTTP, Raft and gossip addresses).
func (w *Network) Register(id string, addrs ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range addrs {
		w.owner[a] = id
	}
}

// Partition puts the nodes of groups[k] in group k and every other node
// in one more group: nodes of different groups can no longer reach each
// other, and connections already open between them are closed. A new
// Partition replaces the last.
func (w *Network) Partition(groups ...[]string) {
	w.mu.Lock()
	w.groups = map[string]int{}
	w.rest = len(groups)
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

// Heal lets all traffic flow again.
func (w *Network) Heal() {
	w.mu.Lock()
	w.groups = nil
	w.mu.Unlock()
}

// groupLocked returns the group of node id while partitioned.
func (w *Network) groupLocked(id string) int {
	if g, ok := w.groups[id]; ok {
		return g
	}
	return w.rest
}

// allowedLocked reports whether node from may talk to whoever is at addr.
func (w *Network) allowedLocked(from, addr string) bool {
	if w.groups == nil {
		return true
	}
	to, ok := w.owner[addr]
	return !ok || w.groupLocked(from) == w.groupLocked(to)
}

// allowed reports whether node from may talk to whoever is at addr.
func (w *Network) allowed(from, addr string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.allowedLocked(from, addr)
}

// track registers conn, which node from opened to the node at addr, and
// returns the conn to use instead: Partition closes it when the link is
// cut (so pooled connections do not outlive a partition), and its local
// address tells the receiving end which node it comes from. A conn
// opened across a cut that appeared meanwhile is closed at once.
func (w *Network) track(from string, conn net.Conn, addr string) net.Conn {
	c := &trackedConn{Conn: conn, w: w, from: from, to: addr, local: conn.LocalAddr().String()}
	w.mu.Lock()
	w.conns[c] = struct{}{}
	w.owner[c.local] = from
	ok := w.allowedLocked(from, addr)
	w.mu.Unlock()
	if !ok {
		_ = c.Close()
	}
	return c
}

// trackedConn is a connection one node opened to another.
type trackedConn struct {
	net.Conn
	w        *Network
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
