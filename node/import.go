package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
)

// importer runs a node's imports in the background. Its zero value is
// ready: runImports opens it for the node's lifetime, and closes it (and
// waits for every import) when the node stops.
type importer struct {
	mu      sync.Mutex
	ctx     context.Context // nil until the node runs
	stopped bool
	wg      sync.WaitGroup
	active  map[string]bool // task ids and stage sessions in progress here
	settled atomic.Bool     // the first recovery pass after start is done
	client  *http.Client    // web-download and glance-download fetches
}

// errImportStopped means the node is not running (yet, or any more).
var errImportStopped = fmt.Errorf("node is not running imports: %w", catalog.ErrUnavailable)

// open starts accepting imports under ctx.
func (im *importer) open(ctx context.Context) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.ctx = ctx
	if im.active == nil {
		im.active = map[string]bool{}
	}
	im.client = &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 8,
		ResponseHeaderTimeout: time.Minute, IdleConnTimeout: 90 * time.Second,
	}}
}

// close refuses new imports and waits for the running ones, which see
// their context end.
func (im *importer) close() {
	im.mu.Lock()
	im.stopped = true
	im.mu.Unlock()
	im.wg.Wait()
	if im.client != nil {
		im.client.CloseIdleConnections()
	}
}

// running reports whether imports are accepted.
func (im *importer) running() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.ctx != nil && !im.stopped && im.ctx.Err() == nil
}

// spawn runs fn in the background as work key, with the node's lifetime
// context.
func (im *importer) spawn(key string, fn func(ctx context.Context)) error {
	im.mu.Lock()
	if im.ctx == nil || im.stopped {
		im.mu.Unlock()
		return errImportStopped
	}
	ctx := im.ctx
	im.wg.Add(1)
	im.active[key] = true
	im.mu.Unlock()
	go func() {
		defer im.wg.Done()
		defer im.done(key)
		fn(ctx)
	}()
	return nil
}

// begin and done mark foreground work (a stage) in progress here, so
// recovery leaves it alone.
func (im *importer) begin(key string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.active == nil {
		im.active = map[string]bool{}
	}
	im.active[key] = true
}

func (im *importer) done(key string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	delete(im.active, key)
}

func (im *importer) isActive(key string) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.active[key]
}

func (im *importer) httpClient() *http.Client {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.client == nil {
		return http.DefaultClient
	}
	return im.client
}

// runImports serves the node's imports until ctx ends, then waits for
// them; meanwhile it recovers imports and stages whose node died.
func (n *Node) runImports(ctx context.Context) {
	n.imports.open(ctx)
	defer n.imports.close()
	n.recoverImports(ctx)
}

// StartImport implements api.Backend: it locks the image for the import
// (status importing unless copy-image), records the task and runs the
// import in the background.
func (n *Node) StartImport(ctx context.Context, job *catalog.ImportJob) error {
	return n.startTask(ctx, job.Task, job.Method, job.ImageID, job.ImageRevision, func(cur *catalog.Image) *catalog.Image {
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
	}, func(ctx context.Context) { n.runImport(ctx, job) })
}

// startTask is how every import-like task starts on this node: check the
// image is still at the revision the request validated, record the task,
// then lock the image (the task exists before the lock names it, so a
// lock is never taken for a stale task by another node), then run the
// work in the background under the node's lifetime. If the lock cannot
// be taken the task is dropped: it never ran, and the caller answers.
func (n *Node) startTask(ctx context.Context, t *catalog.Task, method, imageID string, rev uint64,
	lock func(cur *catalog.Image) *catalog.Image, run func(context.Context)) error {
	if !n.imports.running() {
		return errImportStopped
	}
	t.Runner, t.Method, t.Target = n.id, method, imageID
	// Marked as running here before the task exists, so that recovery
	// never takes it for an abandoned one.
	n.imports.begin(t.ID)
	started := false
	defer func() {
		if !started {
			n.imports.done(t.ID)
		}
	}()
	cur, err := n.fsm.State().Image(imageID)
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
	if _, err := n.PutDoc(ctx, doc, true, 0); err != nil {
		return err
	}
	if _, err := n.UpdateImage(ctx, locked, rev); err != nil {
		if derr := n.DeleteDoc(context.WithoutCancel(ctx), catalog.TaskKind, t.ID); derr != nil {
			n.log.Warn("could not drop the task of an import that did not start", "task", t.ID, "method", method, "err", derr)
		}
		return err
	}
	if err := n.imports.spawn(t.ID, run); err != nil {
		n.failImport(imageID, t.ID, method, fmt.Errorf("start %s: %w", method, err))
		return err
	}
	started = true
	return nil
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
func (n *Node) runImport(ctx context.Context, job *catalog.ImportJob) {
	n.runTask(ctx, job.Task.ID, job.ImageID, job.Method, func(ctx context.Context) error { return n.doImport(ctx, job) })
}

// runTask runs the work of an import task: the task goes to processing,
// then to success, or to failure with the image back to queued.
func (n *Node) runTask(ctx context.Context, taskID, imageID, method string, work func(context.Context) error) {
	log := n.log.With("task", taskID, "image", imageID, "method", method)
	err := n.updateTask(ctx, taskID, func(t *catalog.Task) error {
		t.Status = catalog.TaskProcessing
		return nil
	})
	if err == nil {
		err = work(ctx)
	}
	if err != nil {
		log.Warn("import failed", "err", err)
		n.failImport(imageID, taskID, method, err)
		return
	}
	fctx, cancel := n.finishContext()
	defer cancel()
	err = n.updateTask(fctx, taskID, func(t *catalog.Task) error {
		t.Finish(catalog.TaskSuccess, "", map[string]any{"image_id": imageID}, time.Now().UTC())
		return nil
	})
	if err != nil {
		log.Warn("could not record import success", "err", err)
	}
	log.Info("import done")
}

// finishContext bounds the bookkeeping at the end of an import: it runs
// even when the node is stopping (the import's own context has ended).
func (n *Node) finishContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), min(n.cfg.WriteTimeout, 5*time.Second))
}

// doImport moves the data of an import and commits it.
func (n *Node) doImport(ctx context.Context, job *catalog.ImportJob) error {
	img, err := n.lockedImage(job.ImageID, job.Task.ID)
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
		return n.copyImage(ctx, job)
	case catalog.MethodWebDownload:
		defer n.unprotect(job.ImageID)
		man, placement, insp, err = n.fetchInto(ctx, job, job.URI, nil)
	case catalog.MethodGlanceDownload:
		defer n.unprotect(job.ImageID)
		man, placement, insp, meta, err = n.glanceDownload(ctx, job)
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
		vsize, err = checkData(target, insp)
	} else {
		vsize, err = n.checkStored(ctx, target, man, placement)
	}
	if err != nil {
		return err
	}
	placement, failed, err := n.placeInStores(ctx, job, man, placement)
	if err != nil {
		return err
	}
	_, err = n.mutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != job.Task.ID || cur.Status != catalog.StatusImporting {
			return fmt.Errorf("image %s is %s and no longer locked by this import", job.ImageID, cur.Status)
		}
		if meta != nil {
			meta(cur)
		}
		cur.Status = catalog.StatusActive
		cur.Manifest, cur.Placement = man, placement
		cur.ShortPlacement = len(placement) < n.cfg.Replicas
		cur.Staging, cur.StagingPlacement, cur.Upload = nil, nil, nil
		cur.Size = &man.Size
		setVirtualSize(cur, vsize)
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

// lockedImage returns the image if the task still holds its lock.
func (n *Node) lockedImage(id, task string) (*catalog.Image, error) {
	img, err := n.fsm.State().Image(id)
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
func (n *Node) failImport(imageID, taskID, method string, cause error) {
	ctx, cancel := n.finishContext()
	defer cancel()
	_, err := n.mutateImage(ctx, imageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != taskID {
			return errNoChange
		}
		if method != catalog.MethodCopyImage && (cur.Status == catalog.StatusImporting || cur.Status == catalog.StatusUploading) {
			requeue(cur)
			cur.Staging, cur.StagingPlacement = nil, nil
			cur.Manifest, cur.Placement = nil, nil
			cur.Checksum, cur.OSHashAlgo, cur.OSHashValue = nil, nil, nil
		}
		unlockImport(cur, catalog.SplitStores(cur.Properties[catalog.PropImportingToStores]))
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Error("could not release image after failed import", "image", imageID, "task", taskID, "err", err)
	}
	err = n.updateTask(ctx, taskID, func(t *catalog.Task) error {
		if t.Finished() {
			return errNoChange
		}
		t.Finish(catalog.TaskFailure, importFailureMessage(cause), nil, time.Now().UTC())
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Error("could not record import failure", "task", taskID, "err", err)
	}
	n.kickGC()
}

// importFailureMessage is the task message of a failed import.
func importFailureMessage(err error) string {
	switch {
	case errors.Is(err, catalog.ErrTooLarge):
		return "Image import failed: the image data exceeds the image size cap or the storage quota."
	case errors.Is(err, context.Canceled):
		return "Image import failed: the node running it stopped."
	}
	return "Image import failed: " + err.Error()
}

// updateTask applies fn to the stored task and saves it, retrying on a
// concurrent change. fn returning errNoChange leaves the task alone.
func (n *Node) updateTask(ctx context.Context, id string, fn func(*catalog.Task) error) error {
	return catalog.RetryOnConflict(ctx, nodeRewriteRetries, n.Sync, func(ctx context.Context) error {
		d, err := n.fsm.State().Doc(catalog.TaskKind, id)
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
		_, err = n.PutDoc(ctx, nd, false, d.Revision)
		return err
	})
}
