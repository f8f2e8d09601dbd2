package urlfilter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// mustPolicy builds a Policy or fails the test.
func mustPolicy(t *testing.T, r Rules, opts ...Option) *Policy {
	t.Helper()
	p, err := New(r, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// noDial is a dial seam for policies that must never connect: it fails
// the test with the address it was asked for.
func noDial(t *testing.T) Option {
	return WithDial(func(_ context.Context, _, addr string) (net.Conn, error) {
		t.Errorf("dialled %s, which the filter must refuse", addr)
		return nil, errors.New("test: no connection")
	})
}

// fakeResolver answers every name with the same addresses.
type fakeResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	asked []string
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, host)
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func resolver(m map[string]string) *fakeResolver {
	r := &fakeResolver{addrs: map[string][]netip.Addr{}}
	for name, list := range m {
		for _, a := range strings.Split(list, ",") {
			r.addrs[name] = append(r.addrs[name], netip.MustParseAddr(a))
		}
	}
	return r
}

func TestGlanceLists(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		uri   string
		pass  bool
	}{
		{"default http", Rules{}, "http://example.com/x", true},
		{"default https on 443", Rules{}, "https://example.com:443/x", true},
		{"default: no port passes", Rules{}, "https://example.com/x", true},
		{"default refuses port 8080", Rules{}, "http://example.com:8080/x", false},
		{"default refuses ftp", Rules{}, "ftp://example.com/x", false},
		{"never file", Rules{AllowedSchemes: []string{}}, "file:///etc/passwd", false},
		{"never gopher, even allowed", Rules{AllowedSchemes: []string{"gopher"}}, "gopher://example.com/x", false},
		{"no host", Rules{}, "http:///x", false},
		{"not a URL", Rules{}, "http://[::1", false},
		{"empty", Rules{}, "", false},
		{"allowed schemes https only", Rules{AllowedSchemes: []string{"https"}}, "http://example.com/x", false},
		{"allowed scheme wins over disallowed", Rules{AllowedSchemes: []string{"http"}, DisallowedSchemes: []string{"http"}}, "http://example.com/x", true},
		{"disallowed scheme when no allow list", Rules{AllowedSchemes: []string{}, DisallowedSchemes: []string{"http"}}, "http://example.com/x", false},
		{"scheme case", Rules{AllowedSchemes: []string{"HTTPS"}}, "hTTps://example.com/x", true},
		{"allowed hosts: others refused", Rules{AllowedHosts: []string{"mirror.example"}}, "http://example.com/x", false},
		{"allowed hosts: listed host", Rules{AllowedHosts: []string{"Mirror.Example."}}, "http://mirror.example/x", true},
		{"allowed host wins over disallowed", Rules{AllowedHosts: []string{"a.example"}, DisallowedHosts: []string{"a.example"}}, "http://a.example/x", true},
		{"disallowed host", Rules{DisallowedHosts: []string{"evil.example"}}, "http://EVIL.example./x", false},
		{"disallowed host is a string, not its addresses", Rules{DisallowedHosts: []string{"evil.example"}}, "http://other.example/x", true},
		{"disallowed IP compared as an address", Rules{DisallowedHosts: []string{"2001:db8::1"}}, "http://[2001:db8:0::1]/x", false},
		{"allowed ports", Rules{AllowedPorts: []int{8080}}, "http://example.com:8080/x", true},
		{"allowed ports: 80 given", Rules{AllowedPorts: []int{8080}}, "http://example.com:80/x", false},
		{"allowed ports: none given passes", Rules{AllowedPorts: []int{8080}}, "http://example.com/x", true},
		{"empty allowed ports: any", Rules{AllowedPorts: []int{}}, "http://example.com:8443/x", true},
		{"disallowed port", Rules{AllowedPorts: []int{}, DisallowedPorts: []int{22}}, "http://example.com:22/x", false},
		{"allowed port wins over disallowed", Rules{AllowedPorts: []int{22}, DisallowedPorts: []int{22}}, "http://example.com:22/x", true},
		{"port out of range", Rules{AllowedPorts: []int{}}, "http://example.com:70000/x", false},
		{"localhost", Rules{}, "http://localhost/x", false},
		{"a localhost name", Rules{}, "http://db.localhost/x", false},
		{"localhost explicitly allowed", Rules{AllowedHosts: []string{"localhost"}}, "http://localhost/x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mustPolicy(t, tc.rules, noDial(t)).CheckURI(tc.uri)
			if tc.pass && err != nil {
				t.Fatalf("CheckURI(%q) = %v, want pass", tc.uri, err)
			}
			if !tc.pass && !errors.Is(err, ErrRefused) {
				t.Fatalf("CheckURI(%q) = %v, want ErrRefused", tc.uri, err)
			}
		})
	}
}

// internalAddrs is one address of every refused class, IPv4 and IPv6.
var internalAddrs = []struct{ class, addr string }{
	{"loopback", "127.0.0.1"},
	{"loopback", "127.8.9.10"},
	{"loopback", "::1"},
	{"link-local", "169.254.169.254"}, // cloud metadata
	{"link-local", "169.254.1.1"},
	{"link-local", "fe80::1"},
	{"private", "10.1.2.3"},
	{"private", "172.16.0.1"},
	{"private", "172.31.255.254"},
	{"private", "192.168.1.1"},
	{"unique-local", "fc00::1"},
	{"unique-local", "fd12:3456::1"},
	{"multicast", "224.0.0.1"},
	{"multicast", "239.255.255.250"},
	{"multicast", "ff02::1"},
	{"unspecified", "0.0.0.0"},
	{"unspecified", "::"},
	{"shared (carrier-grade NAT)", "100.100.100.200"}, // another cloud's metadata address
	{"reserved", "255.255.255.255"},
	{"site-local", "fec0::1"},
	{"IPv4-mapped loopback", "::ffff:127.0.0.1"},
	{"IPv4-mapped metadata", "::ffff:169.254.169.254"},
	{"NAT64 of loopback", "64:ff9b::7f00:1"},
	{"IPv4-compatible loopback", "::127.0.0.1"},
}

func hostOf(a string) string {
	if strings.Contains(a, ":") {
		return "[" + a + "]"
	}
	return a
}

func TestInternalAddressesRefused(t *testing.T) {
	for _, tc := range internalAddrs {
		t.Run(tc.class+" "+tc.addr, func(t *testing.T) {
			uri := "http://" + hostOf(tc.addr) + "/image"
			if err := mustPolicy(t, Rules{}, noDial(t)).CheckURI(uri); !errors.Is(err, ErrRefused) {
				t.Fatalf("CheckURI(%s) = %v, want ErrRefused", uri, err)
			}
			// The operator's explicit opt-out: the host is allowed.
			if err := mustPolicy(t, Rules{AllowedHosts: []string{tc.addr}}, noDial(t)).CheckURI(uri); err != nil {
				t.Fatalf("CheckURI(%s) with the host allowed = %v, want pass", uri, err)
			}
			// Another host being allowed changes nothing for this one.
			if err := mustPolicy(t, Rules{AllowedHosts: []string{"example.com"}, AllowedPorts: []int{}}, noDial(t)).CheckURI(uri); !errors.Is(err, ErrRefused) {
				t.Fatalf("CheckURI(%s) with another host allowed = %v, want ErrRefused", uri, err)
			}
			// The other opt-out: the host may be internal, and other
			// hosts stay allowed; another internal host changes nothing.
			internal := mustPolicy(t, Rules{InternalHosts: []string{tc.addr}}, noDial(t))
			if err := internal.CheckURI(uri); err != nil {
				t.Fatalf("CheckURI(%s) with the host internal-allowed = %v, want pass", uri, err)
			}
			if err := internal.CheckURI("http://example.com/image"); err != nil {
				t.Fatalf("CheckURI of another host with %s internal-allowed = %v, want pass", tc.addr, err)
			}
			if err := mustPolicy(t, Rules{InternalHosts: []string{"mirror.example"}}, noDial(t)).CheckURI(uri); !errors.Is(err, ErrRefused) {
				t.Fatalf("CheckURI(%s) with another host internal-allowed = %v, want ErrRefused", uri, err)
			}
		})
	}
	for _, a := range []string{"8.8.8.8", "2606:4700::1111", "203.0.113.9", "172.32.0.1", "192.169.0.1"} {
		if err := mustPolicy(t, Rules{}, noDial(t)).CheckURI("http://" + hostOf(a) + "/x"); err != nil {
			t.Errorf("CheckURI of global address %s = %v, want pass", a, err)
		}
	}
}

// TestResolvedAddressesChecked: a name that resolves to an internal
// address when the connection is made (DNS rebinding: the URL looked
// public when it was checked) is never dialled; a name with a mix of
// addresses is dialled only at the global ones.
func TestResolvedAddressesChecked(t *testing.T) {
	ctx := context.Background()
	for _, tc := range internalAddrs {
		t.Run(tc.class+" "+tc.addr, func(t *testing.T) {
			r := resolver(map[string]string{"public.example": tc.addr})
			p := mustPolicy(t, Rules{}, WithResolver(r), noDial(t))
			if err := p.CheckURI("http://public.example/x"); err != nil {
				t.Fatalf("CheckURI: %v (the name looks public before it is resolved)", err)
			}
			if _, err := p.DialContext(ctx, "tcp", "public.example:80"); !errors.Is(err, ErrRefused) {
				t.Fatalf("DialContext = %v, want ErrRefused", err)
			}
			if len(r.asked) != 1 {
				t.Fatalf("resolver asked %v, want public.example once", r.asked)
			}
		})
	}
	t.Run("mixed answers", func(t *testing.T) {
		r := resolver(map[string]string{"mixed.example": "127.0.0.1,10.0.0.1,203.0.113.7,::1"})
		var dialled []string
		p := mustPolicy(t, Rules{}, WithResolver(r), WithDial(func(_ context.Context, _, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return nil, errors.New("test: unreachable")
		}))
		if _, err := p.DialContext(ctx, "tcp", "mixed.example:443"); err == nil {
			t.Fatal("DialContext succeeded with no reachable address")
		}
		if fmt.Sprint(dialled) != "[203.0.113.7:443]" {
			t.Fatalf("dialled %v, want only the global address", dialled)
		}
	})
	t.Run("explicitly allowed name", func(t *testing.T) {
		r := resolver(map[string]string{"mirror.internal": "10.0.0.7"})
		var dialled []string
		p := mustPolicy(t, Rules{AllowedHosts: []string{"mirror.internal"}}, WithResolver(r), WithDial(func(_ context.Context, _, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return nil, errors.New("test: unreachable")
		}))
		_, _ = p.DialContext(ctx, "tcp", "mirror.internal:80")
		if fmt.Sprint(dialled) != "[10.0.0.7:80]" {
			t.Fatalf("dialled %v, want the allowed host's private address", dialled)
		}
	})
	t.Run("internal-allowed name", func(t *testing.T) {
		r := resolver(map[string]string{"mirror.internal": "10.0.0.7", "other.example": "10.0.0.8"})
		var dialled []string
		p := mustPolicy(t, Rules{InternalHosts: []string{"mirror.internal"}}, WithResolver(r), WithDial(func(_ context.Context, _, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return nil, errors.New("test: unreachable")
		}))
		_, _ = p.DialContext(ctx, "tcp", "mirror.internal:80")
		if _, err := p.DialContext(ctx, "tcp", "other.example:80"); !errors.Is(err, ErrRefused) {
			t.Fatalf("DialContext to another name resolving internal = %v, want ErrRefused", err)
		}
		if fmt.Sprint(dialled) != "[10.0.0.7:80]" {
			t.Fatalf("dialled %v, want only the internal-allowed host's address", dialled)
		}
	})
	t.Run("an allowed address does not allow a name resolving to it", func(t *testing.T) {
		r := resolver(map[string]string{"rebind.example": "127.0.0.1"})
		p := mustPolicy(t, Rules{AllowedHosts: []string{"127.0.0.1"}}, WithResolver(r), noDial(t))
		if _, err := p.DialContext(ctx, "tcp", "rebind.example:80"); !errors.Is(err, ErrRefused) {
			t.Fatalf("DialContext = %v, want ErrRefused", err)
		}
	})
}

// TestNodeAddresses: the addresses of the cluster's nodes are refused
// like internal ones, and a node's listening address even when its host
// is explicitly allowed.
func TestNodeAddresses(t *testing.T) {
	nodes := func() []netip.AddrPort {
		return []netip.AddrPort{
			netip.MustParseAddrPort("203.0.113.5:9292"), netip.MustParseAddrPort("[2001:db8::5]:9492"),
			netip.MustParseAddrPort("0.0.0.0:9692"),
		}
	}
	for _, tc := range []struct {
		uri     string
		allowed []string
		pass    bool
	}{
		{"http://203.0.113.5/x", nil, false},
		{"http://203.0.113.5:8080/x", nil, false},
		{"http://[2001:db8::5]/x", nil, false},
		{"http://[::ffff:203.0.113.5]/x", nil, false},
		{"http://203.0.113.6/x", nil, true},
		{"http://203.0.113.5:8080/x", []string{"203.0.113.5"}, true},
		{"http://203.0.113.5:9292/x", []string{"203.0.113.5"}, false},
		{"http://[2001:db8::5]:9492/x", []string{"2001:db8::5"}, false},
		{"http://127.0.0.1:9692/x", []string{"127.0.0.1"}, false}, // a node bound to every address
		{"http://127.0.0.1:9693/x", []string{"127.0.0.1"}, true},
	} {
		p := mustPolicy(t, Rules{AllowedHosts: tc.allowed, AllowedPorts: []int{}}, WithNodeAddrs(nodes), noDial(t))
		err := p.CheckURI(tc.uri)
		if tc.pass != (err == nil) || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("CheckURI(%s) with allowed hosts %v = %v, want pass %v", tc.uri, tc.allowed, err, tc.pass)
		}
	}
	r := resolver(map[string]string{"node.example": "203.0.113.5"})
	p := mustPolicy(t, Rules{}, WithNodeAddrs(nodes), WithResolver(r), noDial(t))
	if _, err := p.DialContext(context.Background(), "tcp", "node.example:80"); !errors.Is(err, ErrRefused) {
		t.Fatalf("DialContext to a name of a node: %v, want ErrRefused", err)
	}
}

func TestTrustedOrigins(t *testing.T) {
	nodes := func() []netip.AddrPort {
		return []netip.AddrPort{netip.MustParseAddrPort("10.0.0.9:9292"), netip.MustParseAddrPort("10.0.0.7:9292")}
	}
	p := mustPolicy(t, Rules{}, WithTrustedOrigins("http://10.0.0.8:9292/v2", "https://glance.internal", "http://10.0.0.7:9292"), WithNodeAddrs(nodes), noDial(t))
	for uri, pass := range map[string]bool{
		// A node's API the operator named as an endpoint: trusted; the
		// same node's other ports are not.
		"http://10.0.0.7:9292/v2/images/x/file": true,
		"http://10.0.0.7:9492/internal":         false,
		"http://10.0.0.8:9292/v2/images/x/file": true,
		"https://10.0.0.8:9292/x":               false, // another scheme is another origin
		"http://10.0.0.8:9293/x":                false,
		"https://glance.internal/v2/images":     true,
		"https://glance.internal:443/x":         true,
		"http://glance.internal/x":              true, // not trusted, but a name is not resolved by CheckURI
		"http://glance.internal:8080/x":         false,
	} {
		if err := p.CheckURI(uri); pass != (err == nil) {
			t.Errorf("CheckURI(%s) = %v, want pass %v", uri, err, pass)
		}
	}
	var dialled []string
	r := resolver(map[string]string{"glance.internal": "10.0.0.10"})
	p = mustPolicy(t, Rules{}, WithTrustedOrigins("https://glance.internal"), WithResolver(r), WithDial(func(_ context.Context, _, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, errors.New("test: unreachable")
	}))
	_, _ = p.DialContext(context.Background(), "tcp", "glance.internal:443")
	if _, err := p.DialContext(context.Background(), "tcp", "glance.internal:80"); !errors.Is(err, ErrRefused) {
		t.Errorf("a trusted name on another port: %v, want ErrRefused", err)
	}
	if fmt.Sprint(dialled) != "[10.0.0.10:443]" {
		t.Fatalf("dialled %v, want the trusted origin only", dialled)
	}
}

// TestControlChecksTheSocketAddress: without a dial seam, the dialer's
// Control function refuses an internal address just before the connect,
// so even a bug in the checks before it cannot open a connection.
func TestControlChecksTheSocketAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	p := mustPolicy(t, Rules{})
	ap := netip.MustParseAddrPort(ln.Addr().String())
	if _, err := p.dialAddr(context.Background(), "tcp", ap, exemptNone); !errors.Is(err, ErrRefused) {
		t.Fatalf("dialAddr(%s) = %v, want ErrRefused from Control", ap, err)
	}
	// The same address, explicitly allowed, connects: Control let it.
	conn, err := p.dialAddr(context.Background(), "tcp", ap, exemptHost)
	if err != nil {
		t.Fatalf("dialAddr(%s) allowed: %v", ap, err)
	}
	_ = conn.Close()
	c := <-accepted
	if c == nil {
		t.Fatal("the allowed connection was not accepted")
	}
	_ = c.Close()
	_ = ln.Close()
	if c, ok := <-accepted; ok {
		t.Fatalf("a refused dial reached the listener: %v", c.RemoteAddr())
	}
}

// TestRedirects: every redirect is held to the filter; a refused target
// is never dialled.
func TestRedirects(t *testing.T) {
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "data") }))
	defer final.Close()
	var target string
	start := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	}))
	defer start.Close()
	okAddrs := map[string]bool{start.Listener.Addr().String(): true, final.Listener.Addr().String(): true}
	r := resolver(map[string]string{"rebind.example": "127.0.0.1", "public.example": "203.0.113.80"})
	p := mustPolicy(t, Rules{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{}}, WithResolver(r),
		WithDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !okAddrs[addr] {
				t.Errorf("dialled %s, which the filter must refuse", addr)
				return nil, errors.New("test: no connection")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}))
	client := &http.Client{Transport: p.Transport(), CheckRedirect: p.CheckRedirect}
	defer client.CloseIdleConnections()
	_, finalPort, _ := net.SplitHostPort(final.Listener.Addr().String())
	for _, tc := range []struct {
		to   string
		pass bool
	}{
		{final.URL + "/img", true},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://[fd00::1]/x", false},
		{"http://10.0.0.1:" + finalPort + "/x", false},
		{"ftp://127.0.0.1/x", false},
		{"file:///etc/passwd", false},
		{"http://rebind.example:" + finalPort + "/img", false}, // a name resolving to loopback when dialled
		{"http://localhost:" + finalPort + "/img", false},
	} {
		target = tc.to
		resp, err := client.Get(start.URL)
		if tc.pass {
			if err != nil {
				t.Errorf("redirect to %s: %v", tc.to, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(b) != "data" {
				t.Errorf("redirect to %s: body %q", tc.to, b)
			}
			continue
		}
		if err == nil {
			_ = resp.Body.Close()
			t.Errorf("redirect to %s followed, want refused", tc.to)
		} else if !errors.Is(err, ErrRefused) {
			t.Errorf("redirect to %s: %v, want ErrRefused", tc.to, err)
		}
	}
	// A chain of redirects stops at 10.
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path+"x", http.StatusFound) }))
	defer loop.Close()
	okAddrs[loop.Listener.Addr().String()] = true
	if _, err := client.Get(loop.URL + "/"); err == nil || !strings.Contains(err.Error(), "10 redirects") {
		t.Fatalf("redirect loop: %v, want stopped after 10 redirects", err)
	}
}

func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	if tr := mustPolicy(t, Rules{}).Transport(); tr.Proxy != nil {
		t.Fatal("the transport uses a proxy")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultRules().Validate(); err != nil {
		t.Fatalf("default rules: %v", err)
	}
	for _, r := range []Rules{
		{AllowedPorts: []int{0}}, {DisallowedPorts: []int{65536}}, {AllowedSchemes: []string{""}},
		{DisallowedSchemes: []string{"ht tp"}}, {AllowedHosts: []string{"example.com:80"}},
		{DisallowedHosts: []string{"example.com/x"}}, {AllowedHosts: []string{""}},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("Validate(%+v) passed", r)
		}
		if _, err := New(r); err == nil {
			t.Errorf("New(%+v) passed", r)
		}
	}
	if err := (Rules{AllowedHosts: []string{"::1", "[fe80::1]", "10.0.0.1", "mirror-1.example.", "under_score.example"}}).Validate(); err != nil {
		t.Fatalf("valid hosts: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:secret@example.com/x?a=b":   "http://***@example.com/x?a=b",
		"https://token@example.com":              "https://***@example.com",
		"http://u:p@ss@example.com:8080/a@b":     "http://***@example.com:8080/a@b",
		"http://example.com/a@b":                 "http://example.com/a@b",
		"http://us%er:pa ss@[::1/x":              "http://***@[::1/x",
		"http://example.com/?q=user:pass@host":   "http://example.com/?q=user:pass@host",
		"no scheme user:pass@example.com":        "no scheme user:pass@example.com",
		"HTTP://Admin:Hunter2@example.com/image": "HTTP://***@example.com/image",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
