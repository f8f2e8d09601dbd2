package transfer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
)

// A store is where copies of an image count: the default store is the R
// durable copies anywhere; store "z" is held once some node of zone z is
// in the image's placement (a durable holder of every chunk). Which
// stores an import or copy-image needs is the importer's
// (node/importer/copy.go); the copy of the chunks to a node of a zone is
// here (CopyToZone, and PlaceInZone for an upload to a store).

// ZoneHolds reports whether a node of zone is in placement.
func (t *Transfer) ZoneHolds(zone string, placement []string) bool {
	for _, id := range placement {
		if m, ok := t.cluster.Member(id); ok && m.Zone == zone {
			return true
		}
	}
	return false
}

// CopyToZone puts a durable copy of every chunk of man on a live node of
// zone and returns that node's id. sources hold the chunks.
func (t *Transfer) CopyToZone(ctx context.Context, imageID string, man *catalog.Manifest, sources []string, zone string) (string, error) {
	var cands []Member
	for _, m := range t.cluster.Members() {
		if m.Alive && m.Zone == zone && !slices.Contains(sources, m.ID) {
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
	for _, m := range cands {
		var target replicaTarget = peerReplica{t, m}
		if m.ID == t.self() {
			target = localReplica{t}
		}
		err := t.fill(ctx, target, imageID, man, t.holderSource(src), 1)
		if err == nil {
			return m.ID, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		errs = append(errs, fmt.Errorf("node %s: %w", m.ID, err))
	}
	return "", errors.Join(errs...)
}

// PlaceInZone copies man (held by placement) to a live node of zone and
// returns the new placement: that node added and, past R copies, the last
// copy outside the zone removed (its copy stays on its node as cache).
func (t *Transfer) PlaceInZone(ctx context.Context, imageID string, man *catalog.Manifest, placement []string, zone string) ([]string, error) {
	target, err := t.CopyToZone(ctx, imageID, man, placement, zone)
	if err != nil {
		return nil, fmt.Errorf("copy to store %s: %w", zone, err)
	}
	out := slices.Clone(placement)
	if len(out)+1 > t.ReplicaCount() {
		for i := len(out) - 1; i >= 0; i-- {
			if m, ok := t.cluster.Member(out[i]); !ok || m.Zone != zone {
				out = slices.Delete(out, i, i+1)
				break
			}
		}
	}
	return append(out, target), nil
}
