package node

import (
	"context"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
)

// fleet answers where images are held and which are being repaired
// (api.Fleet), for operators and the dashboard.
type fleet struct{ n *Node }

var _ api.Fleet = fleet{}

// members returns gossip's members by id.
func (f fleet) members() map[string]gossip.Member {
	out := map[string]gossip.Member{}
	for _, m := range f.n.gossip.Members() {
		out[m.Meta.ID] = m
	}
	return out
}

// ImageHolders names image id's durable holders and the nodes with a
// cached copy, asking its trackers which nodes hold every chunk.
func (f fleet) ImageHolders(ctx context.Context, id string) (*api.ImageHolders, error) {
	img, err := f.n.fsm.State().Image(id)
	if err != nil {
		return nil, err
	}
	out := &api.ImageHolders{ImageID: id, Durable: []api.Holder{}, Cached: []api.Holder{}, Replicas: f.n.cfg.Replicas}
	if img.Manifest == nil {
		return out, nil
	}
	full := f.n.cluster.FullHolders(ctx, id)
	members := f.members()
	holder := func(node string) api.Holder {
		m := members[node]
		return api.Holder{ID: node, Zone: m.Meta.Zone, Rack: m.Meta.Rack, Alive: m.Alive, Complete: slices.Contains(full, node)}
	}
	for _, p := range img.Placement {
		out.Durable = append(out.Durable, holder(p))
	}
	for _, node := range full {
		if !slices.Contains(img.Placement, node) {
			out.Cached = append(out.Cached, holder(node))
		}
	}
	return out, nil
}

// Repairs lists the images with a durable holder gone or fewer durable
// holders than R, as this node's gossip and catalog see them.
func (f fleet) Repairs(context.Context) ([]api.Repair, error) {
	members := f.members()
	alive := func(id string) bool { return members[id].Alive }
	seen := map[string]bool{}
	var out []api.Repair
	for _, key := range f.n.placed.keyList() {
		if key != shortKey && alive(key) {
			continue
		}
		f.n.placed.each(key, func(img *catalog.Image) bool {
			if seen[img.ID] {
				return true
			}
			seen[img.ID] = true
			r := api.Repair{ImageID: img.ID, Holders: []string{}, Short: img.ShortPlacement}
			if img.Name != nil {
				r.Name = *img.Name
			}
			if img.Manifest != nil {
				r.Size = img.Manifest.Size
			}
			for _, p := range img.Placement {
				if alive(p) {
					r.Holders = append(r.Holders, p)
				} else {
					r.Lost = append(r.Lost, p)
				}
			}
			out = append(out, r)
			return true
		})
	}
	slices.SortFunc(out, func(a, b api.Repair) int { return strings.Compare(a.ImageID, b.ImageID) })
	return out, nil
}
