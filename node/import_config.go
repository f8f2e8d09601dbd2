package node

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// validateImport reports errors in the import and quota settings.
func (c *Config) validateImport() []error {
	var errs []error
	for name, v := range map[string]int64{"image count": c.QuotaImageCount, "image size": c.QuotaImageSizeTotal, "stage": c.QuotaStageTotal} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s quota must not be negative, got %d", name, v))
		}
	}
	for region, ep := range c.GlanceDownloadEndpoints {
		if u, err := url.Parse(ep); region == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("glance-download endpoint %q=%q: want REGION=http(s)://host[:port]", region, ep))
		}
	}
	if err := c.ImportFilter.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// DefaultImportFilter returns Glance's default import filtering rules
// (schemes http and https, ports 80 and 443): what nil lists in
// Config.ImportFilter stand for.
func DefaultImportFilter() urlfilter.Rules { return urlfilter.DefaultRules() }

// newImportFilter builds the import filter: the configured rules, the
// glance-download endpoints trusted, and the addresses of the cluster's
// nodes (clusterAddrs) refused.
func (n *Node) newImportFilter() (*urlfilter.Policy, error) {
	eps := make([]string, 0, len(n.cfg.GlanceDownloadEndpoints))
	for _, ep := range n.cfg.GlanceDownloadEndpoints {
		eps = append(eps, ep)
	}
	if hosts := n.cfg.ImportFilter.InternalHosts; len(hosts) > 0 {
		n.cfg.Logger.Warn("imports and locations may read from internal addresses of these hosts (--import-internal-hosts): anyone who can create an image can make the cluster fetch from them", "hosts", strings.Join(hosts, ","))
	}
	return urlfilter.New(n.cfg.ImportFilter, urlfilter.WithTrustedOrigins(eps...), urlfilter.WithNodeAddrs(n.clusterAddrs))
}

// clusterAddrs are the addresses of the nodes this one knows: its own
// listeners and every gossip member's API, peer, Raft and gossip
// addresses (those given as IP addresses; names are not resolved).
func (n *Node) clusterAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	add := func(s string) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap)
		}
	}
	for _, ln := range []net.Listener{n.apiLn, n.peerLn, n.metricsLn} {
		if ln != nil {
			add(ln.Addr().String())
		}
	}
	if n.transport != nil {
		add(string(n.transport.LocalAddr()))
	}
	if n.gossip != nil {
		add(n.gossip.Addr())
		for _, m := range n.gossip.Members() {
			add(m.Meta.APIAddr)
			add(m.Meta.PeerAddr)
			add(m.Meta.RaftAddr)
			add(m.Addr)
		}
	}
	return out
}

// ParseGlanceEndpoints parses the agent's --glance-download-endpoints
// value, "RegionOne=http://glance1:9292,RegionTwo=https://glance2", into
// Config.GlanceDownloadEndpoints.
func ParseGlanceEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		region, ep, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(region) == "" || strings.TrimSpace(ep) == "" {
			return nil, fmt.Errorf("glance-download endpoint %q: want REGION=URL", item)
		}
		out[strings.TrimSpace(region)] = strings.TrimSpace(ep)
	}
	return out, nil
}
