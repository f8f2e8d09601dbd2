package urlfilter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrRefused means a URL, a redirect or an address it leads to does not
// pass the filter.
var ErrRefused = errors.New("does not pass filtering")

// maxRedirects is how many redirects a fetch follows (net/http's
// default).
const maxRedirects = 10

// dialTimeout bounds one connection attempt.
const dialTimeout = 30 * time.Second

// Resolver looks a host name up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to addr, an IP address and port that passed the
// filter.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Policy is the filter: Rules, the internal-address check and the
// cluster's own addresses. It is safe for concurrent use.
type Policy struct {
	lists        lists
	nodeAddrs    func() []netip.AddrPort
	trusted      map[string]bool // scheme://host:port of trusted origins
	trustedAddrs map[string]bool // their host:port
	resolver     Resolver
	dial         DialFunc // nil: a net.Dialer whose Control checks the socket address
}

// Option configures a Policy.
type Option func(*Policy)

// WithNodeAddrs gives the addresses (IP and port) of every node of the
// cluster; fn is called on every check, so it may change as nodes come
// and go. Those IP addresses are refused unless the host is explicitly
// allowed, those exact addresses always. A node bound to an unspecified
// address (0.0.0.0, ::) counts as listening on every address of this
// host.
func WithNodeAddrs(fn func() []netip.AddrPort) Option {
	return func(p *Policy) { p.nodeAddrs = fn }
}

// WithTrustedOrigins trusts the scheme, host and port of each URL (the
// operator's glance-download endpoints): they pass without the lists and
// the internal-address check. Unparseable URLs are ignored (the caller
// validates its configuration).
func WithTrustedOrigins(urls ...string) Option {
	return func(p *Policy) {
		for _, s := range urls {
			u, err := url.Parse(s)
			if err != nil || u.Host == "" {
				continue
			}
			scheme, host := strings.ToLower(u.Scheme), canonicalHost(u.Hostname())
			port, err := urlPort(u)
			if err != nil {
				continue
			}
			port = effectivePort(scheme, port)
			p.trusted[origin(scheme, host, port)] = true
			p.trustedAddrs[net.JoinHostPort(host, strconv.Itoa(port))] = true
		}
	}
}

// WithResolver replaces the system resolver (a test seam).
func WithResolver(r Resolver) Option { return func(p *Policy) { p.resolver = r } }

// WithDial replaces the connect step after the checks (a test seam: a
// test's dial fails the test when asked for an address it must never
// see).
func WithDial(d DialFunc) Option { return func(p *Policy) { p.dial = d } }

// New returns the Policy of rules (nil lists take Glance's defaults).
func New(rules Rules, opts ...Option) (*Policy, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{lists: newLists(rules), trusted: map[string]bool{}, trustedAddrs: map[string]bool{}, resolver: net.DefaultResolver}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// CheckURI reports whether the cluster may read raw for a user, without
// resolving its host: an http or https URL with a host that passes the
// lists and, when the host is an IP address (or localhost), the
// internal-address check. The error wraps ErrRefused.
func (p *Policy) CheckURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", ErrRefused)
	}
	return p.checkURL(u)
}

func (p *Policy) checkURL(u *url.URL) error {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("scheme %q (only http and https are read): %w", scheme, ErrRefused)
	}
	host := canonicalHost(u.Hostname())
	if host == "" {
		return fmt.Errorf("no host: %w", ErrRefused)
	}
	port, err := urlPort(u)
	if err != nil {
		return err
	}
	eff := effectivePort(scheme, port)
	trusted := p.trusted[origin(scheme, host, eff)]
	if !trusted {
		if err := p.lists.check(scheme, host, port); err != nil {
			return err
		}
	}
	level := exemptNone
	switch {
	case trusted:
		level = exemptTrusted
	case p.lists.explicitlyAllowed(host):
		level = exemptHost
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(a, uint16(eff), level)
	}
	if level == exemptNone && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return fmt.Errorf("host %q is a loopback name: %w", host, ErrRefused)
	}
	return nil
}

// urlPort is the port u names, 0 when none.
func urlPort(u *url.URL) (int, error) {
	s := u.Port()
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q: %w", s, ErrRefused)
	}
	return n, nil
}

// effectivePort is the port a URL connects to.
func effectivePort(scheme string, port int) int {
	switch {
	case port != 0:
		return port
	case scheme == "https":
		return 443
	}
	return 80
}

func origin(scheme, host string, port int) string {
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// exemption is how far an address is exempt from checkAddr.
type exemption int

const (
	exemptNone    exemption = iota
	exemptHost              // the host is explicitly allowed (AllowedHosts, InternalHosts)
	exemptTrusted           // the address and port are a trusted origin's (the operator's glance-download endpoint)
)

// checkAddr is the address check: a trusted origin passes (the operator
// named that very address and port, even a node's API); otherwise a
// node's listening address is refused, and, unless the host is
// explicitly allowed, internal addresses and the addresses of the
// cluster's nodes are.
func (p *Policy) checkAddr(a netip.Addr, port uint16, level exemption) error {
	if level == exemptTrusted {
		return nil
	}
	a = a.WithZone("").Unmap()
	listener, nodeHost := p.nodeMatch(a, port)
	switch {
	case listener:
		return fmt.Errorf("%s is where a node of this cluster listens: %w", netip.AddrPortFrom(a, port), ErrRefused)
	case level == exemptHost:
		return nil
	}
	if class := internalClass(a); class != "" {
		return fmt.Errorf("%s is a %s address: %w", a, class, ErrRefused)
	}
	if nodeHost {
		return fmt.Errorf("%s is an address of a node of this cluster: %w", a, ErrRefused)
	}
	return nil
}

// nodeMatch reports whether a node listens on a:port, and whether a is
// one of the nodes' addresses.
func (p *Policy) nodeMatch(a netip.Addr, port uint16) (listener, host bool) {
	if p.nodeAddrs == nil {
		return false, false
	}
	var local map[netip.Addr]bool // this host's addresses, looked up once if needed
	for _, n := range p.nodeAddrs() {
		na := n.Addr().WithZone("").Unmap()
		if na.IsUnspecified() {
			if local == nil {
				local = localAddrs()
			}
			if n.Port() == port && (a.IsLoopback() || local[a]) {
				listener = true
			}
			continue
		}
		if na == a {
			host = true
			listener = listener || n.Port() == port
		}
	}
	return listener, host
}

// localAddrs are the addresses of this host's interfaces.
func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			out[pfx.Addr().Unmap()] = true
		}
	}
	return out
}

// DialContext connects to addr (host:port, as an http.Transport asks)
// if it passes: the host is resolved here, every address checked, and
// only the addresses that pass are dialled, in order, until one
// answers. Without a WithDial seam the dialer's Control function checks
// the socket address once more just before the connect.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: port %q: %w", addr, portStr, ErrRefused)
	}
	h := canonicalHost(host)
	level := exemptNone
	switch {
	case p.trustedAddrs[net.JoinHostPort(h, portStr)]:
		level = exemptTrusted
	case p.lists.explicitlyAllowed(h):
		level = exemptHost
	}
	var ips []netip.Addr
	if a, err := netip.ParseAddr(h); err == nil {
		ips = []netip.Addr{a}
	} else if ips, err = p.resolver.LookupNetIP(ctx, ipNetwork(network), h); err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("dial %s: the name has no address", addr)
	}
	var errs []error
	for _, a := range ips {
		a = a.Unmap()
		if err := p.checkAddr(a, uint16(port), level); err != nil {
			errs = append(errs, err)
			continue
		}
		conn, err := p.dialAddr(ctx, network, netip.AddrPortFrom(a, uint16(port)), level)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial %s: %w", addr, errors.Join(errs...))
}

func (p *Policy) dialAddr(ctx context.Context, network string, ap netip.AddrPort, level exemption) (net.Conn, error) {
	if p.dial != nil {
		return p.dial(ctx, network, ap.String())
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		got, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("socket address %q: %w", address, ErrRefused)
		}
		return p.checkAddr(got.Addr(), got.Port(), level)
	}}
	return d.DialContext(ctx, network, ap.String())
}

// ipNetwork is the lookup network for a dial network.
func ipNetwork(network string) string {
	switch network {
	case "tcp4":
		return "ip4"
	case "tcp6":
		return "ip6"
	}
	return "ip"
}

// CheckRedirect is an http.Client's CheckRedirect: at most 10
// redirects, each to a URL that passes CheckURI (its address is checked
// again when dialled).
func (p *Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if err := p.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s: %w", Redact(req.URL.String()), err)
	}
	return nil
}

// Transport returns an http.Transport that connects only through
// DialContext and never through a proxy.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy: nil, DialContext: p.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
	}
}

// Redact returns raw with its user information (user name and
// password) replaced by "***", fit for logs and messages. It works on
// the text as given, so a URL that does not parse is redacted too.
func Redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	return raw[:i+3] + "***@" + rest[at+1:]
}
