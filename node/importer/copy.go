package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/imagecheck"
)

// A store is where copies of an image count: the default store is the R
// durable copies anywhere; store "z" is held once some node of zone z is
// in the image's placement (a durable holder of every chunk). Copying the
// chunks to a node of a zone is the node's (Data.CopyToZone); which
// stores an import or copy-image needs, and what is recorded, is here.

// placeInStores makes sure every store of the import holds the data
// (man, held by placement) and returns the placement grown by the zone
// copies, and the stores that failed when failures are allowed.
func (im *Importer) placeInStores(ctx context.Context, job *catalog.ImportJob, man *catalog.Manifest, placement []string) ([]string, []string, error) {
	var failed []string
	for _, store := range job.Stores {
		if store == catalog.DefaultStore || im.cluster.ZoneHolds(store, placement) {
			continue
		}
		target, err := im.data.CopyToZone(ctx, job.ImageID, man, placement, store)
		switch {
		case err == nil:
			placement = append(slices.Clone(placement), target)
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case job.AllStoresMustSucceed:
			return nil, nil, fmt.Errorf("copy to store %s: %w", store, err)
		default:
			im.log.Warn("import to store failed", "image", job.ImageID, "store", store, "err", err)
			failed = append(failed, store)
		}
	}
	return placement, failed, nil
}

// copyImage runs copy-image: the data is checked again as Glance checks
// it on every import, then for each requested store that does not hold
// the image yet, a node of that zone gets every chunk and joins the
// image's placement. Progress is recorded store by store.
func (im *Importer) copyImage(ctx context.Context, job *catalog.ImportJob) error {
	img, err := im.lockedImage(job.ImageID, job.Task.ID)
	if err != nil {
		return err
	}
	if img.Manifest != nil {
		if _, err := imagecheck.CheckStored(ctx, img, img.Manifest, img.Placement, im.data.FetchChunk); err != nil {
			return err
		}
	}
	for _, store := range job.Stores {
		img, err := im.lockedImage(job.ImageID, job.Task.ID)
		if err != nil {
			return err
		}
		if img, err = im.PullImage(ctx, img); err != nil {
			return err
		}
		if img.Manifest == nil {
			return fmt.Errorf("image %s has no data to copy (status %s)", job.ImageID, img.Status)
		}
		target, cerr := "", error(nil)
		if store != catalog.DefaultStore && !im.cluster.ZoneHolds(store, img.Placement) {
			target, cerr = im.data.CopyToZone(ctx, job.ImageID, img.Manifest, img.Placement, store)
		}
		if cerr != nil && (ctx.Err() != nil || job.AllStoresMustSucceed) {
			return fmt.Errorf("copy to store %s: %w", store, cerr)
		}
		if cerr != nil {
			im.log.Warn("copy-image to store failed", "image", job.ImageID, "store", store, "err", cerr)
		}
		_, err = im.cat.MutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
			if cur.Properties[catalog.PropImportTask] != job.Task.ID {
				return fmt.Errorf("image %s is no longer locked by task %s", job.ImageID, job.Task.ID)
			}
			if target != "" && !slices.Contains(cur.Placement, target) {
				cur.Placement = append(cur.Placement, target)
			}
			if have := cur.InStores(); cerr == nil && !slices.Contains(have, store) {
				cur.Stores = append(slices.Clone(have), store)
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
	_, err = im.cat.MutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
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
