package node

import (
	"context"
	"fmt"
	"sort"

	"github.com/p2pglance/p2pglance/catalog"
)

// Stores and usage are the cluster's answers to GET /v2/info/stores and
// /v2/info/usage, and what the API checks store names and quotas
// against (uploads, stages and imports alike): the stores are the zones
// gossip knows, the usage is counted over the local replica.

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
