package testcluster_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/clusterauth"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/node/nodetest"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
	"github.com/p2pglance/p2pglance/testcluster"
)

const (
	clusterSecret  = "the secret of the cluster under test"
	outsiderSecret = "a secret the cluster does not know"
)

func keysOf(t *testing.T, secret string) clusterauth.Keys {
	t.Helper()
	k, err := clusterauth.Derive([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// peerClient signs internal requests with secret's key, as a node does
// (tlsCfg, if set, for peer TLS).
func peerClient(t *testing.T, secret string, tlsCfg *tls.Config) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: peer.SignTransport([][]byte{keysOf(t, secret).Peer}, "test", &http.Transport{TLSClientConfig: tlsCfg})}
}

// peerDo sends one internal request and returns its status and body; an
// answer a signing client cannot authenticate (a refusal) comes back as
// the status in the error.
func peerDo(t *testing.T, c *http.Client, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if errors.Is(err, clusterauth.ErrBadResponse) && strings.Contains(err.Error(), "status 401") {
		return http.StatusUnauthorized, nil
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func forgedCreate(t *testing.T) (string, []byte) {
	t.Helper()
	id := uuid.NewString()
	now := time.Now().UTC()
	b, err := raftfsm.Encode(&raftfsm.CreateImage{Image: &catalog.Image{ID: id, Status: "queued", Visibility: "shared", CreatedAt: now, UpdatedAt: now}})
	if err != nil {
		t.Fatal(err)
	}
	return id, b
}

func authRejected(c *testcluster.Cluster) int64 {
	var n int64
	for i := range c.Size() {
		n += c.Node(i).Metrics().AuthRejected
	}
	return n
}

// TestInternalAPIRefusesOutsiders: every internal endpoint answers 401,
// and does nothing, to a request that is unsigned or signed with another
// secret; the same requests signed with the cluster's secret work.
func TestInternalAPIRefusesOutsiders(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithSecret(clusterSecret))
	data := randomBytes(1, 100<<10)
	img := createAndUpload(t, glance(c.URL(0), ""), "guarded", data)
	held := chunkstore.Sum(data).String()
	pushed := randomBytes(2, 50<<10)
	pushedDigest := chunkstore.Sum(pushed).String()
	leader := c.WaitForLeader()
	other := (leader + 1) % 3
	peer := func(i int) string { return "http://" + c.Member(i).Config.PeerAddr }
	forgedID, forged := forgedCreate(t)
	join, _ := json.Marshal(map[string]string{"id": "intruder", "raft_addr": "127.0.0.1:1", "gossip_addr": "127.0.0.1:1"})
	missing, _ := json.Marshal(map[string]any{"image": img.ID, "digests": []string{held, pushedDigest}})
	replicate, _ := json.Marshal(map[string]string{"image_id": img.ID})
	calls := []struct {
		name, method, url string
		body              []byte
	}{
		{"chunk GET", http.MethodGet, peer(0) + "/internal/v1/chunks/" + held, nil},
		{"chunk PUT", http.MethodPut, peer(other) + "/internal/v1/chunks/" + pushedDigest, pushed},
		{"apply (forwarded write)", http.MethodPost, peer(leader) + "/internal/v1/apply", forged},
		{"join", http.MethodPost, peer(other) + "/internal/v1/join", join},
		{"missing", http.MethodPost, peer(other) + "/internal/v1/missing", missing},
		{"replicate", http.MethodPost, peer(other) + "/internal/v1/replicate", replicate},
		{"stats", http.MethodGet, peer(other) + "/internal/v1/stats", nil},
		{"prefetch progress", http.MethodGet, peer(other) + "/internal/v1/prefetch/x", nil},
		{"unknown path", http.MethodGet, peer(other) + "/internal/v1/nothing", nil},
	}
	outsiders := map[string]*http.Client{
		"unsigned":     {Timeout: time.Minute},
		"other secret": peerClient(t, outsiderSecret, nil),
	}
	before := authRejected(c)
	for who, client := range outsiders {
		for _, call := range calls {
			if code, body := peerDo(t, client, call.method, call.url, call.body); code != http.StatusUnauthorized {
				t.Errorf("%s %s: status %d (%s), want 401", who, call.name, code, body)
			}
		}
	}
	if got, want := authRejected(c)-before, int64(len(outsiders)*len(calls)); got != want {
		t.Errorf("nodes counted %d refusals, want %d", got, want)
	}
	ctx := context.Background()
	insider := peerClient(t, clusterSecret, nil)
	// Nothing happened: the pushed chunk is not held, the forged image
	// does not exist, the intruder is not in the cluster.
	if code, _ := peerDo(t, insider, http.MethodGet, peer(other)+"/internal/v1/chunks/"+pushedDigest, nil); code != http.StatusNotFound {
		t.Errorf("chunk pushed by outsiders: GET status %d, want 404", code)
	}
	info, err := c.Node(leader).Cluster(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.Nodes {
		if n.ID == "intruder" {
			t.Errorf("outsiders' join added %+v", n)
		}
	}
	// The same calls with the cluster's secret go through.
	code, body := peerDo(t, insider, http.MethodGet, peer(0)+"/internal/v1/chunks/"+held, nil)
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("insider chunk GET: %d, %d bytes", code, len(body))
	}
	if code, _ := peerDo(t, insider, http.MethodPut, peer(other)+"/internal/v1/chunks/"+pushedDigest, pushed); code != http.StatusNoContent {
		t.Errorf("insider chunk PUT: %d", code)
	}
	if code, _ := peerDo(t, insider, http.MethodGet, peer(other)+"/internal/v1/chunks/"+pushedDigest, nil); code != http.StatusOK {
		t.Errorf("chunk pushed by an insider: GET status %d", code)
	}
	insiderID, cmd := forgedCreate(t)
	if code, body := peerDo(t, insider, http.MethodPost, peer(leader)+"/internal/v1/apply", cmd); code != http.StatusOK {
		t.Errorf("insider apply: %d %s", code, body)
	}
	if _, err := c.Node(leader).Image(ctx, insiderID); err != nil {
		t.Errorf("insider's command not applied: %v", err)
	}
	// Applied in order: had the outsiders' command gone through, it
	// would be there by now.
	if _, err := c.Node(leader).Image(ctx, forgedID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("outsiders' command: %v, want not found", err)
	}
	for _, call := range calls[4:7] { // missing, replicate, stats
		if code, body := peerDo(t, insider, call.method, call.url, call.body); code != http.StatusOK {
			t.Errorf("insider %s: %d %s", call.name, code, body)
		}
	}
}

// startOutsider runs a node configured with secret that tries to join
// through join.
func startOutsider(t *testing.T, secret string, join []string) *node.Node {
	t.Helper()
	n, err := node.New(node.Config{
		NodeID: "outsider", Timing: nodetest.Timing(), Join: join, ClusterSecret: secret,
		APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
	}, node.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// TestOutsiderNodeCannotJoin: a node with another secret is refused at
// the door, and even when added to Raft behind its back (a join signed
// with the cluster's secret) it cannot take part: the leader's Raft
// connections to it fail the handshake, so it never gets the catalog.
func TestOutsiderNodeCannotJoin(t *testing.T) {
	// Five voters allowed, three running: a join that gets through adds
	// a voter to Raft.
	c := testcluster.New(t, 3, testcluster.WithSecret(clusterSecret), testcluster.WithVoters(5))
	out := startOutsider(t, outsiderSecret, []string{c.Member(0).Config.PeerAddr})
	c.Eventually(20*time.Second, "node 0 refuses the outsider's join", func() bool { return c.Node(0).Metrics().AuthRejected > 0 })
	ctx := context.Background()
	inRaft := func() bool {
		info, err := c.Node(c.WaitForLeader()).Cluster(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range info.Nodes {
			if n.ID == out.ID() && (n.Role == "voter" || n.Role == "leader" || n.Role == "nonvoter") {
				return true
			}
		}
		return false
	}
	if inRaft() {
		t.Fatal("the outsider is in the Raft configuration")
	}
	for i := range 3 {
		if got := c.Node(i).AliveMembers(); got != 3 {
			t.Errorf("node %d gossips with %d members, want 3", i, got)
		}
	}
	if got := out.AliveMembers(); got != 1 {
		t.Errorf("the outsider gossips with %d members", got)
	}

	// Add it to Raft anyway.
	leader := c.WaitForLeader()
	join, _ := json.Marshal(map[string]string{"id": out.ID(), "raft_addr": out.RaftAddr(), "gossip_addr": out.GossipAddr()})
	if code, body := peerDo(t, peerClient(t, clusterSecret, nil), http.MethodPost, "http://"+c.Member(leader).Config.PeerAddr+"/internal/v1/join", join); code != http.StatusOK {
		t.Fatalf("signed join: %d %s", code, body)
	}
	if !inRaft() {
		t.Fatal("the signed join did not add the outsider to Raft")
	}
	c.Eventually(20*time.Second, "the outsider refuses the leader's Raft connections", func() bool { return out.Metrics().RaftRejected > 0 })
	img := createAndUpload(t, glance(c.URL(leader), ""), "after", randomBytes(3, 1000))
	for i := range 3 {
		if _, err := c.Node(i).Image(ctx, img.ID); err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	if _, err := out.Image(ctx, img.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("the outsider's catalog: %v, want not found", err)
	}
	imgs, err := out.ListImages(ctx, catalog.ListQuery{})
	if err != nil || len(imgs) != 0 {
		t.Errorf("the outsider lists %d images (%v)", len(imgs), err)
	}
}

// TestRaftPortRefusesUnauthenticatedConnections: bytes without the
// handshake, or a handshake with another secret, get the connection
// closed; the handshake with the cluster's secret passes.
func TestRaftPortRefusesUnauthenticatedConnections(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithSecret(clusterSecret))
	addr := c.Member(0).Config.RaftAddr
	dial := func() net.Conn {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// Raw bytes (a Raft RPC type byte and then anything) are dropped.
	raw := dial()
	if _, err := raw.Write(append([]byte{0}, bytes.Repeat([]byte{0x81}, 100)...)); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := raw.Read(make([]byte, 64)); err == nil || isTimeout(err) {
		t.Errorf("raw connection: read %d bytes, err %v; want it closed", n, err)
	}
	wrong := dial()
	if err := clusterauth.ClientHandshake(wrong, [][]byte{keysOf(t, outsiderSecret).Raft}, 5*time.Second); !errors.Is(err, clusterauth.ErrHandshake) {
		t.Errorf("handshake with another secret: %v", err)
	}
	wrong.Close()
	if err := clusterauth.ClientHandshake(dial(), [][]byte{keysOf(t, clusterSecret).Raft}, 5*time.Second); err != nil {
		t.Errorf("handshake with the cluster's secret: %v", err)
	}
	c.Eventually(10*time.Second, "two refusals counted", func() bool { return c.Node(0).Metrics().RaftRejected == 2 })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestGossipRefusesOutsiders: memberlist with another key, or none,
// cannot join the cluster's gossip; with the key derived from the
// cluster's secret it can (so the nodes do use it).
func TestGossipRefusesOutsiders(t *testing.T) {
	c := testcluster.New(t, 2, testcluster.WithSecret(clusterSecret))
	try := func(name string, key []byte) error {
		g, err := gossip.New(gossip.Config{Meta: gossip.Meta{ID: name}, BindAddr: "127.0.0.1:0", SecretKey: key, Timing: nodetest.Timing().Gossip})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = g.Leave(ctx)
			_ = g.Shutdown()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = g.Join(ctx, []string{c.Node(0).GossipAddr()})
		return err
	}
	if err := try("no-key", nil); err == nil {
		t.Error("gossip without a key joined")
	}
	if err := try("other-key", keysOf(t, outsiderSecret).Gossip); err == nil {
		t.Error("gossip with another secret's key joined")
	}
	for i := range 2 {
		if got := c.Node(i).AliveMembers(); got != 2 {
			t.Errorf("node %d sees %d members", i, got)
		}
	}
	if err := try("insider", keysOf(t, clusterSecret).Gossip); err != nil {
		t.Errorf("gossip with the cluster's key: %v", err)
	}
}

// TestAPITLS: the Glance API serves HTTPS with the given certificate; a
// client that trusts the CA works, one that does not is refused.
func TestAPITLS(t *testing.T) {
	pki := newTestPKI(t, "api")
	cert, key := pki.issue(t, "api")
	c := testcluster.New(t, 1, testcluster.WithReplicas(1), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.TLSCert, cfg.TLSKey = cert, key
	}))
	url := c.URL(0)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	trusted := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	resp, err := trusted.Get(url + "/versions")
	if err != nil {
		t.Fatalf("trusted client: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"href": "https://`) && !strings.Contains(string(body), `"href":"https://`) {
		t.Errorf("versions over TLS: %d %s", resp.StatusCode, body)
	}
	gc := glance(url, "")
	gc.ProviderClient.HTTPClient = *trusted
	data := randomBytes(4, 300<<10)
	img := createAndUpload(t, gc, "tls", data)
	checkImageData(t, img, data, download(t, gc, img.ID))

	if _, err := (&http.Client{}).Get(url + "/versions"); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("client without the CA: %v, want an unknown-authority error", err)
	}
	if resp, err := http.Get("http://" + c.Member(0).Config.APIAddr + "/versions"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS port")
		}
	}
}

// TestPeerTLS: with peer certificates from the cluster's CA, Raft, chunk
// transfer and forwarded writes run over mutual TLS; a client without a
// certificate from that CA cannot even reach the signature check.
func TestPeerTLS(t *testing.T) {
	pki := newTestPKI(t, "peers")
	c := testcluster.New(t, 3, testcluster.WithSecret(clusterSecret), testcluster.WithReplicas(2), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.PeerTLSCert, cfg.PeerTLSKey = pki.issue(t, fmt.Sprintf("node%d", i))
		cfg.PeerTLSCA = pki.caFile
	}))
	leader := c.WaitForLeader()
	f1, f2 := (leader+1)%3, (leader+2)%3
	data := randomBytes(5, 1<<20) // 4 chunks
	img := createAndUpload(t, glance(c.URL(f1), ""), "peer-tls", data)
	checkImageData(t, img, data, download(t, glance(c.URL(f2), ""), img.ID))
	checkImageData(t, img, data, download(t, glance(c.URL(leader), ""), img.ID))

	peerURL := "https://" + c.Member(f2).Config.PeerAddr + "/internal/v1/stats"
	withCert := &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.clientCert(t, "client")}}
	if code, _ := peerDo(t, peerClient(t, clusterSecret, withCert), http.MethodGet, peerURL, nil); code != http.StatusOK {
		t.Errorf("signed request with a cluster certificate: %d", code)
	}
	if code, _ := peerDo(t, &http.Client{Transport: &http.Transport{TLSClientConfig: withCert}}, http.MethodGet, peerURL, nil); code != http.StatusUnauthorized {
		t.Errorf("unsigned request with a cluster certificate: %d, want 401", code)
	}
	other := newTestPKI(t, "elsewhere")
	for name, cfg := range map[string]*tls.Config{
		"no client certificate":            {RootCAs: pki.pool},
		"a certificate from another CA":    {RootCAs: pki.pool, Certificates: []tls.Certificate{other.clientCert(t, "stranger")}},
		"a server certificate not trusted": {Certificates: []tls.Certificate{pki.clientCert(t, "client2")}},
	} {
		client := peerClient(t, clusterSecret, cfg)
		req, _ := http.NewRequest(http.MethodGet, peerURL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: status %d, want a TLS failure", name, resp.StatusCode)
		}
	}
	// Raft's port speaks TLS too: without a certificate, no handshake.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", c.Member(f2).Config.RaftAddr, &tls.Config{RootCAs: pki.pool})
	if err == nil {
		// TLS 1.3 reports the missing client certificate on first read.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || isTimeout(err) {
		t.Errorf("raft port without a client certificate: %v", err)
	}
}

// TestClusterViewHidesInternalAddresses: GET /p2p/v1/cluster names each
// node's peer and Raft addresses to admins only; a project member gets
// the same list without them (the JSON has no such fields).
func TestClusterViewHidesInternalAddresses(t *testing.T) {
	c := testcluster.New(t, 2, testcluster.WithReplicas(1))
	get := func(headers map[string]string) []map[string]any {
		t.Helper()
		var nodes []map[string]any
		c.Eventually(10*time.Second, "both nodes listed", func() bool {
			req, _ := http.NewRequest(http.MethodGet, c.URL(1)+"/p2p/v1/cluster", nil)
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Nodes []map[string]any `json:"nodes"`
			}
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
				t.Fatalf("status %d", resp.StatusCode)
			}
			nodes = body.Nodes
			return len(nodes) == 2 && nodes[0]["alive"] == true && nodes[1]["alive"] == true
		})
		return nodes
	}
	for who, headers := range map[string]map[string]string{
		"noauth admin (no headers)": nil,
		"project admin":             {"X-Project-Id": "p1", "X-Roles": "admin,member,reader"},
	} {
		for _, n := range get(headers) {
			if n["peer_address"] == nil || n["raft_address"] == nil || n["api_address"] == nil {
				t.Errorf("%s: node %v without its addresses", who, n)
			}
		}
	}
	for _, n := range get(map[string]string{"X-Project-Id": "p1", "X-Roles": "member,reader"}) {
		if _, ok := n["peer_address"]; ok {
			t.Errorf("a member sees peer_address: %v", n)
		}
		if _, ok := n["raft_address"]; ok {
			t.Errorf("a member sees raft_address: %v", n)
		}
		if n["api_address"] == nil || n["id"] == nil || n["role"] == nil {
			t.Errorf("a member's node entry %v incomplete", n)
		}
	}
}
