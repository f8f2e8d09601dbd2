package importer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// errNoChange tells MutateImage (or updateTask) that fn decided to leave
// the record alone.
var errNoChange = errors.New("no change")

// taskRewriteRetries bounds the retries of a task update that lost a
// race (catalog.RetryOnConflict), as the node's own image updates.
const taskRewriteRetries = 7

// startTask is how every import-like task starts on this node: check the
// image is still at the revision the request validated, record the task,
// then lock the image (the task exists before the lock names it, so a
// lock is never taken for a stale task by another node), then run the
// work in the background under Run's lifetime. If the lock cannot be
// taken the task is dropped: it never ran, and the caller answers.
func (im *Importer) startTask(ctx context.Context, t *catalog.Task, method, imageID string, rev uint64,
	lock func(cur *catalog.Image) *catalog.Image, run func(context.Context)) error {
	if !im.running() {
		return errStopped
	}
	t.Runner, t.Method, t.Target = im.cluster.Self(), method, imageID
	// Marked as running here before the task exists, so that recovery
	// never takes it for an abandoned one.
	im.begin(t.ID)
	started := false
	defer func() {
		if !started {
			im.done(t.ID)
		}
	}()
	cur, err := im.cat.Image(imageID)
	if err != nil {
		return err
	}
	if cur.Revision != rev {
		return fmt.Errorf("lock image %s for %s: %w", imageID, method, catalog.ErrConflict)
	}
	locked := lock(cur)
	locked.UpdatedAt = time.Now().UTC()
	doc, err := t.Doc()
	if err != nil {
		return err
	}
	if _, err := im.cat.PutDoc(ctx, doc, true, 0); err != nil {
		return err
	}
	if _, err := im.cat.UpdateImage(ctx, locked, rev); err != nil {
		if derr := im.cat.DeleteDoc(context.WithoutCancel(ctx), catalog.TaskKind, t.ID); derr != nil {
			im.log.Warn("could not drop the task of an import that did not start", "task", t.ID, "method", method, "err", derr)
		}
		return err
	}
	if err := im.Go(t.ID, run); err != nil {
		im.failImport(imageID, t.ID, method, fmt.Errorf("start %s: %w", method, err))
		return err
	}
	started = true
	return nil
}

// runTask runs the work of an import task: the task goes to processing,
// then to success, or to failure with the image back to queued.
func (im *Importer) runTask(ctx context.Context, taskID, imageID, method string, work func(context.Context) error) {
	log := im.log.With("task", taskID, "image", imageID, "method", method)
	err := im.updateTask(ctx, taskID, func(t *catalog.Task) error {
		t.Status = catalog.TaskProcessing
		return nil
	})
	if err == nil {
		err = work(ctx)
	}
	if err != nil {
		log.Warn("import failed", "err", err)
		im.failImport(imageID, taskID, method, err)
		return
	}
	fctx, cancel := im.finishContext()
	defer cancel()
	err = im.updateTask(fctx, taskID, func(t *catalog.Task) error {
		t.Finish(catalog.TaskSuccess, "", map[string]any{"image_id": imageID}, time.Now().UTC())
		return nil
	})
	if err != nil {
		log.Warn("could not record import success", "err", err)
	}
	log.Info("import done")
}

// lockedImage returns the image if the task still holds its lock.
func (im *Importer) lockedImage(id, task string) (*catalog.Image, error) {
	img, err := im.cat.Image(id)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	if img.Properties[catalog.PropImportTask] != task {
		return nil, fmt.Errorf("image %s is no longer locked by task %s", id, task)
	}
	return img, nil
}

// unlockImport ends an import's bookkeeping on the image: no store left
// to import to, the failed ones listed, the lock dropped.
func unlockImport(img *catalog.Image, failed []string) {
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	img.Properties[catalog.PropImportingToStores] = ""
	img.Properties[catalog.PropFailedImport] = catalog.JoinStores(append(catalog.SplitStores(img.Properties[catalog.PropFailedImport]), failed...))
	delete(img.Properties, catalog.PropImportTask)
}

// failImport records a failed import: the task fails with the reason and,
// if the task still holds the image, the image goes back to queued (its
// staged data dropped) — except after copy-image, which leaves it active —
// with the stores not done listed as failed.
func (im *Importer) failImport(imageID, taskID, method string, cause error) {
	ctx, cancel := im.finishContext()
	defer cancel()
	_, err := im.cat.MutateImage(ctx, imageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != taskID {
			return errNoChange
		}
		if method != catalog.MethodCopyImage && (cur.Status == catalog.StatusImporting || cur.Status == catalog.StatusUploading) {
			cur.Requeue(time.Now().UTC())
			cur.Staging, cur.StagingPlacement = nil, nil
			cur.Manifest, cur.Placement, cur.Stores = nil, nil, nil
			cur.Checksum, cur.OSHashAlgo, cur.OSHashValue = nil, nil, nil
		}
		unlockImport(cur, catalog.SplitStores(cur.Properties[catalog.PropImportingToStores]))
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		im.log.Error("could not release image after failed import", "image", imageID, "task", taskID, "err", err)
	}
	err = im.updateTask(ctx, taskID, func(t *catalog.Task) error {
		if t.Finished() {
			return errNoChange
		}
		t.Finish(catalog.TaskFailure, importFailureMessage(cause), nil, time.Now().UTC())
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		im.log.Error("could not record import failure", "task", taskID, "err", err)
	}
	im.data.KickGC()
}

// importFailureMessage is the task message of a failed import.
func importFailureMessage(err error) string {
	switch {
	case errors.Is(err, catalog.ErrTooLarge):
		return "Image import failed: the image data exceeds the image size cap or the storage quota."
	case errors.Is(err, context.Canceled):
		return "Image import failed: the node running it stopped."
	case errors.Is(err, errRemote):
		// Nothing about the remote side (its status, why a connection
		// failed, which address was refused): Glance says only "Task
		// failed due to Internal Error".
		return "Image import failed: " + errRemote.Error() + "."
	}
	return "Image import failed: " + err.Error()
}

// updateTask applies fn to the stored task and saves it, retrying on a
// concurrent change. fn returning errNoChange leaves the task alone.
func (im *Importer) updateTask(ctx context.Context, id string, fn func(*catalog.Task) error) error {
	return catalog.RetryOnConflict(ctx, taskRewriteRetries, im.cat.Sync, func(ctx context.Context) error {
		d, err := im.cat.Doc(catalog.TaskKind, id)
		if err != nil {
			return err
		}
		t, err := catalog.TaskFromDoc(d)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		t.UpdatedAt = time.Now().UTC()
		nd, err := t.Doc()
		if err != nil {
			return err
		}
		nd.CreatedAt = d.CreatedAt
		_, err = im.cat.PutDoc(ctx, nd, false, d.Revision)
		return err
	})
}
