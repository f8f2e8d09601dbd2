package node

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// Links decides which other nodes this node can talk to. Tests set
// Config.Links to cut the network between nodes of one process (a
// partition); nil lets all traffic flow. Every node-to-node path consults
// it: the Raft transport, gossip (memberlist packets and streams) and
// the internal HTTP API, in both directions.
type Links interface {
	// Allowed reports whether traffic may flow between this node and the
	// peer at addr: one of the peer's listen addresses, or the remote
	// address of a connection that peer opened.
	Allowed(addr string) bool
	// Track registers conn, which this node opened to the peer listening
	// at addr, and returns the conn to use instead: the implementation
	// closes it when the link to that peer is cut (so pooled connections
	// do not outlive a partition) and uses its local address to recognize
	// the connection at the receiving end.
	Track(conn net.Conn, addr string) net.Conn
}

// errLinkCut is returned when a node-to-node link is cut.
type errLinkCut string

func (e errLinkCut) Error() string { return "link to " + string(e) + " is cut" }

// linkCut is the error of a dial over a cut link: a failed dial, so that
// callers know nothing was sent.
func linkCut(addr string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: errLinkCut(addr)}
}

// linkDial dials addr unless the link to it is cut, and tracks the
// connection.
func linkDial(ctx context.Context, links Links, network, addr string) (net.Conn, error) {
	if !links.Allowed(addr) {
		return nil, linkCut(addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return links.Track(conn, addr), nil
}

// linkListener drops accepted connections whose peer is cut off.
type linkListener struct {
	net.Listener
	links Links
}

func (l linkListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.links.Allowed(conn.RemoteAddr().String()) {
			return conn, nil
		}
		_ = conn.Close()
	}
}

// linkStream is a Raft stream layer whose links can be cut: dials to a
// cut-off peer fail, their pooled connections are closed, and
// connections from it are dropped on accept. It wraps the node's
// raftStream (streamlayer.go).
type linkStream struct {
	raft.StreamLayer
	links Links
}

// Accept implements net.Listener.
func (s linkStream) Accept() (net.Conn, error) {
	return linkListener{Listener: s.StreamLayer, links: s.links}.Accept()
}

// Dial implements raft.StreamLayer.
func (s linkStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if !s.links.Allowed(string(addr)) {
		return nil, linkCut(string(addr))
	}
	conn, err := s.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	return s.links.Track(conn, string(addr)), nil
}

// linkTransport refuses HTTP requests to cut-off peers.
type linkTransport struct {
	base  http.RoundTripper
	links Links
}

// withLinks makes a peer RoundTripper honour links. When the node built
// rt itself (own), its connections are also dialed through links, so
// pooled connections to a peer are closed when its link is cut.
func withLinks(rt http.RoundTripper, own bool, links Links) http.RoundTripper {
	if t, ok := rt.(*http.Transport); ok && own {
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return linkDial(ctx, links, network, addr)
		}
	}
	return &linkTransport{base: rt, links: links}
}

// RoundTrip implements http.RoundTripper.
func (t *linkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.links.Allowed(r.URL.Host) {
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
