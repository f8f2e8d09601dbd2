package node

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// loopbackOnly is the host's network, except that it refuses to bind
// anything but loopback (and tells the test, if refused is set): a test
// of the open-cluster check never exposes a port beyond this host, even
// if the check fails.
type loopbackOnly struct {
	hostNetwork
	refused func(addr string)
}

var errNotLoopback = errors.New("test network binds loopback only")

func (n loopbackOnly) Listen(network, addr string) (net.Listener, error) {
	if !isLoopback(addr) {
		if n.refused != nil {
			n.refused(addr)
		}
		return nil, errNotLoopback
	}
	return n.hostNetwork.Listen(network, addr)
}

func loopbackConfig() Config {
	return Config{DataDir: "unused", APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0"}
}

// TestValidateOpenCluster: a peer, Raft or gossip address beyond
// loopback needs a cluster secret or mutual peer TLS, or --insecure; peer
// TLS needs its CA; a previous secret needs a current one.
func TestValidateOpenCluster(t *testing.T) {
	const secret = "a cluster secret, 16+ bytes"
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		open bool   // refused as an open cluster
		err  string // refused for something else (substring)
	}{
		{name: "loopback, no secret", set: func(*Config) {}},
		{name: "localhost", set: func(c *Config) { c.PeerAddr = "localhost:9492" }},
		{name: "IPv6 loopback", set: func(c *Config) { c.GossipAddr = "[::1]:9692" }},
		{name: "127.0.0.0/8", set: func(c *Config) { c.RaftAddr = "127.1.2.3:9592" }},
		{name: "peer on every interface", set: func(c *Config) { c.PeerAddr = "0.0.0.0:9492" }, open: true},
		{name: "peer without a host", set: func(c *Config) { c.PeerAddr = ":9492" }, open: true},
		{name: "raft on a LAN address", set: func(c *Config) { c.RaftAddr = "10.0.0.5:9592" }, open: true},
		{name: "gossip on every IPv6 interface", set: func(c *Config) { c.GossipAddr = "[::]:9692" }, open: true},
		{name: "a host name", set: func(c *Config) { c.PeerAddr = "node1.example:9492" }, open: true},
		{name: "beyond loopback, with a secret", set: func(c *Config) { c.PeerAddr, c.ClusterSecret = "0.0.0.0:9492", secret }},
		{name: "beyond loopback, mutual TLS", set: func(c *Config) {
			c.PeerAddr, c.PeerTLSCert, c.PeerTLSKey, c.PeerTLSCA = "0.0.0.0:9492", "p.pem", "p.key", "ca.pem"
		}},
		{name: "beyond loopback, insecure", set: func(c *Config) { c.PeerAddr, c.Insecure = "0.0.0.0:9492", true }},
		{name: "peer TLS without a CA", set: func(c *Config) { c.PeerTLSCert, c.PeerTLSKey = "p.pem", "p.key" }, err: "--peer-tls-ca"},
		{name: "peer TLS without a CA, beyond loopback", set: func(c *Config) {
			c.PeerAddr, c.PeerTLSCert, c.PeerTLSKey = "0.0.0.0:9492", "p.pem", "p.key"
		}, open: true, err: "peer tls needs a CA"},
		{name: "previous secret alone", set: func(c *Config) { c.ClusterSecretPrevious = secret }, err: "needs a current one"},
		{name: "short previous secret", set: func(c *Config) { c.ClusterSecret, c.ClusterSecretPrevious = secret, "short" }, err: "at least 16 bytes"},
		{name: "previous secret is the current one", set: func(c *Config) { c.ClusterSecret, c.ClusterSecretPrevious = secret, secret }, err: "is the current one"},
		{name: "rotating", set: func(c *Config) {
			c.PeerAddr, c.ClusterSecret, c.ClusterSecretPrevious = "0.0.0.0:9492", secret, "the old secret, 16+ bytes"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loopbackConfig()
			tc.set(&c)
			c.applyDefaults()
			err := c.Validate()
			if got := errors.Is(err, ErrUnauthenticatedCluster); got != tc.open {
				t.Errorf("open cluster refused: %v, want %v (%v)", got, tc.open, err)
			}
			if tc.open {
				for _, flag := range []string{"--cluster-secret", "--cluster-secret-file", "P2PGLANCE_CLUSTER_SECRET", "--peer-tls-cert", "--peer-tls-key", "--peer-tls-ca", "--insecure"} {
					if !strings.Contains(err.Error(), flag) {
						t.Errorf("the refusal does not name %s: %v", flag, err)
					}
				}
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want one with %q", err, tc.err)
			}
			if !tc.open && tc.err == "" && err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

// TestNewRefusesOpenCluster: New refuses before binding anything.
func TestNewRefusesOpenCluster(t *testing.T) {
	cfg := loopbackConfig()
	cfg.PeerAddr = "0.0.0.0:0"
	nw := loopbackOnly{refused: func(addr string) { t.Errorf("New tried to bind %s", addr) }}
	if _, err := New(cfg, InMemory(), WithNetwork(nw)); !errors.Is(err, ErrUnauthenticatedCluster) {
		t.Fatalf("New: %v, want an open-cluster refusal", err)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInsecureWarns: with --insecure a node beyond loopback without a
// secret starts, warning loudly at start (New gets as far as binding the
// peer port, which the test network refuses), and again where a node
// without a secret warns when it joins or is joined.
func TestInsecureWarns(t *testing.T) {
	var logs syncBuffer
	cfg := loopbackConfig()
	cfg.PeerAddr, cfg.Insecure = "0.0.0.0:0", true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := New(cfg, InMemory(), WithNetwork(loopbackOnly{})); !errors.Is(err, errNotLoopback) {
		t.Fatalf("New: %v, want it to get as far as binding the peer port", err)
	}
	const loud = "INSECURE (--insecure): peer address 0.0.0.0:0 is not loopback"
	if got := strings.Count(logs.String(), loud); got != 1 {
		t.Fatalf("%d warnings at start, want 1:\n%s", got, logs.String())
	}
	s, err := newSecurity(cfg, cfg.Logger, new(atomic.Int64))
	if err != nil {
		t.Fatal(err)
	}
	s.warnInsecure()
	s.warnInsecure()
	if got := strings.Count(logs.String(), loud); got != 2 {
		t.Fatalf("%d warnings after joins, want 2 (one at start, one at the first join):\n%s", got, logs.String())
	}
}
