package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/clusterauth"
)

// streamHandshakeTimeout bounds the TLS and cluster-secret handshakes of
// a Raft connection.
const streamHandshakeTimeout = 5 * time.Second

// raftStream is the stream layer under Raft's network transport: TCP,
// then TLS when the peer port has a certificate, then the cluster-secret
// handshake when there is a secret. Raft only ever sees connections that
// passed both; any other connection is closed.
//
// Dial secures an outgoing connection before returning it. Accepting
// runs in the background: acceptLoop takes TCP connections, admit
// secures each in its own goroutine (a slow peer cannot hold up the
// others) and queues it for Accept.
type raftStream struct {
	ln        net.Listener
	keys      [][]byte    // Raft handshake keys, the current secret's first; none: no handshake
	serverTLS *tls.Config // nil: no TLS
	clientTLS *tls.Config
	log       *slog.Logger
	dial      func(ctx context.Context, network, addr string) (net.Conn, error) // Network.DialContext
	// onReject is told about an inbound connection that failed its
	// handshake.
	onReject func(remote string, err error)

	accepted  chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	pending   map[net.Conn]struct{} // connections in their handshake
	wg        sync.WaitGroup
}

var _ raft.StreamLayer = (*raftStream)(nil)

// newRaftTransport binds the Raft port and builds Raft's transport on a
// raftStream.
func (n *Node) newRaftTransport(hlog hclog.Logger) (*raft.NetworkTransport, error) {
	s, err := n.newRaftStream()
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: s, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	}), nil
}

// newRaftStream binds the Raft port and starts accepting on it.
func (n *Node) newRaftStream() (*raftStream, error) {
	ln, err := n.net.Listen("tcp", n.cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("listen raft: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("raft address %s is not advertisable: bind a specific IP", ln.Addr())
	}
	s := &raftStream{
		ln:        countListener(ln, &n.metrics.raftNet),
		serverTLS: n.sec.peerServerTLS,
		clientTLS: n.sec.peerClientTLS,
		log:       n.log,
		dial:      countDial(n.net.DialContext, &n.metrics.raftNet),
		onReject: func(remote string, err error) {
			n.metrics.raftRejected.Add(1)
			n.sec.logRejection("refused a raft connection", "remote", remote, "err", err)
		},
		accepted: make(chan net.Conn),
		closed:   make(chan struct{}),
		pending:  map[net.Conn]struct{}{},
	}
	s.keys = n.sec.raftKeys()
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Dial opens a connection to a peer's Raft port and secures it.
func (s *raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 || timeout > streamHandshakeTimeout {
		timeout = streamHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	c, err := s.dial(ctx, "tcp", string(addr))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("dial raft %s: %w", addr, err)
	}
	sc, err := s.secure(c, false, string(addr), timeout)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("dial raft %s: %w", addr, err)
	}
	return sc, nil
}

// Accept returns the next inbound connection that passed its handshake.
func (s *raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.accepted:
		return c, nil
	case <-s.closed:
		return nil, fmt.Errorf("raft stream: %w", net.ErrClosed)
	}
}

// acceptLoop takes TCP connections until the listener closes.
func (s *raftStream) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-s.closed:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go s.admit(c)
	}
}

// admit secures an inbound connection and hands it to Accept, or
// closes it.
func (s *raftStream) admit(c net.Conn) {
	defer s.wg.Done()
	sc, err := s.secure(c, true, "", streamHandshakeTimeout)
	s.untrack(c)
	if err != nil {
		_ = c.Close()
		if s.onReject != nil {
			s.onReject(c.RemoteAddr().String(), err)
		}
		return
	}
	select {
	case s.accepted <- sc:
	case <-s.closed:
		_ = sc.Close()
	}
}

// secure runs TLS (if configured) and the cluster-secret handshake (if
// there is a key) on c, within timeout, and returns the connection Raft
// is to use.
func (s *raftStream) secure(c net.Conn, server bool, addr string, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	if s.serverTLS != nil {
		var tc *tls.Conn
		if server {
			tc = tls.Server(c, s.serverTLS)
		} else {
			cfg := s.clientTLS.Clone()
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
			tc = tls.Client(c, cfg)
		}
		if err := tc.SetDeadline(deadline); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c = tc
	}
	if len(s.keys) > 0 {
		handshake := clusterauth.ClientHandshake
		if server {
			handshake = clusterauth.ServerHandshake
		}
		if err := handshake(c, s.keys, time.Until(deadline)); err != nil {
			return nil, err
		}
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear deadline: %w", err)
	}
	return c, nil
}

// track records a connection in its handshake; false once closed.
func (s *raftStream) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return false
	}
	s.pending[c] = struct{}{}
	return true
}

func (s *raftStream) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
}

// Close stops accepting, cuts the handshakes in progress and waits for
// the stream's goroutines.
func (s *raftStream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.pending {
			_ = c.Close()
		}
		s.pending = nil
		s.mu.Unlock()
		s.wg.Wait()
	})
	if err != nil {
		return fmt.Errorf("close raft listener: %w", err)
	}
	return nil
}

// Addr is the bound (and advertised) Raft address.
func (s *raftStream) Addr() net.Addr { return s.ln.Addr() }
