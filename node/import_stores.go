package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/gossip"
)

// A store is where copies of an image count: the default store is the R
// durable copies anywhere; store "z" is held once some node of zone z is
// in the image's placement (a durable holder of every chunk). Which
// stores an import or copy-image needs is the importer's
// (node/importer/copy.go); the copy of the chunks to a node of a zone is
// here (importer.Data.CopyToZone).

// zoneHolds reports whether a node of zone is in placement.
func (n *Node) zoneHolds(zone string, placement []string) bool {
	for _, id := range placement {
		if m, ok := n.gossip.Member(id); ok && m.Meta.Zone == zone {
			return true
		}
	}
	return false
}

// copyToZone puts a durable copy of every chunk of man on a live node of
// zone and returns that node's id. sources hold the chunks.
func (n *Node) copyToZone(ctx context.Context, imageID string, man *catalog.Manifest, sources []string, zone string) (string, error) {
	var cands []gossip.Member
	for _, m := range n.gossip.Members() {
		if m.Alive && m.Meta.Zone == zone && !slices.Contains(sources, m.Meta.ID) {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no live node in zone %s: %w", zone, catalog.ErrUnavailable)
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	// Every chunk comes from this node's store or, verified, from the
	// holders.
	src := &catalog.Image{ID: imageID, Manifest: man, Placement: sources}
	var errs []error
	for _, t := range cands {
		var target replicaTarget = peerReplica{n, t}
		if t.Meta.ID == n.id {
			target = localReplica{n}
		}
		err := n.fillReplica(ctx, target, imageID, man, n.holderSource(src), 1)
		if err == nil {
			return t.Meta.ID, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		errs = append(errs, fmt.Errorf("node %s: %w", t.Meta.ID, err))
	}
	return "", errors.Join(errs...)
}
