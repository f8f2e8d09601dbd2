package node

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/p2pglance/p2pglance/peer"
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

// peerRouteNames names the classes of internal HTTP requests whose answers
// routeBytes counts, by path (peer/protocol.go, peer/catalog.go); the
// last, "other", is every path that is none of them.
var peerRouteNames = [...]string{"log", "checkpoint", "apply", "join", "chunk", "missing", "prefetch", "replicate", "stats", "holdings", "holders", "other"}

var peerRoutePaths = [...]string{peer.PathLog, peer.PathCheckpoints, peer.PathApply, peer.PathJoin, peer.PathChunks, peer.PathMissing, peer.PathPrefetch, peer.PathReplicate, peer.PathStats, peer.PathHoldings, peer.PathHolders}

// peerRoute returns the index in peerRouteNames of the request path p.
func peerRoute(p string) int {
	for i, prefix := range peerRoutePaths {
		if p == prefix || strings.HasSuffix(prefix, "/") && strings.HasPrefix(p, prefix) {
			return i
		}
	}
	return len(peerRoutePaths)
}

// routeBytes counts, per class of internal HTTP request, the requests a
// node answered and the bytes of their answers' bodies (headers and TLS
// are not counted: the accepted connections' netBytes hold those too).
type routeBytes struct {
	requests, bytes [len(peerRouteNames)]atomic.Int64
}

// RouteBytes is one class of internal HTTP requests a node answered:
// how many and the bytes of their answers' bodies.
type RouteBytes struct {
	Route           string
	Requests, Bytes int64
}

// snapshot returns the classes that saw a request, in peerRouteNames'
// order.
func (b *routeBytes) snapshot() []RouteBytes {
	var out []RouteBytes
	for i, name := range peerRouteNames {
		if r := b.requests[i].Load(); r > 0 {
			out = append(out, RouteBytes{Route: name, Requests: r, Bytes: b.bytes[i].Load()})
		}
	}
	return out
}

// FormatRouteBytes writes rs as route:requests/bytes, comma-separated
// (the agent's stop line; ParseRouteBytes reads it back).
func FormatRouteBytes(rs []RouteBytes) string {
	var sb strings.Builder
	for i, r := range rs {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s:%d/%d", r.Route, r.Requests, r.Bytes)
	}
	return sb.String()
}

// ParseRouteBytes reads what FormatRouteBytes wrote.
func ParseRouteBytes(s string) ([]RouteBytes, error) {
	var out []RouteBytes
	for f := range strings.SplitSeq(s, ",") {
		if f == "" {
			continue
		}
		name, counts, ok1 := strings.Cut(f, ":")
		reqs, bytes, ok2 := strings.Cut(counts, "/")
		r, err1 := strconv.ParseInt(reqs, 10, 64)
		b, err2 := strconv.ParseInt(bytes, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("route bytes: %q is not route:requests/bytes", f)
		}
		out = append(out, RouteBytes{Route: name, Requests: r, Bytes: b})
	}
	return out, nil
}

// countRoutes wraps h so that every request it answers is counted in b
// by its path's class.
func countRoutes(h http.Handler, b *routeBytes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := peerRoute(r.URL.Path)
		b.requests[i].Add(1)
		h.ServeHTTP(&countedWriter{ResponseWriter: w, n: &b.bytes[i]}, r)
	})
}

// countedWriter counts the body bytes written through it.
type countedWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countedWriter) Write(p []byte) (int, error) {
	k, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(k))
	return k, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *countedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CatalogBytes returns the size of the catalog as a checkpoint (a
// snapshot) of it now: what an agent that lacks the catalog fetches, the
// unit a restart's catalog traffic is measured in.
func (n *Node) CatalogBytes() (int64, error) {
	snap, err := n.fsm.Snapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Release()
	var sink byteSink
	if err := snap.Persist(&sink); err != nil {
		return 0, err
	}
	return sink.n, nil
}

// byteSink is a raft.SnapshotSink that only counts bytes.
type byteSink struct{ n int64 }

func (s *byteSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
func (s *byteSink) Close() error                { return nil }
func (s *byteSink) ID() string                  { return "count" }
func (s *byteSink) Cancel() error               { return nil }
