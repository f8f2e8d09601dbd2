package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// UploadToStore implements api.Backend: an upload (X-Image-Meta-Store)
// whose durable copies include one on a node of the store's zone. The
// data is ingested as by Upload (R copies spread over zones); if none of
// them landed in the zone, a live node of the zone gets a copy before the
// image becomes active, and one copy outside the zone leaves the
// placement so the image keeps R durable copies (the copy it leaves stays
// on its node as cache). Any failure puts the image back to queued.
func (n *Node) UploadToStore(ctx context.Context, img *raftfsm.Image, r io.Reader, sizeHint int64, store string) (*raftfsm.Image, error) {
	if store == "" || store == api.DefaultStore {
		return n.Upload(ctx, img, r, sizeHint)
	}
	session := uuid.NewString()
	saving := img.Clone()
	saving.Status = raftfsm.StatusSaving
	saving.Upload = &raftfsm.UploadLock{Node: n.id, Session: session, Started: time.Now().UTC()}
	saving.UpdatedAt = time.Now().UTC()
	if _, err := n.UpdateImage(ctx, saving, img.Revision); err != nil {
		return nil, err
	}
	defer n.unprotect(img.ID)
	man, placement, err := n.ingest(ctx, img.ID, r)
	if err == nil && sizeHint >= 0 && man.Size != sizeHint {
		err = fmt.Errorf("received %d bytes, announced %d: %w", man.Size, sizeHint, api.ErrSizeMismatch)
	}
	if err == nil && !n.zoneHolds(store, placement) {
		placement, err = n.placeInZone(ctx, img.ID, man, placement, store)
	}
	if err != nil {
		n.abortUpload(img.ID, session)
		return nil, err
	}
	out, err := n.mutateImage(ctx, img.ID, func(cur *raftfsm.Image) error {
		if cur.Status != raftfsm.StatusSaving || cur.Upload == nil || cur.Upload.Session != session {
			return fmt.Errorf("commit upload of %s (now %s): %w", img.ID, cur.Status, api.ErrGone)
		}
		cur.Status = raftfsm.StatusActive
		cur.Upload = nil
		cur.Manifest, cur.Placement = man, placement
		cur.Size = &man.Size
		cur.Checksum = &man.Checksum
		cur.OSHashAlgo = &man.OSHashAlgo
		cur.OSHashValue = &man.OSHashValue
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return nil, fmt.Errorf("commit upload of %s: %w", img.ID, api.ErrGone)
	}
	if err != nil {
		n.abortUpload(img.ID, session)
		return nil, err
	}
	if len(man.Chunks) > 0 {
		n.gossip.AnnounceAll(img.ID, len(man.Chunks))
	}
	return out, nil
}

// placeInZone copies man (held by placement) to a live node of zone and
// returns the new placement: that node added and, past R copies, the last
// copy outside the zone removed.
func (n *Node) placeInZone(ctx context.Context, imageID string, man *raftfsm.Manifest, placement []string, zone string) ([]string, error) {
	target, err := n.copyToZone(ctx, imageID, man, placement, zone)
	if err != nil {
		return nil, fmt.Errorf("copy to store %s: %w", zone, err)
	}
	out := slices.Clone(placement)
	if len(out)+1 > n.replicaCount() {
		for i := len(out) - 1; i >= 0; i-- {
			if m, ok := n.gossip.Member(out[i]); !ok || m.Meta.Zone != zone {
				out = slices.Delete(out, i, i+1)
				break
			}
		}
	}
	return append(out, target), nil
}
