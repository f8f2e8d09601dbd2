package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/imagecheck"
)

// Upload implements api.Backend: queued -> saving, stream into chunks
// replicated R times (the format inspector watching the stream), check
// the data is what disk_format says and safe (package imagecheck), then
// commit the manifest (active). Any failure puts the image back to
// queued.
func (n *Node) Upload(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error) {
	return n.uploadTo(ctx, img, r, sizeHint, "")
}

// uploadTo is Upload; a zone store (not "" or default) additionally gets
// one of the durable copies on a node of that zone before the commit.
func (n *Node) uploadTo(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64, store string) (*catalog.Image, error) {
	session := uuid.NewString()
	// Registered as running, so the importer's recovery pass requeues
	// the image if this upload ends without managing to (no leader
	// reachable then).
	defer n.imports.Track(session)()
	saving := img.Clone()
	saving.Status = catalog.StatusSaving
	saving.Upload = &catalog.UploadLock{Node: n.id, Session: session, Started: time.Now().UTC()}
	saving.UpdatedAt = time.Now().UTC()
	if _, err := n.replica.UpdateImage(ctx, saving, img.Revision); err != nil {
		return nil, err
	}
	defer n.unprotect(img.ID)
	r, insp := imagecheck.Watch(r)
	man, placement, err := n.xfer.Ingest(ctx, img.ID, r)
	if err == nil && sizeHint >= 0 && man.Size != sizeHint {
		err = fmt.Errorf("received %d bytes, announced %d: %w", man.Size, sizeHint, catalog.ErrSizeMismatch)
	}
	var vsize int64
	if err == nil {
		if vsize, err = imagecheck.Check(img, insp); err != nil {
			n.log.Warn("upload refused by the format inspection", "image", img.ID, "disk_format", *img.DiskFormat, "err", err)
			err = imagecheck.Refusal(err)
		}
	}
	if err == nil && store != "" && store != catalog.DefaultStore && !n.xfer.ZoneHolds(store, placement) {
		placement, err = n.xfer.PlaceInZone(ctx, img.ID, man, placement, store)
	}
	if err != nil {
		n.abortUpload(img.ID, session)
		return nil, err
	}
	out, err := n.replica.mutateImage(ctx, img.ID, func(cur *catalog.Image) error {
		if cur.Status != catalog.StatusSaving || cur.Upload == nil || cur.Upload.Session != session {
			return fmt.Errorf("commit upload of %s (now %s): %w", img.ID, cur.Status, catalog.ErrGone)
		}
		cur.Status = catalog.StatusActive
		cur.Upload = nil
		cur.Manifest = man
		cur.Placement = placement
		cur.Stores = []string{catalog.DefaultStore}
		if store != "" {
			cur.Stores = []string{store}
		}
		cur.ShortPlacement = len(placement) < n.cfg.Replicas
		cur.Size = &man.Size
		imagecheck.SetVirtualSize(cur, vsize)
		cur.Checksum = &man.Checksum
		cur.OSHashAlgo = &man.OSHashAlgo
		cur.OSHashValue = &man.OSHashValue
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("commit upload of %s: %w", img.ID, catalog.ErrGone)
	}
	if err != nil {
		// The commit may still win (its outcome is unknown when the
		// leader was lost while committing): the abort, ordered after it
		// in the log, settles which; a commit that won is a success.
		n.abortUpload(img.ID, session)
		cur, cerr := n.fsm.State().Image(img.ID)
		if cerr != nil || cur.Status != catalog.StatusActive || cur.Upload != nil || !sameManifest(cur.Manifest, man) {
			return nil, err
		}
		out = cur
	}
	if len(man.Chunks) > 0 {
		n.tracker.AnnounceAll(img.ID, len(man.Chunks))
	}
	return out, nil
}

// abortUpload returns an image whose upload failed to queued (if the
// upload still owns it). It runs on its own context: the request's may
// already be cancelled.
func (n *Node) abortUpload(id, session string) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WriteTimeout)
	defer cancel()
	_, err := n.replica.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if cur.Status != catalog.StatusSaving || cur.Upload == nil || cur.Upload.Session != session {
			return errNoChange
		}
		cur.Requeue(time.Now().UTC())
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Error("could not requeue image after failed upload", "image", id, "err", err)
	}
	n.kickGC()
}

// sameManifest reports whether two manifests describe the same data.
func sameManifest(a, b *catalog.Manifest) bool {
	if a == nil || b == nil || a.Size != b.Size || a.Checksum != b.Checksum || a.OSHashValue != b.OSHashValue || len(a.Chunks) != len(b.Chunks) {
		return false
	}
	for i := range a.Chunks {
		if a.Chunks[i].Digest != b.Chunks[i].Digest {
			return false
		}
	}
	return true
}

// errNoChange tells mutateImage that fn decided to leave the image alone.
var errNoChange = errors.New("no change")
