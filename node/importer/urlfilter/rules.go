package urlfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Rules are Glance's [import_filtering_opts]. A nil list takes Glance's
// default (AllowedSchemes http and https, AllowedPorts 80 and 443, the
// others empty); an empty, non-nil list is an empty list, as an option
// set to nothing in glance-api.conf. When an allow list is not empty its
// deny list is ignored, as in Glance.
type Rules struct {
	// AllowedSchemes and DisallowedSchemes are URL schemes (lower case).
	AllowedSchemes, DisallowedSchemes []string
	// AllowedHosts and DisallowedHosts are host names or IP addresses,
	// without a port, compared with the URL's host (case and a trailing
	// dot ignored; IP addresses compared as addresses). A host in
	// AllowedHosts is also exempt from the internal-address check.
	AllowedHosts, DisallowedHosts []string
	// AllowedPorts and DisallowedPorts apply to a port the URL names; a
	// URL without one passes (it uses its scheme's 80 or 443).
	AllowedPorts, DisallowedPorts []int
	// InternalHosts are hosts exempt from the internal-address check
	// (the operator's explicit opt-out, e.g. a mirror on the hypervisor
	// network) without, as AllowedHosts would, refusing every other
	// host. Not one of Glance's options.
	InternalHosts []string
}

// DefaultRules are Glance's defaults: schemes http and https, ports 80
// and 443, no host lists.
func DefaultRules() Rules {
	return Rules{AllowedSchemes: []string{"http", "https"}, AllowedPorts: []int{80, 443}}
}

// withDefaults fills the nil lists that have a default.
func (r Rules) withDefaults() Rules {
	d := DefaultRules()
	if r.AllowedSchemes == nil {
		r.AllowedSchemes = d.AllowedSchemes
	}
	if r.AllowedPorts == nil {
		r.AllowedPorts = d.AllowedPorts
	}
	return r
}

// Validate reports entries that can never match: a port outside
// 1-65535, an empty or malformed scheme, a host with a port, a path or
// spaces.
func (r Rules) Validate() error {
	var errs []error
	for _, l := range []struct {
		name  string
		ports []int
	}{{"allowed ports", r.AllowedPorts}, {"disallowed ports", r.DisallowedPorts}} {
		for _, p := range l.ports {
			if p < 1 || p > 65535 {
				errs = append(errs, fmt.Errorf("import filter: %s: %d is not a port (1-65535)", l.name, p))
			}
		}
	}
	for _, l := range []struct {
		name    string
		schemes []string
	}{{"allowed schemes", r.AllowedSchemes}, {"disallowed schemes", r.DisallowedSchemes}} {
		for _, s := range l.schemes {
			if !validScheme(s) {
				errs = append(errs, fmt.Errorf("import filter: %s: %q is not a URL scheme", l.name, s))
			}
		}
	}
	for _, l := range []struct {
		name  string
		hosts []string
	}{{"allowed hosts", r.AllowedHosts}, {"disallowed hosts", r.DisallowedHosts}, {"internal hosts", r.InternalHosts}} {
		for _, h := range l.hosts {
			if !validHost(h) {
				errs = append(errs, fmt.Errorf("import filter: %s: %q is not a host name or IP address (no port, no path)", l.name, h))
			}
		}
	}
	return errors.Join(errs...)
}

// validScheme reports a URL scheme as RFC 3986 spells it.
func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// validHost reports a host name or an IP address (IPv6 with or without
// brackets).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isLetter(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// canonicalHost is how hosts are compared: lower case without a
// trailing dot, an IP address in its canonical form (IPv4-mapped IPv6
// as IPv4), brackets dropped.
func canonicalHost(h string) string {
	h = strings.Trim(h, "[]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// lists are Rules ready to match against.
type lists struct {
	allowedSchemes, disallowedSchemes map[string]bool
	allowedHosts, disallowedHosts     map[string]bool
	allowedPorts, disallowedPorts     map[int]bool
	internalHosts                     map[string]bool
}

func newLists(r Rules) lists {
	r = r.withDefaults()
	l := lists{
		allowedSchemes: set(r.AllowedSchemes, strings.ToLower), disallowedSchemes: set(r.DisallowedSchemes, strings.ToLower),
		allowedHosts: set(r.AllowedHosts, canonicalHost), disallowedHosts: set(r.DisallowedHosts, canonicalHost),
		internalHosts: set(r.InternalHosts, canonicalHost),
		allowedPorts:  set(r.AllowedPorts, func(p int) int { return p }), disallowedPorts: set(r.DisallowedPorts, func(p int) int { return p }),
	}
	// Glance: "Both allowed and disallowed ... has been configured. Will
	// only process allowed list."
	if len(l.allowedSchemes) > 0 {
		l.disallowedSchemes = nil
	}
	if len(l.allowedHosts) > 0 {
		l.disallowedHosts = nil
	}
	if len(l.allowedPorts) > 0 {
		l.disallowedPorts = nil
	}
	return l
}

func set[T comparable](items []T, norm func(T) T) map[T]bool {
	m := make(map[T]bool, len(items))
	for _, it := range items {
		m[norm(it)] = true
	}
	return m
}

// check is Glance's validate_import_uri on a parsed URL: scheme, then
// host, then port (only when the URL names one).
func (l lists) check(scheme, host string, port int) error {
	switch {
	case len(l.allowedSchemes) > 0 && !l.allowedSchemes[scheme], l.disallowedSchemes[scheme]:
		return fmt.Errorf("scheme %q: %w", scheme, ErrRefused)
	case len(l.allowedHosts) > 0 && !l.allowedHosts[host], l.disallowedHosts[host]:
		return fmt.Errorf("host %q: %w", host, ErrRefused)
	case port != 0 && (len(l.allowedPorts) > 0 && !l.allowedPorts[port] || l.disallowedPorts[port]):
		return fmt.Errorf("port %d: %w", port, ErrRefused)
	}
	return nil
}

// explicitlyAllowed reports a host named in AllowedHosts or
// InternalHosts: exempt from the internal-address check.
func (l lists) explicitlyAllowed(host string) bool {
	return l.allowedHosts[host] || l.internalHosts[host]
}
