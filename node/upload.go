package node

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/imagecheck"
	"github.com/p2pglance/p2pglance/peer"
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
	man, placement, err := n.ingest(ctx, img.ID, r)
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
	if err == nil && store != "" && store != catalog.DefaultStore && !n.zoneHolds(store, placement) {
		placement, err = n.placeInZone(ctx, img.ID, man, placement, store)
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
		n.gossip.AnnounceAll(img.ID, len(man.Chunks))
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

// chunkJob is one chunk moving through the upload pipeline; its buffer
// goes back to the pool when the last of its users is done.
type chunkJob struct {
	idx  int
	data []byte
	buf  *buffer
	refs sync.WaitGroup
}

// ingest reads r into chunks: each chunk is hashed (BLAKE3), stored
// locally and pushed to R-1 peers, while md5 and sha512 run over the
// stream; at the end every replica is checked to hold every chunk
// durably. It returns the manifest and the placement (node ids).
func (n *Node) ingest(ctx context.Context, imageID string, r io.Reader) (*catalog.Manifest, []string, error) {
	targets := n.pickReplicas(n.replicaCount()-1, nil)
	g, gctx := errgroup.WithContext(ctx)
	md5h, shah := md5.New(), sha512.New()
	md5Ch, shaCh := make(chan *chunkJob, 4), make(chan *chunkJob, 4)
	hashLoop := func(h hash.Hash, ch chan *chunkJob) func() error {
		return func() error {
			for j := range ch {
				h.Write(j.data)
				j.refs.Done()
			}
			return nil
		}
	}
	g.Go(hashLoop(md5h, md5Ch))
	g.Go(hashLoop(shah, shaCh))

	var mu sync.Mutex
	var chunks []catalog.ChunkRef
	sem := make(chan struct{}, 4)
	var total int64
	readErr := func() error {
		defer close(md5Ch)
		defer close(shaCh)
		for idx := 0; ; idx++ {
			buf := n.bufs.get()
			k, err := fillBuffer(r, buf.b)
			if k == 0 {
				n.bufs.put(buf)
			} else {
				total += int64(k)
				j := &chunkJob{idx: idx, data: buf.b[:k], buf: buf}
				j.refs.Add(3)
				go func() { j.refs.Wait(); n.bufs.put(j.buf) }()
				md5Ch <- j
				shaCh <- j
				select {
				case sem <- struct{}{}:
				case <-gctx.Done():
					j.refs.Done()
					return gctx.Err()
				}
				mu.Lock()
				chunks = append(chunks, catalog.ChunkRef{Size: int64(k)})
				mu.Unlock()
				g.Go(func() error {
					defer func() { <-sem; j.refs.Done() }()
					d, err := n.storeAndPush(gctx, imageID, j, targets)
					if err != nil {
						return err
					}
					mu.Lock()
					chunks[j.idx].Digest = d.String()
					mu.Unlock()
					return nil
				})
			}
			switch {
			case err == io.EOF:
				return nil
			case err != nil:
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return err
				}
				return fmt.Errorf("read upload stream: %w: %w", catalog.ErrUploadInterrupted, err)
			}
		}
	}()
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if readErr != nil {
		return nil, nil, readErr
	}
	if err := n.chunks.Sync(ctx); err != nil {
		return nil, nil, fmt.Errorf("sync chunks: %w", err)
	}
	man := &catalog.Manifest{
		Chunks:      chunks,
		Size:        total,
		Checksum:    hex.EncodeToString(md5h.Sum(nil)),
		OSHashAlgo:  "sha512",
		OSHashValue: hex.EncodeToString(shah.Sum(nil)),
	}
	placement, err := n.ensureReplicas(ctx, imageID, man, targets)
	if err != nil {
		return nil, nil, err
	}
	return man, placement, nil
}

// fillBuffer reads from r until buf is full (nil error) or r ends. Only
// a clean io.EOF from r ends the stream: any other error — including
// io.ErrUnexpectedEOF from a truncated chunked request body — is a
// failed upload, never a shorter image.
func fillBuffer(r io.Reader, buf []byte) (int, error) {
	k := 0
	for k < len(buf) {
		m, err := r.Read(buf[k:])
		k += m
		if err != nil {
			return k, err
		}
	}
	return k, nil
}

// storeAndPush stores one chunk locally and pushes it to the targets. A
// failed push is not an error here: ensureReplicas repairs it.
func (n *Node) storeAndPush(ctx context.Context, imageID string, j *chunkJob, targets []gossip.Member) (chunkstore.Digest, error) {
	d := chunkstore.Sum(j.data)
	n.protect(imageID, d)
	if err := n.chunks.Put(ctx, d, j.data); err != nil {
		return d, fmt.Errorf("store chunk %d: %w", j.idx, err)
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put := peer.ChunkPut{Digest: d.String(), Image: imageID, Idx: j.idx}
			if err := n.peerClient.PutChunk(ctx, t.Meta.PeerAddr, put, j.data); err != nil {
				n.log.Debug("chunk push failed; will retry", "peer", t.Meta.ID, "chunk", j.idx, "err", err)
			}
		}()
	}
	wg.Wait()
	return d, nil
}

// ensureReplicas makes sure R-1 peers hold durable copies of every chunk
// of man: each target reports what it lacks (after an fsync), the node
// pushes that from its local copies, and an unreachable target is
// replaced by another live peer. It returns the placement: this node and
// the targets that hold everything.
func (n *Node) ensureReplicas(ctx context.Context, imageID string, man *catalog.Manifest, targets []gossip.Member) ([]string, error) {
	want := n.replicaCount() - 1
	placement := []string{n.id}
	tried := map[string]bool{n.id: true}
	queue := append([]gossip.Member(nil), targets...)
	for len(placement)-1 < want {
		if len(queue) == 0 {
			queue = n.pickReplicas(want-(len(placement)-1), tried)
			if len(queue) == 0 {
				return nil, fmt.Errorf("store %s: only %d of %d copies possible: %w", imageID, len(placement), want+1, catalog.ErrUnavailable)
			}
		}
		t := queue[0]
		queue = queue[1:]
		tried[t.Meta.ID] = true
		if err := n.fillReplica(ctx, peerReplica{n, t}, imageID, man, n.localSource(), 1); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("replicate %s: %w", imageID, ctx.Err())
			}
			n.log.Warn("replica target failed; choosing another", "peer", t.Meta.ID, "err", err)
			continue
		}
		placement = append(placement, t.Meta.ID)
	}
	return placement, nil
}
