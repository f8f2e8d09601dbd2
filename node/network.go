package node

import (
	"context"
	"net"
	"net/http"

	"github.com/hashicorp/memberlist"
)

// Network carries a node's traffic with other nodes: the ports they
// connect to (the internal HTTP API and Raft), the connections this node
// opens to theirs, its requests to them, and gossip. It does not carry the
// Glance API, which serves clients.
//
// Production nodes use the host's network (hostNetwork: net.Listen, a
// plain net.Dialer, no wrapping). Tests pass another with the WithNetwork
// option: node/nodetest.Network cuts links between the nodes of one
// process to partition a cluster.
type Network interface {
	// Listen binds addr for connections from other nodes.
	Listen(network, addr string) (net.Listener, error)
	// DialContext opens a connection to another node's internal HTTP or
	// Raft port.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	// PeerTransport returns the RoundTripper for this node's requests to
	// other nodes, given the node's own (an *http.Transport that dials
	// with DialContext).
	PeerTransport(own http.RoundTripper) http.RoundTripper
	// GossipTransport returns memberlist's transport, given the one
	// gossip bound at Config.GossipAddr.
	GossipTransport(bound memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

// hostNetwork is the host's network, as production nodes use it.
type hostNetwork struct{}

var _ Network = hostNetwork{}

// Listen implements Network with net.Listen.
func (hostNetwork) Listen(network, addr string) (net.Listener, error) {
	return net.Listen(network, addr)
}

// DialContext implements Network with a zero net.Dialer (what
// http.Transport uses when it has no DialContext).
func (hostNetwork) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// PeerTransport implements Network: the node's own transport.
func (hostNetwork) PeerTransport(own http.RoundTripper) http.RoundTripper { return own }

// GossipTransport implements Network: the transport gossip bound.
func (hostNetwork) GossipTransport(bound memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return bound
}
