package clusterauth

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testProtocol is a protocol with content-addressed blobs under /blobs/
// (PUT bodies and GET answers) and X-Test-* headers that steer handlers.
var testProtocol = Protocol{
	ContentAddressedRequest: func(method, path string) bool {
		return method == http.MethodPut && strings.HasPrefix(path, "/blobs/")
	},
	ContentAddressedResponse: func(method, path string) bool {
		return method == http.MethodGet && strings.HasPrefix(path, "/blobs/")
	},
	SignedHeader: func(name string) bool { return strings.HasPrefix(name, "X-Test-") },
}

func mustKeys(t *testing.T, secret string) Keys {
	t.Helper()
	k, err := Derive([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDerive(t *testing.T) {
	a := mustKeys(t, "0123456789abcdef")
	b := mustKeys(t, "0123456789abcdef")
	c := mustKeys(t, "0123456789abcdeg")
	if !bytes.Equal(a.Peer, b.Peer) || !bytes.Equal(a.Raft, b.Raft) || !bytes.Equal(a.Gossip, b.Gossip) {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(a.Peer, c.Peer) || bytes.Equal(a.Gossip, c.Gossip) || bytes.Equal(a.Raft, c.Raft) {
		t.Fatal("different secrets gave a common key")
	}
	if bytes.Equal(a.Peer, a.Raft) || bytes.Equal(a.Peer, a.Gossip) || bytes.Equal(a.Raft, a.Gossip) {
		t.Fatal("two uses share a key")
	}
	if len(a.Gossip) != 32 {
		t.Fatalf("gossip key is %d bytes", len(a.Gossip))
	}
	if _, err := Derive([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

// recorder keeps the last request it carried (headers and body).
type recorder struct {
	mu   sync.Mutex
	last *http.Request
	body []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.last, r.body = req.Clone(req.Context()), b
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// server runs a handler behind a Verifier and counts what reaches it.
type server struct {
	*httptest.Server
	mu      sync.Mutex
	hits    int
	rejects []string
}

func (s *server) counts() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, append([]string(nil), s.rejects...)
}

func newServer(t *testing.T, keys ...[]byte) *server {
	s := &server{}
	v := NewVerifier(keys, testProtocol, func(_ *http.Request, reason string) {
		s.mu.Lock()
		s.rejects = append(s.rejects, reason)
		s.mu.Unlock()
	})
	s.Server = httptest.NewServer(v.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		s.mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/fail" {
			http.Error(w, "nope", http.StatusConflict)
			return
		}
		_, _ = w.Write(append([]byte(r.Method+" "+r.URL.RequestURI()+" "), b...))
	})))
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, c *http.Client, method, url string, body []byte) (int, string, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestSignedRequestsPass(t *testing.T) {
	k := mustKeys(t, "the cluster secret")
	s := newServer(t, k.Peer)
	c := &http.Client{Transport: &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Protocol: testProtocol}}
	code, body, err := do(t, c, http.MethodPost, s.URL+"/apply?x=1", []byte("command"))
	if err != nil || code != 200 || body != "POST /apply?x=1 command" {
		t.Fatalf("signed POST: %d %q %v", code, body, err)
	}
	// A handler's error answer is MAC'd too.
	if code, _, err := do(t, c, http.MethodGet, s.URL+"/fail", nil); err != nil || code != http.StatusConflict {
		t.Fatalf("error answer: %d %v", code, err)
	}
	// A chunk PUT's body is not hashed; the chunk GET's answer not MAC'd.
	big := bytes.Repeat([]byte{7}, 1<<20)
	if code, body, err := do(t, c, http.MethodPut, s.URL+"/blobs/abc?idx=1", big); err != nil || code != 200 || len(body) != len("PUT /blobs/abc?idx=1 ")+len(big) {
		t.Fatalf("chunk PUT: %d %d %v", code, len(body), err)
	}
	if code, _, err := do(t, c, http.MethodGet, s.URL+"/blobs/abc", nil); err != nil || code != 200 {
		t.Fatalf("chunk GET: %d %v", code, err)
	}
	if hits, rejects := s.counts(); hits != 4 || len(rejects) != 0 {
		t.Fatalf("hits %d, rejects %v", hits, rejects)
	}
}

func TestRefusals(t *testing.T) {
	k := mustKeys(t, "the cluster secret")
	other := mustKeys(t, "another cluster secret")
	s := newServer(t, k.Peer)
	rec := &recorder{}
	good := &http.Client{Transport: &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Next: rec, Protocol: testProtocol}}
	if code, _, err := do(t, good, http.MethodPost, s.URL+"/missing", []byte(`{"a":1}`)); err != nil || code != 200 {
		t.Fatalf("signed request: %d %v", code, err)
	}
	resend := func(mutate func(r *http.Request, body []byte) []byte) int {
		t.Helper()
		rec.mu.Lock()
		r, body := rec.last.Clone(rec.last.Context()), rec.body
		rec.mu.Unlock()
		body = mutate(r, append([]byte(nil), body...))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name, reason string
		mutate       func(r *http.Request, body []byte) []byte
	}{
		{"replay", RejectReplay, func(_ *http.Request, b []byte) []byte { return b }},
		{"unsigned", RejectUnsigned, func(r *http.Request, b []byte) []byte { r.Header.Del(HeaderSignature); return b }},
		{"other path", RejectBadSig, func(r *http.Request, b []byte) []byte { r.URL.Path = "/apply"; return b }},
		{"other query", RejectBadSig, func(r *http.Request, b []byte) []byte { r.URL.RawQuery = "x=2"; return b }},
		{"other method", RejectBadSig, func(r *http.Request, b []byte) []byte { r.Method = http.MethodPut; return b }},
		{"other sender", RejectBadSig, func(r *http.Request, b []byte) []byte { r.Header.Set(HeaderNode, "n2"); return b }},
		{"other nonce", RejectBadSig, func(r *http.Request, b []byte) []byte {
			r.Header.Set(HeaderNonce, strings.Repeat("0", 32))
			return b
		}},
		{"added protocol header", RejectBadSig, func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Test-Steer", "1")
			return b
		}},
		{"other body", RejectBody, func(_ *http.Request, b []byte) []byte { return append(b, ' ') }},
		{"chunk body elsewhere", RejectBadSig, func(r *http.Request, b []byte) []byte { r.Header.Set(HeaderBody, BodyChunk); return b }},
	}
	for _, tc := range cases {
		before, _ := s.counts()
		if code := resend(tc.mutate); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, code)
		}
		hits, rejects := s.counts()
		if hits != before {
			t.Errorf("%s: reached the handler", tc.name)
		}
		if got := rejects[len(rejects)-1]; got != tc.reason {
			t.Errorf("%s: refused for %q, want %q", tc.name, got, tc.reason)
		}
	}
	// Wrong key, no signature at all, and a clock outside the window.
	wrong := &http.Client{Transport: &Transport{Keys: [][]byte{other.Peer}, NodeID: "x", Protocol: testProtocol}}
	skewed := &http.Client{Transport: &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Now: func() time.Time { return time.Now().Add(-MaxClockSkew - time.Minute) }, Protocol: testProtocol}}
	for name, c := range map[string]*http.Client{"wrong key": wrong, "skewed clock": skewed} {
		_, _, err := do(t, c, http.MethodGet, s.URL+"/stats", nil)
		if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "401") {
			t.Errorf("%s: err %v, want a 401 refusal", name, err)
		}
	}
	// A valid signature that claims a chunk body where none is allowed.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/apply", strings.NewReader("command"))
	if _, err := (&Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Protocol: testProtocol}).Sign(req, BodyChunk); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("chunk body on apply: %v %v", resp, err)
	} else if _, rejects := s.counts(); rejects[len(rejects)-1] != RejectBody {
		t.Errorf("chunk body on apply refused for %q", rejects[len(rejects)-1])
		resp.Body.Close()
	} else {
		resp.Body.Close()
	}
	if code, _, err := do(t, http.DefaultClient, http.MethodGet, s.URL+"/blobs/abc", nil); err != nil || code != http.StatusUnauthorized {
		t.Errorf("unsigned chunk GET: %d %v", code, err)
	}
	if hits, _ := s.counts(); hits != 1 {
		t.Fatalf("%d requests reached the handler, want 1", hits)
	}
}

func TestForgedAnswerRejected(t *testing.T) {
	k := mustKeys(t, "the cluster secret")
	// A server that does not know the key answers (an impostor).
	forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(HeaderResponse, strings.Repeat("ab", 32))
		_, _ = w.Write([]byte(`{"missing":[]}`))
	}))
	defer forger.Close()
	c := &http.Client{Transport: &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Protocol: testProtocol}}
	if _, _, err := do(t, c, http.MethodPost, forger.URL+"/missing", []byte("{}")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("forged answer: err %v", err)
	}
}

// TestProtocolHooks: what is signed beyond method, URI and body is the
// protocol's say. Under the zero Protocol no header is signed and no
// body is content-addressed.
func TestProtocolHooks(t *testing.T) {
	k := mustKeys(t, "the cluster secret")
	sign := func(p Protocol, method, path string, body []byte) *http.Request {
		t.Helper()
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		tr := &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Protocol: p}
		out := req.Clone(req.Context())
		h, err := tr.bodyHash(req, out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Sign(out, h); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(p Protocol, r *http.Request) string {
		_, _, reason := NewVerifier([][]byte{k.Peer}, p, nil).check(r)
		return reason
	}
	for name, p := range map[string]Protocol{"zero": {}, "test": testProtocol} {
		r := sign(p, http.MethodGet, "/stats", nil)
		r.Header.Set("X-Test-Steer", "1")
		if got, want := check(p, r), map[string]string{"zero": "", "test": RejectBadSig}[name]; got != want {
			t.Errorf("%s protocol, unsigned header added: %q, want %q", name, got, want)
		}
		r = sign(p, http.MethodPut, "/blobs/abc", []byte("blob"))
		if got, want := r.Header.Get(HeaderBody), map[string]string{"zero": bodyDigest([]byte("blob")), "test": BodyChunk}[name]; got != want {
			t.Errorf("%s protocol, blob PUT body signed as %q, want %q", name, got, want)
		}
		if reason := check(p, r); reason != "" {
			t.Errorf("%s protocol, blob PUT refused: %s", name, reason)
		}
	}
}

// handshake runs the client side with keys ck against the server side
// with keys sk over a pipe.
func handshake(ck, sk [][]byte) (cerr, serr error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		err := ServerHandshake(b, sk, 5*time.Second)
		if err != nil {
			b.Close()
		}
		done <- err
	}()
	cerr = ClientHandshake(a, ck, 5*time.Second)
	if cerr != nil {
		a.Close()
	}
	return cerr, <-done
}

func TestHandshake(t *testing.T) {
	k := mustKeys(t, "the cluster secret")
	other := mustKeys(t, "another cluster secret")
	run := handshake
	if cerr, serr := run([][]byte{k.Raft}, [][]byte{k.Raft}); cerr != nil || serr != nil {
		t.Fatalf("same key: client %v, server %v", cerr, serr)
	}
	if cerr, serr := run([][]byte{other.Raft}, [][]byte{k.Raft}); cerr == nil || serr == nil {
		t.Fatalf("wrong key: client %v, server %v", cerr, serr)
	}
	// Something that is not a handshake is refused at once.
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = a.Write([]byte("GET / HTTP/1.1\r\n\r\n" + strings.Repeat("x", 64))) }()
	if err := ServerHandshake(b, [][]byte{k.Raft}, 5*time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("garbage: %v", err)
	}
	b.Close()
}

// TestRotation: while the secret goes from old to new (every node first
// restarted with the new secret and the old one as previous, then with
// the new one alone), any two nodes that share a key talk, over signed
// HTTP (requests and answers) and the Raft handshake; a node with only
// the old secret and one with only the new do not.
func TestRotation(t *testing.T) {
	old, next := mustKeys(t, "the old cluster secret"), mustKeys(t, "the new cluster secret")
	sides := map[string][]Keys{"old": {old}, "new+old": {next, old}, "new": {next}}
	peerKeys := func(ks []Keys) [][]byte {
		var out [][]byte
		for _, k := range ks {
			out = append(out, k.Peer)
		}
		return out
	}
	raftKeys := func(ks []Keys) [][]byte {
		var out [][]byte
		for _, k := range ks {
			out = append(out, k.Raft)
		}
		return out
	}
	for sname, sk := range sides {
		s := newServer(t, peerKeys(sk)...)
		for cname, ck := range sides {
			want := !(sname == "old" && cname == "new" || sname == "new" && cname == "old")
			c := &http.Client{Transport: &Transport{Keys: peerKeys(ck), NodeID: "n1", Protocol: testProtocol}}
			code, body, err := do(t, c, http.MethodPost, s.URL+"/apply", []byte("command"))
			if got := err == nil && code == 200 && body == "POST /apply command"; got != want {
				t.Errorf("HTTP, client %s, server %s: %d %q %v; want ok=%v", cname, sname, code, body, err, want)
			}
			if code, _, err := do(t, c, http.MethodGet, s.URL+"/fail", nil); (err == nil && code == http.StatusConflict) != want {
				t.Errorf("HTTP error answer, client %s, server %s: %d %v; want ok=%v", cname, sname, code, err, want)
			}
			cerr, serr := handshake(raftKeys(ck), raftKeys(sk))
			if got := cerr == nil && serr == nil; got != want {
				t.Errorf("handshake, client %s, server %s: client %v, server %v; want ok=%v", cname, sname, cerr, serr, want)
			}
		}
	}
}

// TestLegacyHandshake: a client whose nonce is random through (no key
// tag: an older node) completes the handshake with a single-key server,
// and a server that sends its proof under its only key satisfies a
// client that tags its nonce: one key, the same handshake as before.
func TestLegacyHandshake(t *testing.T) {
	k := mustKeys(t, "the cluster secret").Raft
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- ServerHandshake(b, [][]byte{k}, 5*time.Second) }()
	hello := []byte(handshakeMagic + strings.Repeat("\x5a", nonceLen))
	if _, err := a.Write(hello); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(a, reply); err != nil {
		t.Fatal(err)
	}
	nc, ns := hello[len(handshakeMagic):], reply[:nonceLen]
	if !bytes.Equal(reply[nonceLen:], handshakeMAC(k, "server", nc, ns)) {
		t.Fatal("server proof is not under its key")
	}
	if _, err := a.Write(handshakeMAC(k, "client", nc, ns)); err != nil {
		t.Fatal(err)
	}
	ok := make([]byte, 1)
	if _, err := io.ReadFull(a, ok); err != nil || ok[0] != handshakeOK {
		t.Fatalf("ok byte %v %v", ok, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}

	// A legacy server: reads the hello, proves under its key.
	c, d := net.Pipe()
	defer c.Close()
	defer d.Close()
	go func() {
		hello := make([]byte, len(handshakeMagic)+nonceLen)
		if _, err := io.ReadFull(d, hello); err != nil {
			return
		}
		ns := bytes.Repeat([]byte{7}, nonceLen)
		_, _ = d.Write(append(append([]byte(nil), ns...), handshakeMAC(k, "server", hello[len(handshakeMagic):], ns)...))
		proof := make([]byte, macLen)
		if _, err := io.ReadFull(d, proof); err != nil || !bytes.Equal(proof, handshakeMAC(k, "client", hello[len(handshakeMagic):], ns)) {
			return
		}
		_, _ = d.Write([]byte{handshakeOK})
	}()
	if err := ClientHandshake(c, [][]byte{k}, 5*time.Second); err != nil {
		t.Fatalf("client against a legacy server: %v", err)
	}
}

// TestSignatureHeader pins the wire: one key, one hex signature (as
// before rotation existed); two keys, two, comma-separated; more
// signatures than MaxKeys are refused.
func TestSignatureHeader(t *testing.T) {
	old, next := mustKeys(t, "the old cluster secret"), mustKeys(t, "the new cluster secret")
	for n, keys := range map[int][][]byte{1: {next.Peer}, 2: {next.Peer, old.Peer}} {
		req := httptest.NewRequest(http.MethodGet, "/stats", nil)
		sigs, err := (&Transport{Keys: keys, NodeID: "n1", Protocol: testProtocol}).Sign(req, emptySHA256)
		if err != nil {
			t.Fatal(err)
		}
		h := req.Header.Get(HeaderSignature)
		if len(sigs) != n || h != strings.Join(sigs, ",") || len(h) != n*64+n-1 {
			t.Errorf("%d keys: header %q, signatures %q", n, h, sigs)
		}
		if _, _, reason := NewVerifier([][]byte{old.Peer}, testProtocol, nil).check(req); (reason == "") != (n == 2) {
			t.Errorf("%d keys, verifier with the old key: %q", n, reason)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/stats", nil)
	sigs, err := (&Transport{Keys: [][]byte{next.Peer}, NodeID: "n1", Protocol: testProtocol}).Sign(req, emptySHA256)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderSignature, strings.Repeat("00,", MaxKeys)+sigs[0])
	if _, _, reason := NewVerifier([][]byte{next.Peer}, testProtocol, nil).check(req); reason != RejectBadSig {
		t.Errorf("%d signatures: %q, want %q", MaxKeys+1, reason, RejectBadSig)
	}
	if _, err := (&Transport{NodeID: "n1"}).Sign(req, emptySHA256); err == nil {
		t.Error("a transport without a key signed")
	}
}
