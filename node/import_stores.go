package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
)

// A store is where copies of an image count: the default store is the R
// durable copies anywhere; store "z" is held once some node of zone z is
// in the image's placement (a durable holder of every chunk).

// zoneHolds reports whether a node of zone is in placement.
func (n *Node) zoneHolds(zone string, placement []string) bool {
	for _, id := range placement {
		if m, ok := n.gossip.Member(id); ok && m.Meta.Zone == zone {
			return true
		}
	}
	return false
}

// placeInStores makes sure every store of the import holds the data
// (man, held by placement) and returns the placement grown by the zone
// copies, and the stores that failed when failures are allowed.
func (n *Node) placeInStores(ctx context.Context, job *catalog.ImportJob, man *catalog.Manifest, placement []string) ([]string, []string, error) {
	var failed []string
	for _, store := range job.Stores {
		if store == catalog.DefaultStore || n.zoneHolds(store, placement) {
			continue
		}
		target, err := n.copyToZone(ctx, job.ImageID, man, placement, store)
		switch {
		case err == nil:
			placement = append(slices.Clone(placement), target)
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case job.AllStoresMustSucceed:
			return nil, nil, fmt.Errorf("copy to store %s: %w", store, err)
		default:
			n.log.Warn("import to store failed", "image", job.ImageID, "store", store, "err", err)
			failed = append(failed, store)
		}
	}
	return placement, failed, nil
}

// copyImage runs copy-image: the data is checked again as Glance checks
// it on every import, then for each requested store that does not hold
// the image yet, a node of that zone gets every chunk and joins the
// image's placement. Progress is recorded store by store.
func (n *Node) copyImage(ctx context.Context, job *catalog.ImportJob) error {
	img, err := n.lockedImage(job.ImageID, job.Task.ID)
	if err != nil {
		return err
	}
	if img.Manifest != nil {
		if _, err := n.checkStored(ctx, img, img.Manifest, img.Placement); err != nil {
			return err
		}
	}
	for _, store := range job.Stores {
		img, err := n.lockedImage(job.ImageID, job.Task.ID)
		if err != nil {
			return err
		}
		if img, err = n.PullImage(ctx, img); err != nil {
			return err
		}
		if img.Manifest == nil {
			return fmt.Errorf("image %s has no data to copy (status %s)", job.ImageID, img.Status)
		}
		target, cerr := "", error(nil)
		if store != catalog.DefaultStore && !n.zoneHolds(store, img.Placement) {
			target, cerr = n.copyToZone(ctx, job.ImageID, img.Manifest, img.Placement, store)
		}
		if cerr != nil && (ctx.Err() != nil || job.AllStoresMustSucceed) {
			return fmt.Errorf("copy to store %s: %w", store, cerr)
		}
		if cerr != nil {
			n.log.Warn("copy-image to store failed", "image", job.ImageID, "store", store, "err", cerr)
		}
		_, err = n.mutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
			if cur.Properties[catalog.PropImportTask] != job.Task.ID {
				return fmt.Errorf("image %s is no longer locked by task %s", job.ImageID, job.Task.ID)
			}
			if target != "" && !slices.Contains(cur.Placement, target) {
				cur.Placement = append(cur.Placement, target)
			}
			cur.Properties[catalog.PropImportingToStores] = catalog.JoinStores(without(catalog.SplitStores(cur.Properties[catalog.PropImportingToStores]), []string{store}))
			if cerr != nil {
				cur.Properties[catalog.PropFailedImport] = catalog.JoinStores(append(catalog.SplitStores(cur.Properties[catalog.PropFailedImport]), store))
			}
			cur.UpdatedAt = time.Now().UTC()
			return nil
		})
		if err != nil {
			return fmt.Errorf("record copy to store %s: %w", store, err)
		}
	}
	_, err = n.mutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != job.Task.ID {
			return errNoChange
		}
		unlockImport(cur, nil)
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
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
