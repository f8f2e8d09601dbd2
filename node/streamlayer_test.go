package node

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/clusterauth"
)

// streamFor starts a raftStream keyed with secret ("" : no handshake).
func streamFor(t *testing.T, secret string) (*raftStream, *Node) {
	t.Helper()
	n := &Node{cfg: Config{RaftAddr: "127.0.0.1:0"}, net: hostNetwork{}, sec: &security{log: slog.New(slog.DiscardHandler), rejected: new(atomic.Int64)}, log: slog.New(slog.DiscardHandler)}
	if secret != "" {
		k, err := clusterauth.Derive([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		n.sec.keys = []clusterauth.Keys{k}
	}
	s, err := n.newRaftStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, n
}

func TestRaftStream(t *testing.T) {
	const secret = "0123456789abcdef-stream"
	srv, srvNode := streamFor(t, secret)
	peer, _ := streamFor(t, secret)
	stranger, _ := streamFor(t, "another secret, not the cluster's")
	plain, _ := streamFor(t, "")

	c, err := peer.Dial("127.0.0.1:1", time.Second)
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	c, err = peer.Dial(raft.ServerAddress(srv.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatalf("dial with the secret: %v", err)
	}
	defer c.Close()
	in, err := srv.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(in, got); err != nil || string(got) != "ping" {
		t.Fatalf("read %q, %v", got, err)
	}
	for name, s := range map[string]*raftStream{"another secret": stranger, "no secret": plain} {
		if c, err := s.Dial(raft.ServerAddress(srv.Addr().String()), 5*time.Second); err == nil {
			// Without a key the dialer does no handshake and sends
			// Raft's bytes at once: the server must close the
			// connection instead of passing it on.
			if _, err := c.Write(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, rerr := c.Read(make([]byte, 1)); rerr == nil || isTimeout(rerr) {
				t.Errorf("%s: connection kept open (%v)", name, rerr)
			}
			c.Close()
		}
	}
	waitFor(t, func() bool { return srvNode.metrics.raftRejected.Load() == 2 })

	// A client that never speaks holds its handshake open until Close,
	// which cuts it at once.
	silent, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.pending) == 1 })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("silent client after Close: %v, want closed", err)
	}
	if _, err := srv.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
