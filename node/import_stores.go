package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
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
	var errs []error
	for _, t := range cands {
		var err error
		if t.Meta.ID == n.id {
			err = n.copyToSelf(ctx, imageID, man, sources)
		} else {
			err = n.copyToPeer(ctx, imageID, man, sources, t)
		}
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

// uniqueChunks maps each distinct digest of man to its first index.
func uniqueChunks(man *catalog.Manifest) ([]string, map[string]int) {
	index := map[string]int{}
	var digests []string
	for i, c := range man.Chunks {
		if _, dup := index[c.Digest]; !dup {
			index[c.Digest] = i
			digests = append(digests, c.Digest)
		}
	}
	return digests, index
}

// copyToPeer pushes to t every chunk of man it lacks — read locally or
// fetched (verified) from the holders — until t reports holding all of
// them durably.
func (n *Node) copyToPeer(ctx context.Context, imageID string, man *catalog.Manifest, sources []string, t gossip.Member) error {
	src := &catalog.Image{ID: imageID, Manifest: man, Placement: sources}
	digests, index := uniqueChunks(man)
	body, err := json.Marshal(missingRequest{Image: imageID, Digests: digests})
	if err != nil {
		return fmt.Errorf("encode missing request: %w", err)
	}
	for range 3 {
		var resp struct {
			Missing []string `json:"missing"`
		}
		if err := n.peerCall(ctx, t.Meta.PeerAddr, "/internal/v1/missing", body, &resp); err != nil {
			return err
		}
		if len(resp.Missing) == 0 {
			return nil
		}
		for _, s := range resp.Missing {
			idx, ok := index[s]
			d, err := chunkstore.ParseDigest(s)
			if !ok || err != nil {
				return fmt.Errorf("peer %s reported an unknown chunk %q", t.Meta.ID, s)
			}
			buf, data, err := n.fetchChunk(ctx, src, idx)
			if err != nil {
				return err
			}
			err = n.pushChunk(ctx, t.Meta.PeerAddr, imageID, idx, len(man.Chunks), d, data)
			n.bufs.put(buf)
			if err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("peer %s still lacks chunks after 3 rounds", t.Meta.ID)
}

// copyToSelf stores on this node every chunk of man it lacks.
func (n *Node) copyToSelf(ctx context.Context, imageID string, man *catalog.Manifest, sources []string) error {
	src := &catalog.Image{ID: imageID, Manifest: man, Placement: sources}
	digests, index := uniqueChunks(man)
	for _, s := range digests {
		d, err := chunkstore.ParseDigest(s)
		if err != nil {
			return fmt.Errorf("chunk %q: %w", s, err)
		}
		n.protect(imageID, d)
		if ok, err := n.chunks.Has(ctx, d); err == nil && ok {
			continue
		}
		buf, data, err := n.fetchChunk(ctx, src, index[s])
		if err != nil {
			return err
		}
		err = n.chunks.Put(ctx, d, data)
		n.bufs.put(buf)
		if err != nil {
			return fmt.Errorf("store chunk %d: %w", index[s], err)
		}
	}
	if err := n.chunks.Sync(ctx); err != nil {
		return fmt.Errorf("sync chunks: %w", err)
	}
	return nil
}
