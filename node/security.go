package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/clusterauth"
	"github.com/p2pglance/p2pglance/peer"
)

// security is what the cluster secret and the TLS settings make of a
// node: the derived keys and the TLS configurations of its listeners and
// of its client to peers.
type security struct {
	// keys are derived from the cluster secret and, while one is
	// rotated out, the previous secret (second); none: no cluster
	// secret, nothing authenticated.
	keys []clusterauth.Keys

	apiTLS        *tls.Config // nil: plain HTTP Glance API
	peerServerTLS *tls.Config // nil: plain internal HTTP and Raft
	peerClientTLS *tls.Config
	apiScheme     string // "http" or "https"
	peerScheme    string
	// exposed lists the peer, Raft and gossip addresses beyond
	// loopback that nothing authenticates (Config.Insecure).
	exposed []string
	// mutualTLS: peer TLS with a CA authenticates peer HTTP and Raft.
	mutualTLS bool

	insecureWarn  sync.Once
	lastRejectLog atomic.Int64 // Unix nanoseconds of the last logged refusal

	log      *slog.Logger  // refusals and the insecure-cluster warning
	rejected *atomic.Int64 // counts refused internal requests (Metrics.AuthRejected)
}

// newSecurity derives the keys and loads the certificates cfg names;
// refusals are logged to log and counted in rejected.
func newSecurity(cfg Config, log *slog.Logger, rejected *atomic.Int64) (*security, error) {
	s := &security{apiScheme: "http", peerScheme: "http", log: log, rejected: rejected, exposed: cfg.exposedUnauthenticated()}
	for _, secret := range []string{cfg.ClusterSecret, cfg.ClusterSecretPrevious} {
		if secret == "" {
			continue
		}
		k, err := clusterauth.Derive([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("cluster secret: %w", err)
		}
		s.keys = append(s.keys, k)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load api tls certificate: %w", err)
		}
		s.apiTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.apiScheme = "https"
	}
	if cfg.PeerTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.PeerTLSCert, cfg.PeerTLSKey)
		if err != nil {
			return nil, fmt.Errorf("load peer tls certificate: %w", err)
		}
		pem, err := os.ReadFile(cfg.PeerTLSCA)
		if err != nil {
			return nil, fmt.Errorf("read peer tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("peer tls ca %s: no PEM certificate", cfg.PeerTLSCA)
		}
		// Mutual TLS: each side presents its certificate and checks the
		// other's against the cluster's CA.
		s.peerServerTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
		s.peerClientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, RootCAs: pool}
		s.peerScheme = "https"
		s.mutualTLS = true
	}
	return s, nil
}

// validateSecurity reports inconsistent secret and TLS settings.
func (c *Config) validateSecurity() []error {
	var errs []error
	if c.ClusterSecret != "" && len(c.ClusterSecret) < clusterauth.MinSecretLen {
		errs = append(errs, fmt.Errorf("cluster secret must be at least %d bytes", clusterauth.MinSecretLen))
	}
	switch p := c.ClusterSecretPrevious; {
	case p == "":
	case c.ClusterSecret == "":
		errs = append(errs, errors.New("a previous cluster secret needs a current one"))
	case len(p) < clusterauth.MinSecretLen:
		errs = append(errs, fmt.Errorf("previous cluster secret must be at least %d bytes", clusterauth.MinSecretLen))
	case p == c.ClusterSecret:
		errs = append(errs, errors.New("the previous cluster secret is the current one"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("api tls needs both a certificate and a key"))
	}
	if (c.PeerTLSCert == "") != (c.PeerTLSKey == "") {
		errs = append(errs, errors.New("peer tls needs both a certificate and a key"))
	}
	if c.PeerTLSCA != "" && c.PeerTLSCert == "" {
		errs = append(errs, errors.New("peer tls ca needs a peer certificate and key"))
	}
	if c.PeerTLSCert != "" && c.PeerTLSCA == "" {
		errs = append(errs, errors.New("peer tls needs a CA (--peer-tls-ca): without one the peer and Raft ports would check no client certificate"))
	}
	if exposed := c.exposedUnauthenticated(); len(exposed) > 0 && !c.Insecure {
		errs = append(errs, fmt.Errorf("%w: %s; anyone who reaches them could join the cluster, write to the catalog and read or push chunks. "+
			"Set a cluster secret on every node (--cluster-secret, --cluster-secret-file or P2PGLANCE_CLUSTER_SECRET), "+
			"or mutual peer TLS (--peer-tls-cert, --peer-tls-key and --peer-tls-ca); or bind them to loopback; --insecure starts anyway",
			ErrUnauthenticatedCluster, strings.Join(exposed, ", ")))
	}
	return errs
}

// ErrUnauthenticatedCluster is a configuration that would open the
// node-to-node ports beyond this host with nothing authenticating them.
var ErrUnauthenticatedCluster = errors.New("node-to-node traffic unauthenticated beyond loopback")

// exposedUnauthenticated lists ("peer address 0.0.0.0:9492") the peer,
// Raft and gossip addresses that are not loopback when neither a
// cluster secret nor mutual peer TLS authenticates node-to-node traffic.
func (c *Config) exposedUnauthenticated() []string {
	if c.ClusterSecret != "" || (c.PeerTLSCert != "" && c.PeerTLSKey != "" && c.PeerTLSCA != "") {
		return nil
	}
	var out []string
	for _, a := range []struct{ name, addr string }{{"peer", c.PeerAddr}, {"raft", c.RaftAddr}, {"gossip", c.GossipAddr}} {
		if a.addr != "" && !isLoopback(a.addr) {
			out = append(out, fmt.Sprintf("%s address %s is not loopback", a.name, a.addr))
		}
	}
	return out
}

// isLoopback reports whether a listen address (host:port) binds only
// loopback: an IP in 127.0.0.0/8 or ::1, or the name localhost. An empty
// host (every interface), any other name or anything unparsable is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// gossipKeys are the memberlist keyring keys: the current secret's and
// the previous one's (nil: none; gossip in the clear).
func (s *security) gossipKeys() (current, previous []byte) {
	if len(s.keys) > 0 {
		current = s.keys[0].Gossip
	}
	if len(s.keys) > 1 {
		previous = s.keys[1].Gossip
	}
	return current, previous
}

// peerKeys are the internal HTTP keys, the current secret's first.
func (s *security) peerKeys() [][]byte {
	var out [][]byte
	for _, k := range s.keys {
		out = append(out, k.Peer)
	}
	return out
}

// raftKeys are the Raft handshake keys, the current secret's first.
func (s *security) raftKeys() [][]byte {
	var out [][]byte
	for _, k := range s.keys {
		out = append(out, k.Raft)
	}
	return out
}

// peerClient builds the node's client of the internal API on c: over
// peer TLS if set, signing what it sends (as self) and checking what it
// gets back when there is a cluster secret.
func (s *security) peerClient(c *http.Client, self string) *peer.Client {
	if len(s.keys) > 0 {
		c.Transport = peer.SignTransport(s.peerKeys(), self, c.Transport)
	}
	return peer.NewClient(c, s.peerScheme)
}

// guardPeer puts the internal API behind the cluster secret: requests
// not signed with it are refused with 401 before any handler runs.
func (s *security) guardPeer(h http.Handler) http.Handler {
	if len(s.keys) == 0 {
		return h
	}
	return peer.Guard(s.peerKeys(), s.peerRejected, h)
}

// peerRejected counts a refused internal request and logs it (at most
// one warning every 10 seconds; the rest at debug level).
func (s *security) peerRejected(r *http.Request, reason string) {
	s.rejected.Add(1)
	s.logRejection("refused an internal request without valid cluster authentication",
		"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "sender", clusterauth.Sender(r), "reason", reason)
}

// logRejection logs a refused peer as a warning, at most every 10
// seconds, so a flood of them cannot flood the log.
func (s *security) logRejection(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.lastRejectLog.Load()
	if now-last >= int64(10*time.Second) && s.lastRejectLog.CompareAndSwap(last, now) {
		s.log.Warn(msg, args...)
		return
	}
	s.log.Debug(msg, args...)
}

// warnExposed warns, loudly, that the node runs with --insecure and
// node-to-node ports nothing authenticates beyond loopback; New calls it
// at start and warnInsecure again when the node joins or is joined.
func (s *security) warnExposed() {
	if len(s.exposed) == 0 {
		return
	}
	s.log.Warn("INSECURE (--insecure): " + strings.Join(s.exposed, ", ") + " and nothing authenticates node-to-node traffic: " +
		"anyone who reaches these ports can join the cluster, write to the catalog and read or push chunks; set --cluster-secret on every node")
}

// warnInsecure warns, once, that a node of a multi-node cluster runs
// without a cluster secret.
func (s *security) warnInsecure() {
	if len(s.keys) > 0 {
		return
	}
	s.insecureWarn.Do(func() {
		switch {
		case len(s.exposed) > 0:
			s.warnExposed()
		case s.mutualTLS:
			s.log.Warn("no cluster secret: gossip is unauthenticated and unencrypted (mutual peer TLS authenticates internal endpoints, chunk transfer and Raft); set --cluster-secret on every node")
		default:
			s.log.Warn("no cluster secret: internal endpoints, chunk transfer and Raft are unauthenticated and gossip is unencrypted; set --cluster-secret on every node")
		}
	})
}
