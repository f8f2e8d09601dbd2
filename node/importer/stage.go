package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
)

// StageImage stages data for a glance-direct import: queued ->
// uploading (locked by this node for the stage), the data through the
// chunk pipeline (chunks stored here and replicated R times), then the
// staged manifest and its placement committed, so that any node can run
// the import. Any failure returns the image to queued; the staged chunks
// become garbage.
func (im *Importer) StageImage(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error) {
	session := uuid.NewString()
	defer im.Track(session)()
	up := img.Clone()
	up.Status = catalog.StatusUploading
	up.Upload = &catalog.UploadLock{Node: im.cluster.Self(), Session: session, Started: time.Now().UTC()}
	up.Staging, up.StagingPlacement = nil, nil
	up.UpdatedAt = time.Now().UTC()
	if _, err := im.cat.UpdateImage(ctx, up, img.Revision); err != nil {
		return nil, err
	}
	defer im.data.Unprotect(img.ID)
	man, placement, err := im.data.Ingest(ctx, img.ID, r)
	if err == nil && sizeHint >= 0 && man.Size != sizeHint {
		err = fmt.Errorf("received %d bytes, announced %d: %w", man.Size, sizeHint, catalog.ErrSizeMismatch)
	}
	if err != nil {
		im.abortStage(img.ID, session)
		return nil, err
	}
	out, err := im.cat.MutateImage(ctx, img.ID, func(cur *catalog.Image) error {
		if !stagedBy(cur, session) {
			return fmt.Errorf("commit stage of %s (now %s): %w", img.ID, cur.Status, catalog.ErrGone)
		}
		cur.Upload = nil
		cur.Staging, cur.StagingPlacement = man, placement
		cur.Size = &man.Size
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("commit stage of %s: %w", img.ID, catalog.ErrGone)
	}
	if err != nil {
		im.abortStage(img.ID, session)
		return nil, err
	}
	return out, nil
}

// stagedBy reports whether img is being staged in session.
func stagedBy(img *catalog.Image, session string) bool {
	return img.Status == catalog.StatusUploading && img.Upload != nil && img.Upload.Session == session
}

// abortStage returns an image whose stage failed to queued, if that stage
// still owns it. It runs on its own context: the request's may be gone.
func (im *Importer) abortStage(id, session string) {
	ctx, cancel := im.finishContext()
	defer cancel()
	im.requeueStage(ctx, id, func(cur *catalog.Image) bool { return stagedBy(cur, session) })
}

// requeueStage puts an image in uploading back to queued, dropping its
// staged data, if owned(image) holds.
func (im *Importer) requeueStage(ctx context.Context, id string, owned func(*catalog.Image) bool) {
	_, err := im.cat.MutateImage(ctx, id, func(cur *catalog.Image) error {
		if !owned(cur) {
			return errNoChange
		}
		cur.Requeue(time.Now().UTC())
		cur.Staging, cur.StagingPlacement = nil, nil
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		im.log.Error("could not requeue image after failed stage", "image", id, "err", err)
	}
	im.data.KickGC()
}
