package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
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
// commits the manifest. Every other node that needs the image meanwhile
// waits for that commit and then fetches the chunks from peers, so the
// origin is read once per image, not once per node. A puller that dies
// leaves a lock whose node gossip reports gone; the next node takes over.

// pullSessionPrefix marks an UploadLock held by a location pull.
const pullSessionPrefix = "pull-"

// pullPoll is how often a node waiting for another node's pull looks at
// the catalog.
const pullPoll = 100 * time.Millisecond

// errOriginMismatch means a location's data is not what the catalog
// records for the image (size or hashes): it is never served.
var errOriginMismatch = fmt.Errorf("the location's data does not match the image's recorded size or checksums: %w", catalog.ErrUnavailable)

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

// originBacked reports an image whose data is only at its locations.
func originBacked(img *catalog.Image) bool {
	return img.Manifest == nil && len(img.Locations) > 0 &&
		(img.Status == catalog.StatusActive || img.Status == catalog.StatusDeactivated)
}

// PullImage implements api.Backend: it returns img unchanged when its
// data is in the cluster, and otherwise brings it in from the image's
// locations (or waits while another node does) and returns the image
// with its manifest.
func (n *Node) PullImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	if !originBacked(img) {
		return img, nil
	}
	n.pulls.mu.Lock()
	if n.pulls.calls == nil {
		n.pulls.calls = map[string]*pullCall{}
	}
	c, ok := n.pulls.calls[img.ID]
	if !ok {
		c = &pullCall{done: make(chan struct{})}
		n.pulls.calls[img.ID] = c
		id := img.ID
		err := n.imports.spawn(pullSessionPrefix+id, func(nctx context.Context) {
			c.img, c.err = n.pull(nctx, id)
			n.pulls.mu.Lock()
			delete(n.pulls.calls, id)
			n.pulls.mu.Unlock()
			close(c.done)
		})
		if err != nil {
			delete(n.pulls.calls, img.ID)
			n.pulls.mu.Unlock()
			return nil, err
		}
	}
	n.pulls.mu.Unlock()
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
func (n *Node) pull(ctx context.Context, id string) (*catalog.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LocationPullTimeout)
	defer cancel()
	for {
		cur, err := n.fsm.State().Image(id)
		if err != nil {
			return nil, err
		}
		if !originBacked(cur) {
			if cur.Manifest == nil {
				return nil, fmt.Errorf("image %s is %s and has no data: %w", id, cur.Status, catalog.ErrNotFound)
			}
			return cur, nil
		}
		if holder := cur.Upload; holder == nil || !n.pullHolderLive(holder) {
			session := pullSessionPrefix + uuid.NewString()
			claimed, err := n.claimPull(ctx, id, session)
			if err != nil {
				return nil, err
			}
			if claimed {
				out, err := n.pullFromLocations(ctx, id, session)
				if err == nil {
					return out, nil
				}
				n.releasePull(id, session)
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
func (n *Node) pullHolderLive(l *catalog.UploadLock) bool {
	if l.Node == n.id {
		return l.Started.After(n.started) && n.imports.isActive(l.Session)
	}
	m, ok := n.gossip.Member(l.Node)
	return ok && m.Alive
}

// releaseStalePulls drops the pull locks this node holds but no longer
// works on: a pull that ended when no leader was reachable to release its
// lock, or one cut by a restart. Other nodes see this node alive and
// would otherwise wait on such a lock until LocationPullTimeout.
func (n *Node) releaseStalePulls(ctx context.Context) {
	var stale []*catalog.UploadLock
	var ids []string
	n.fsm.State().Each(func(img *catalog.Image) bool {
		if l := img.Upload; l != nil && l.Node == n.id && originBacked(img) &&
			strings.HasPrefix(l.Session, pullSessionPrefix) && !n.imports.isActive(l.Session) {
			stale, ids = append(stale, l), append(ids, img.ID)
		}
		return ctx.Err() == nil
	})
	for i, l := range stale {
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("releasing the lock of a location pull this node no longer runs", "image", ids[i])
		n.releasePull(ids[i], l.Session)
	}
}

// claimPull takes image id's pull lock as session if it is free (or its
// holder gone). It reports false when another node got it first.
func (n *Node) claimPull(ctx context.Context, id, session string) (bool, error) {
	n.imports.begin(session)
	_, err := n.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if !originBacked(cur) || (cur.Upload != nil && n.pullHolderLive(cur.Upload)) {
			return errNoChange
		}
		cur.Upload = &catalog.UploadLock{Node: n.id, Session: session, Started: time.Now().UTC()}
		return nil
	})
	if err != nil {
		n.imports.done(session)
		if errors.Is(err, errNoChange) {
			return false, nil
		}
		return false, fmt.Errorf("claim the pull of image %s: %w", id, err)
	}
	return true, nil
}

// releasePull drops a failed pull's lock so that the next download tries
// again, and lets GC take the chunks it stored.
func (n *Node) releasePull(id, session string) {
	defer n.imports.done(session)
	ctx, cancel := n.finishContext()
	defer cancel()
	_, err := n.mutateImage(ctx, id, func(cur *catalog.Image) error {
		if cur.Upload == nil || cur.Upload.Session != session {
			return errNoChange
		}
		cur.Upload = nil
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, catalog.ErrNotFound) {
		n.log.Warn("could not release a location pull", "image", id, "err", err)
	}
	n.kickGC()
}

// pullFromLocations reads the first location that answers into the
// cluster, verifies it and commits the manifest; the caller holds the
// pull lock as session.
func (n *Node) pullFromLocations(ctx context.Context, id, session string) (*catalog.Image, error) {
	defer n.imports.done(session)
	defer n.unprotect(id)
	img, err := n.fsm.State().Image(id)
	if err != nil {
		return nil, err
	}
	log := n.log.With("image", id)
	var errs []error
	for _, loc := range img.Locations {
		p, err := n.pullOne(ctx, img, loc.URL)
		if err != nil {
			log.Warn("location pull failed", "url", loc.URL, "err", err)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		out, err := n.mutateImage(ctx, id, func(cur *catalog.Image) error {
			if cur.Upload == nil || cur.Upload.Session != session || cur.Manifest != nil {
				return fmt.Errorf("image %s: %w", id, errPullLost)
			}
			man := p.man
			cur.Upload = nil
			cur.Manifest, cur.Placement = man, p.placement
			cur.ShortPlacement = len(p.placement) < n.cfg.Replicas
			if cur.Size == nil {
				cur.Size = &man.Size
			}
			if cur.VirtualSize == nil {
				setVirtualSize(cur, p.vsize)
			}
			if cur.Checksum == nil {
				cur.Checksum = &man.Checksum
			}
			if cur.OSHashAlgo == nil || cur.OSHashValue == nil {
				cur.OSHashAlgo, cur.OSHashValue = &man.OSHashAlgo, &man.OSHashValue
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("commit the pull of image %s: %w", id, err)
		}
		if len(p.man.Chunks) > 0 {
			n.gossip.AnnounceAll(id, len(p.man.Chunks))
		}
		log.Info("image pulled from its location", "url", loc.URL, "bytes", p.man.Size)
		return out, nil
	}
	// No location could be read (or none held the right data): the
	// image's data is unavailable for now, not a server fault.
	return nil, fmt.Errorf("pull image %s: %w: %w", id, catalog.ErrUnavailable, errors.Join(errs...))
}

// pullOne reads one location through the chunk pipeline and checks the
// data against what the catalog records for img.
func (n *Node) pullOne(ctx context.Context, img *catalog.Image, url string) (*pulled, error) {
	resp, err := n.importGet(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := n.cfg.MaxImageSize
	if img.Size != nil {
		limit = *img.Size
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("location %s has %d bytes, image %d: %w", url, resp.ContentLength, limit, errOriginMismatch)
	}
	var extra hash.Hash
	if img.OSHashAlgo != nil && *img.OSHashAlgo != "sha512" {
		extra = catalog.NewHash(*img.OSHashAlgo)
	}
	var body io.Reader = &capReader{r: resp.Body, left: limit}
	if extra != nil {
		body = io.TeeReader(body, extra)
	}
	body, insp := inspectStream(body)
	man, placement, err := n.ingest(ctx, img.ID, body)
	if errors.Is(err, errOverCap) {
		return nil, fmt.Errorf("location %s: more than %d bytes: %w", url, limit, errOriginMismatch)
	}
	if err != nil {
		return nil, fmt.Errorf("read location %s: %w", url, err)
	}
	switch {
	case img.Size != nil && man.Size != *img.Size:
		err = fmt.Errorf("location %s: %d bytes, image size %d: %w", url, man.Size, *img.Size, errOriginMismatch)
	case img.Checksum != nil && *img.Checksum != man.Checksum:
		err = fmt.Errorf("location %s: checksum %s, image %s: %w", url, man.Checksum, *img.Checksum, errOriginMismatch)
	case img.OSHashValue != nil && extra == nil && *img.OSHashValue != man.OSHashValue:
		err = fmt.Errorf("location %s: sha512 %s, image %s: %w", url, man.OSHashValue, *img.OSHashValue, errOriginMismatch)
	case img.OSHashValue != nil && extra != nil && *img.OSHashValue != hex.EncodeToString(extra.Sum(nil)):
		err = fmt.Errorf("location %s: %s does not match the image's os_hash_value: %w", url, *img.OSHashAlgo, errOriginMismatch)
	}
	if err != nil {
		return nil, err
	}
	// Glance does not inspect location data; this cluster serves what it
	// pulls, so it holds it to the rules an upload meets.
	vsize, err := checkData(img, insp)
	if err != nil {
		return nil, fmt.Errorf("location %s: %w: %w", url, err, errOriginMismatch)
	}
	return &pulled{man: man, placement: placement, vsize: vsize}, nil
}

// pulled is the data of one location, stored and checked.
type pulled struct {
	man       *catalog.Manifest
	placement []string
	vsize     int64 // from the format inspector; 0: unknown
}
