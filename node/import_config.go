package node

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
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
	return errs
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

// ImportMethods implements api.Backend: Glance's default methods, plus
// glance-download when some region has an endpoint.
func (n *Node) ImportMethods() []string {
	m := []string{catalog.MethodGlanceDirect, catalog.MethodWebDownload, catalog.MethodCopyImage}
	if len(n.cfg.GlanceDownloadEndpoints) > 0 {
		m = append(m, catalog.MethodGlanceDownload)
	}
	return m
}

// Stores implements api.Backend: the default store (R copies anywhere),
// then one store per zone that any known node is labelled with.
func (n *Node) Stores(_ context.Context) ([]catalog.Store, error) {
	members := n.gossip.Members()
	zones := map[string][]string{}
	all := make([]string, 0, len(members))
	for _, m := range members {
		all = append(all, m.Meta.ID)
		if z := m.Meta.Zone; z != "" && z != catalog.DefaultStore {
			zones[z] = append(zones[z], m.Meta.ID)
		}
	}
	out := []catalog.Store{{
		ID:          catalog.DefaultStore,
		Description: fmt.Sprintf("%d durable copies of every chunk, spread over zones and racks", n.cfg.Replicas),
		Default:     true,
		Type:        "p2p",
		Properties:  map[string]any{"replicas": n.cfg.Replicas, "chunk_size": n.cfg.ChunkSize, "nodes": len(all)},
		Nodes:       all,
	}}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for _, z := range names {
		out = append(out, catalog.Store{
			ID:          z,
			Description: "A durable copy on a node of zone " + z,
			Type:        "p2p",
			Properties:  map[string]any{"zone": z, "nodes": len(zones[z]), "chunk_size": n.cfg.ChunkSize},
			Nodes:       zones[z],
		})
	}
	return out, nil
}

// Quotas implements api.Backend: the configured quotas.
func (n *Node) Quotas() catalog.Usage {
	var u catalog.Usage
	u.ImageCountTotal.Limit = n.cfg.QuotaImageCount
	u.ImageSizeTotal.Limit = n.cfg.QuotaImageSizeTotal
	u.ImageStageTotal.Limit = n.cfg.QuotaStageTotal
	return u
}

// Usage implements api.Backend from the local replica: the project's
// images (owner-less ones for ""), their stored and staged bytes, and the
// configured quotas.
func (n *Node) Usage(_ context.Context, project string) (*catalog.Usage, error) {
	q := n.Quotas()
	u := &q
	count := func(img *catalog.Image) bool {
		if (img.Owner == nil) != (project == "") || (img.Owner != nil && *img.Owner != project) {
			return true
		}
		u.ImageCountTotal.Usage++
		if img.Manifest != nil {
			u.ImageSizeTotal.Usage += img.Manifest.Size
		}
		if img.Staging != nil {
			u.ImageStageTotal.Usage += img.Staging.Size
		}
		switch img.Status {
		case catalog.StatusSaving, catalog.StatusUploading, catalog.StatusImporting:
			u.ImageCountUploading.Usage++
		}
		return true
	}
	st := n.fsm.State()
	if project == "" {
		st.Each(count)
		return u, nil
	}
	imgs, err := st.List(catalog.ListQuery{IndexField: "owner", IndexValue: project})
	if err != nil {
		return nil, fmt.Errorf("usage of %s: %w", project, err)
	}
	for _, img := range imgs {
		count(img)
	}
	return u, nil
}
