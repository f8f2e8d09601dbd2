package nodetest

import (
	"context"
	"net"
	"net/http"

	"github.com/hashicorp/memberlist"

	"github.com/p2pglance/p2pglance/node"
)

// nodeNet is one node's view of a Network: it implements node.Network
// with links the Network can cut.
type nodeNet struct {
	w  *Network
	id string
}

var _ node.Network = (*nodeNet)(nil)

// Listen implements node.Network: connections from a node cut off from
// this one are closed on accept.
func (n *nodeNet) Listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return &linkListener{Listener: ln, n: n}, nil
}

// DialContext implements node.Network: a dial to a node cut off from
// this one fails, and the connection is tracked so that a later cut
// closes it.
func (n *nodeNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if !n.w.allowed(n.id, addr) {
		return nil, linkCut(addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return n.w.track(n.id, conn, addr), nil
}

// PeerTransport implements node.Network: requests to a node cut off from
// this one fail before anything is sent.
func (n *nodeNet) PeerTransport(own http.RoundTripper) http.RoundTripper {
	return &linkTransport{base: own, n: n}
}

// GossipTransport implements node.Network with a gossipTransport.
func (n *nodeNet) GossipTransport(bound memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return newGossipTransport(bound, n)
}

// errLinkCut is returned when a node-to-node link is cut.
type errLinkCut string

func (e errLinkCut) Error() string { return "link to " + string(e) + " is cut" }

// linkCut is the error of a dial over a cut link: a failed dial, so that
// callers know nothing was sent.
func linkCut(addr string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: errLinkCut(addr)}
}

// linkListener closes accepted connections from nodes cut off from n.
type linkListener struct {
	net.Listener
	n *nodeNet
}

// Accept implements net.Listener.
func (l *linkListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.n.w.allowed(l.n.id, conn.RemoteAddr().String()) {
			return conn, nil
		}
		_ = conn.Close()
	}
}

// linkTransport refuses HTTP requests to nodes cut off from n.
type linkTransport struct {
	base http.RoundTripper
	n    *nodeNet
}

// RoundTrip implements http.RoundTripper.
func (t *linkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.n.w.allowed(t.n.id, r.URL.Host) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, linkCut(r.URL.Host)
	}
	return t.base.RoundTrip(r)
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *linkTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
