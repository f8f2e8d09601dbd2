package importer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
	"github.com/p2pglance/p2pglance/node/imagecheck"
)

// StartImport locks the image for an interoperable import (status
// importing unless copy-image), records the task and runs the import in
// the background.
func (im *Importer) StartImport(ctx context.Context, job *catalog.ImportJob) error {
	return im.startTask(ctx, job.Task, job.Method, job.ImageID, job.ImageRevision, func(cur *catalog.Image) *catalog.Image {
		locked := cur.Clone()
		if locked.Properties == nil {
			locked.Properties = map[string]string{}
		}
		locked.Properties[catalog.PropImportTask] = job.Task.ID
		locked.Properties[catalog.PropImportingToStores] = catalog.JoinStores(job.Stores)
		locked.Properties[catalog.PropFailedImport] = catalog.JoinStores(without(catalog.SplitStores(locked.Properties[catalog.PropFailedImport]), job.Stores))
		if job.Method != catalog.MethodCopyImage {
			locked.Status = catalog.StatusImporting
		}
		return locked
	}, func(ctx context.Context) { im.runImport(ctx, job) })
}

// without returns the items of list that are not in drop.
func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		keep := true
		for _, d := range drop {
			keep = keep && s != d
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

// runImport does one import and records its outcome on the task and the
// image.
func (im *Importer) runImport(ctx context.Context, job *catalog.ImportJob) {
	im.runTask(ctx, job.Task.ID, job.ImageID, job.Method, func(ctx context.Context) error { return im.doImport(ctx, job) })
}

// doImport moves the data of an import and commits it.
func (im *Importer) doImport(ctx context.Context, job *catalog.ImportJob) error {
	img, err := im.lockedImage(job.ImageID, job.Task.ID)
	if err != nil {
		return err
	}
	var (
		man       *catalog.Manifest
		placement []string
		meta      func(*catalog.Image)
		insp      *imageformat.Inspector // nil: inspect the stored data
	)
	switch job.Method {
	case catalog.MethodGlanceDirect:
		if img.Staging == nil {
			return fmt.Errorf("image %s has no staged data", job.ImageID)
		}
		man, placement = img.Staging, img.StagingPlacement
	case catalog.MethodCopyImage:
		return im.copyImage(ctx, job)
	case catalog.MethodWebDownload:
		defer im.data.Unprotect(job.ImageID)
		man, placement, insp, err = im.fetchInto(ctx, job, job.URI, nil)
	case catalog.MethodGlanceDownload:
		defer im.data.Unprotect(job.ImageID)
		man, placement, insp, meta, err = im.glanceDownload(ctx, job)
	default:
		err = fmt.Errorf("unknown import method %q", job.Method)
	}
	if err != nil {
		return err
	}
	// The data must be what the image (with the metadata the import
	// brings) says it is, and safe, before it goes anywhere else.
	target := img.Clone()
	if meta != nil {
		meta(target)
	}
	var vsize int64
	if insp != nil {
		vsize, err = imagecheck.Check(target, insp)
	} else {
		vsize, err = imagecheck.CheckStored(ctx, target, man, placement, im.data.FetchChunk)
	}
	if err != nil {
		return err
	}
	placement, failed, err := im.placeInStores(ctx, job, man, placement)
	if err != nil {
		return err
	}
	_, err = im.cat.MutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != job.Task.ID || cur.Status != catalog.StatusImporting {
			return fmt.Errorf("image %s is %s and no longer locked by this import", job.ImageID, cur.Status)
		}
		if meta != nil {
			meta(cur)
		}
		cur.Status = catalog.StatusActive
		cur.Manifest, cur.Placement = man, placement
		cur.Stores = without(job.Stores, failed)
		cur.ShortPlacement = len(placement) < im.cfg.Replicas
		cur.Staging, cur.StagingPlacement, cur.Upload = nil, nil, nil
		cur.Size = &man.Size
		imagecheck.SetVirtualSize(cur, vsize)
		cur.Checksum = &man.Checksum
		cur.OSHashAlgo = &man.OSHashAlgo
		cur.OSHashValue = &man.OSHashValue
		unlockImport(cur, failed)
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("image %s was deleted during the import", job.ImageID)
	}
	return err
}
