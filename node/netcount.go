package node

import (
	"context"
	"net"
	"sync/atomic"
)

// netBytes counts the bytes a node sends to and receives from other nodes
// over one of its protocols (the internal HTTP API, Raft): on the
// connections it accepts and on those it dials, as written to and read
// from TCP, so under TLS it counts what crosses the wire. Node.Metrics
// reports the totals.
type netBytes struct {
	sent, received atomic.Int64
}

// countListener wraps ln so that every connection it accepts is counted
// in b.
func countListener(ln net.Listener, b *netBytes) net.Listener {
	return &countedListener{Listener: ln, b: b}
}

type countedListener struct {
	net.Listener
	b *netBytes
}

func (l *countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, b: l.b}, nil
}

// countDial wraps dial so that every connection it opens is counted in b.
func countDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), b *netBytes) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c, b: b}, nil
	}
}

// countedConn counts what passes through Read and Write.
type countedConn struct {
	net.Conn
	b *netBytes
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.b.received.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.b.sent.Add(int64(n))
	return n, err
}
