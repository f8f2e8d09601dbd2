package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/p2pglance/p2pglance/catalog"
)

// StageImage implements api.Backend: queued -> uploading (locked by this
// node for the stage), the data through the upload pipeline (chunks
// stored here and replicated R times), then the staged manifest and its
// placement committed through Raft, so that any node can run the import.
// Any failure returns the image to queued; the staged chunks become
// garbage.
func (n *Node) StageImage(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error) {
	session := uuid.NewString()
	n.imports.begin(session)
	defer n.imports.done(session)
	up := img.Clone()
	up.Status = catalog.StatusUploading
	up.Upload = &catalog.UploadLock{Node: n.id, Session: session, Started: time.Now().UTC()}
	up.Staging, up.StagingPlacement = nil, nil
	up.UpdatedAt = time.Now().UTC()
	if _, err := n.UpdateImage(ctx, up, img.Revision); err != nil {
		return nil, err
	}
	defer n.unprotect(img.ID)
	man, placement, err := n.ingest(ctx, img.ID, r)
	if err == nil && sizeHint >= 0 && man.Size != sizeHint {
		err = fmt.Errorf("received %d bytes, announced %d: %w", man.Size, sizeHint, catalog.ErrSizeMismatch)
	}
	if err != nil {
		n.abortStage(img.ID, session)
		return nil, err
	}
	out, err := n.mutateImage(ctx, img.ID, func(cur *catalog.Image) error {
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
		n.abortStage(img.ID, session)
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
func (n *Node) abortStage(id, session string) {
	ctx, cancel := n.finishContext()
	defer cancel()
	n.requeueStage(ctx, id, func(cur *catalog.Image) bool { return stagedBy(cur, session) })
}

// requeueStage puts an image in uploading back to queued, dropping its
// staged data, if owned(image) holds.
func (n *Node) requeueStage(ctx context.Context, id string, owned func(*catalog.Image) bool) {
	_, err := n.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if !owned(cur) {
			return errNoChange
		}
		requeue(cur)
		cur.Staging, cur.StagingPlacement = nil, nil
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Error("could not requeue image after failed stage", "image", id, "err", err)
	}
	n.kickGC()
}
