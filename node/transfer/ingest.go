package transfer

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

	"golang.org/x/sync/errgroup"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
)

// chunkJob is one chunk moving through the upload pipeline; its buffer
// goes back to the pool when the last of its users is done.
type chunkJob struct {
	idx  int
	data []byte
	buf  *Buffer
	refs sync.WaitGroup
}

// Ingest reads r into chunks: each chunk is hashed (BLAKE3), stored
// locally and pushed to R-1 peers, while md5 and sha512 run over the
// stream; at the end every replica is checked to hold every chunk
// durably. It returns the manifest and the placement (node ids). Every
// chunk stored or pushed is protected for imageID (Protector) until the
// caller commits or gives up.
func (t *Transfer) Ingest(ctx context.Context, imageID string, r io.Reader) (*catalog.Manifest, []string, error) {
	targets := t.PickReplicas(t.ReplicaCount()-1, nil)
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
			buf := t.bufs.get()
			k, err := fillBuffer(r, buf.b)
			if k == 0 {
				buf.Release()
			} else {
				total += int64(k)
				j := &chunkJob{idx: idx, data: buf.b[:k], buf: buf}
				j.refs.Add(3)
				go func() { j.refs.Wait(); j.buf.Release() }()
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
					d, err := t.storeAndPush(gctx, imageID, j, targets)
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
	if err := t.chunks.Sync(ctx); err != nil {
		return nil, nil, fmt.Errorf("sync chunks: %w", err)
	}
	man := &catalog.Manifest{
		Chunks:      chunks,
		Size:        total,
		Checksum:    hex.EncodeToString(md5h.Sum(nil)),
		OSHashAlgo:  "sha512",
		OSHashValue: hex.EncodeToString(shah.Sum(nil)),
	}
	placement, err := t.ensureReplicas(ctx, imageID, man, targets)
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
func (t *Transfer) storeAndPush(ctx context.Context, imageID string, j *chunkJob, targets []Member) (chunkstore.Digest, error) {
	d := chunkstore.Sum(j.data)
	t.protect.Protect(imageID, d)
	if err := t.chunks.Put(ctx, d, j.data); err != nil {
		return d, fmt.Errorf("store chunk %d: %w", j.idx, storeErr(err))
	}
	var wg sync.WaitGroup
	for _, m := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put := peer.ChunkPut{Digest: d.String(), Image: imageID, Idx: j.idx}
			if err := t.peers.PutChunk(ctx, m.PeerAddr, put, j.data); err != nil {
				t.log.Debug("chunk push failed; will retry", "peer", m.ID, "chunk", j.idx, "err", err)
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
func (t *Transfer) ensureReplicas(ctx context.Context, imageID string, man *catalog.Manifest, targets []Member) ([]string, error) {
	want := t.ReplicaCount() - 1
	self := t.self()
	placement := []string{self}
	tried := map[string]bool{self: true}
	queue := append([]Member(nil), targets...)
	cause := catalog.ErrUnavailable // a target with a full disk makes it ErrStorageFull
	for len(placement)-1 < want {
		if len(queue) == 0 {
			queue = t.PickReplicas(want-(len(placement)-1), tried)
			if len(queue) == 0 {
				return nil, fmt.Errorf("store %s: only %d of %d copies possible: %w", imageID, len(placement), want+1, cause)
			}
		}
		m := queue[0]
		queue = queue[1:]
		tried[m.ID] = true
		if err := t.fill(ctx, peerReplica{t, m}, imageID, man, t.localSource(), 1); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("replicate %s: %w", imageID, ctx.Err())
			}
			t.log.Warn("replica target failed; choosing another", "peer", m.ID, "err", err)
			if errors.Is(err, peer.ErrNoSpace) {
				cause = catalog.ErrStorageFull
			}
			continue
		}
		placement = append(placement, m.ID)
	}
	return placement, nil
}

// storeErr is the error of a local chunk write: a full disk is
// catalog.ErrStorageFull (413, as Glance's full store).
func storeErr(err error) error {
	if errors.Is(err, chunkstore.ErrNoSpace) {
		return fmt.Errorf("%w: %w", catalog.ErrStorageFull, err)
	}
	return err
}
