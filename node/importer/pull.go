package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/catalog"
)

// Lazy locations: an active image whose data lives only at its http(s)
// locations (no manifest yet) is pulled on first use. The node that first
// needs the bytes claims the image's pull lock through Raft (UploadLock
// with a "pull-" session on an active image), reads the origin once
// through the chunk pipeline (chunked, replicated R times), verifies the
// data against the size and hashes the catalog already records, and
// commits the manifest (pull_origin.go). Every other node that needs the
// image meanwhile waits for that commit and then fetches the chunks from
// peers, so the origin is read once per image, not once per node. A
// puller that dies leaves a lock whose node gossip reports gone; the
// next node takes over.

// pullSessionPrefix marks an UploadLock held by a location pull.
const pullSessionPrefix = "pull-"

// pullPoll is how often a node waiting for another node's pull looks at
// the catalog.
const pullPoll = 100 * time.Millisecond

// errPullLost means another node took a pull's lock over before it
// committed: the pull waits for that node instead.
var errPullLost = errors.New("the pull's lock was taken over by another node")

// pullCall is one in-progress pull on this node, shared by every request
// that needs the image meanwhile.
type pullCall struct {
	done chan struct{}
	img  *catalog.Image
	err  error
}

// pullGroup dedups concurrent pulls of an image on one node.
type pullGroup struct {
	mu    sync.Mutex
	calls map[string]*pullCall
}

// OriginBacked reports an image whose data is only at its locations: it
// is pulled (PullImage) before its bytes can be read.
func OriginBacked(img *catalog.Image) bool {
	return img.Manifest == nil && len(img.Locations) > 0 &&
		(img.Status == catalog.StatusActive || img.Status == catalog.StatusDeactivated)
}

// PullImage returns img unchanged when its data is in the cluster, and
// otherwise brings it in from the image's locations (or waits while
// another node does) and returns the image with its manifest. The pull
// runs under Run's lifetime and is shared by every caller on this node;
// ctx bounds only this caller's wait.
func (im *Importer) PullImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	if !OriginBacked(img) {
		return img, nil
	}
	im.pulls.mu.Lock()
	if im.pulls.calls == nil {
		im.pulls.calls = map[string]*pullCall{}
	}
	c, ok := im.pulls.calls[img.ID]
	if !ok {
		c = &pullCall{done: make(chan struct{})}
		im.pulls.calls[img.ID] = c
		id := img.ID
		err := im.Go(pullSessionPrefix+id, func(nctx context.Context) {
			c.img, c.err = im.pull(nctx, id)
			im.pulls.mu.Lock()
			delete(im.pulls.calls, id)
			im.pulls.mu.Unlock()
			close(c.done)
		})
		if err != nil {
			delete(im.pulls.calls, img.ID)
			im.pulls.mu.Unlock()
			return nil, err
		}
	}
	im.pulls.mu.Unlock()
	select {
	case <-c.done:
		return c.img, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("pull image %s from its location: %w", img.ID, ctx.Err())
	}
}

// pull brings image id's data in from its locations, or waits for the
// node that holds the pull lock, until the manifest is committed. It
// runs under the node's lifetime, not a request's: the requests waiting
// for it may come and go.
func (im *Importer) pull(ctx context.Context, id string) (*catalog.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, im.cfg.LocationPullTimeout)
	defer cancel()
	for {
		cur, err := im.cat.Image(id)
		if err != nil {
			return nil, err
		}
		if !OriginBacked(cur) {
			if cur.Manifest == nil {
				return nil, fmt.Errorf("image %s is %s and has no data: %w", id, cur.Status, catalog.ErrNotFound)
			}
			return cur, nil
		}
		if holder := cur.Upload; holder == nil || !im.pullHolderLive(holder) {
			session := pullSessionPrefix + uuid.NewString()
			claimed, err := im.claimPull(ctx, id, session)
			if err != nil {
				return nil, err
			}
			if claimed {
				out, err := im.pullFromLocations(ctx, id, session)
				if err == nil {
					return out, nil
				}
				im.releasePull(id, session)
				if !errors.Is(err, errPullLost) {
					return nil, err
				}
				// Another node took the pull over (gossip saw this one
				// gone for a moment): its result is waited for as any
				// other puller's.
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the pull of image %s: %w", id, ctx.Err())
		case <-time.After(pullPoll):
		}
	}
}

// pullHolderLive reports whether the node holding a pull lock is still
// working on it: another node that gossip sees alive, or this node in
// this process.
func (im *Importer) pullHolderLive(l *catalog.UploadLock) bool {
	if l.Node == im.cluster.Self() {
		return l.Started.After(im.cfg.Started) && im.isActive(l.Session)
	}
	return im.cluster.Alive(l.Node)
}

// releaseStalePulls drops the pull locks this node holds but no longer
// works on: a pull that ended when no leader was reachable to release its
// lock, or one cut by a restart. Other nodes see this node alive and
// would otherwise wait on such a lock until LocationPullTimeout.
func (im *Importer) releaseStalePulls(ctx context.Context) {
	var stale []*catalog.UploadLock
	var ids []string
	self := im.cluster.Self()
	im.cat.EachLocked(func(img *catalog.Image) bool {
		if l := img.Upload; l != nil && l.Node == self && OriginBacked(img) &&
			strings.HasPrefix(l.Session, pullSessionPrefix) && !im.isActive(l.Session) {
			stale, ids = append(stale, l), append(ids, img.ID)
		}
		return ctx.Err() == nil
	})
	for i, l := range stale {
		if ctx.Err() != nil {
			return
		}
		im.log.Warn("releasing the lock of a location pull this node no longer runs", "image", ids[i])
		im.releasePull(ids[i], l.Session)
	}
}

// claimPull takes image id's pull lock as session if it is free (or its
// holder gone). It reports false when another node got it first.
func (im *Importer) claimPull(ctx context.Context, id, session string) (bool, error) {
	im.begin(session)
	_, err := im.cat.MutateImage(ctx, id, func(cur *catalog.Image) error {
		if !OriginBacked(cur) || (cur.Upload != nil && im.pullHolderLive(cur.Upload)) {
			return errNoChange
		}
		cur.Upload = &catalog.UploadLock{Node: im.cluster.Self(), Session: session, Started: time.Now().UTC()}
		return nil
	})
	if err != nil {
		im.done(session)
		if errors.Is(err, errNoChange) {
			return false, nil
		}
		return false, fmt.Errorf("claim the pull of image %s: %w", id, err)
	}
	return true, nil
}

// releasePull drops a failed pull's lock so that the next download tries
// again, and lets GC take the chunks it stored.
func (im *Importer) releasePull(id, session string) {
	defer im.done(session)
	ctx, cancel := im.finishContext()
	defer cancel()
	_, err := im.cat.MutateImage(ctx, id, func(cur *catalog.Image) error {
		if cur.Upload == nil || cur.Upload.Session != session {
			return errNoChange
		}
		cur.Upload = nil
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		im.log.Warn("could not release a location pull", "image", id, "err", err)
	}
	im.data.KickGC()
}
