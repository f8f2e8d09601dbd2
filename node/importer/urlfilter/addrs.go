package urlfilter

import (
	"net/netip"
)

// internalRange is a range of addresses that is never read for a user
// unless the host is explicitly allowed.
type internalRange struct {
	prefix netip.Prefix
	class  string
}

// internalRanges are the IANA special-purpose ranges that are not
// globally reachable, plus multicast. The order matters only for the
// class named in messages (the more specific first).
var internalRanges = func() []internalRange {
	var out []internalRange
	for _, r := range []struct{ prefix, class string }{
		{"0.0.0.0/8", "unspecified"}, // "this network"; 0.0.0.0 reaches this host
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"}, // 169.254.169.254: cloud metadata
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // 255.255.255.255 included
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible"},
		{"fc00::/7", "unique-local"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, internalRange{netip.MustParsePrefix(r.prefix), r.class})
	}
	return out
}()

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4
// address, checked as one.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// internalClass names the internal class of a, or "" for a global
// address. IPv4-mapped IPv6 and NAT64 addresses are judged by their IPv4
// address.
func internalClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	for _, r := range internalRanges {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return ""
}
