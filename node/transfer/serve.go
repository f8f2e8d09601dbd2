package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
)

// The serving side of the peer chunk routes: the node's peer.Server
// hands chunk GETs, PUTs and missing-lists here.

// ServeChunk serves a verified chunk to a peer (peer.Server.GetChunk),
// unless origin protection or the upload slots refuse it with a
// *peer.BusyError naming the nodes to ask instead.
func (t *Transfer) ServeChunk(ctx context.Context, req peer.ChunkRequest, body peer.ChunkBody) error {
	d, err := chunkstore.ParseDigest(req.Digest)
	if err != nil {
		return fmt.Errorf("%w: %w", peer.ErrBadRequest, err)
	}
	if try := t.originRefusal(req, d); len(try) > 0 {
		t.metrics.originRefusals.Add(1)
		return &peer.BusyError{Origin: true, Try: try}
	}
	if !t.upSlots.TryAcquire() {
		// At the limit: say so at once, so the peer asks another holder
		// instead of queueing here.
		t.metrics.busyRefusals.Add(1)
		return &peer.BusyError{Try: t.busyHints(req, d)}
	}
	defer t.upSlots.Release()
	buf := t.bufs.get()
	defer buf.Release()
	data, err := t.chunks.Get(ctx, d, buf.b)
	if err != nil {
		if errors.Is(err, chunkstore.ErrCorrupt) {
			t.metrics.corruptLocal.Add(1)
			t.log.Warn("dropped corrupt local chunk", "digest", d.String())
			t.events.CorruptDropped() // a durable copy is fetched again
		}
		if errors.Is(err, chunkstore.ErrNotFound) || errors.Is(err, chunkstore.ErrCorrupt) {
			return peer.ErrNotFound
		}
		return err
	}
	w := body(len(data))
	if t.upLimit != nil {
		w = limitedWriter{ctx: ctx, w: w, l: t.upLimit}
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("send chunk: %w", err)
	}
	t.metrics.servedChunks.Add(1)
	t.metrics.servedBytes.Add(int64(len(data)))
	if req.LastResort {
		t.metrics.lastResort.Add(int64(len(data)))
		t.origin.ForgetRecipients(d)
	}
	// The requester's id is a hint only: kept if the cluster knows it.
	from := req.From
	if _, known := t.cluster.Member(from); !known {
		from = ""
	}
	t.origin.Add(d, from, from != "")
	return nil
}

// PutChunk stores a chunk of size bytes read from r, pushed by an
// uploading node (peer.Server.PutChunk). The request names the image and
// chunk index so the chunk is protected from garbage collection until
// the upload ends, and announced to the cluster.
func (t *Transfer) PutChunk(ctx context.Context, req peer.ChunkPut, size int64, r io.Reader) error {
	d, err := chunkstore.ParseDigest(req.Digest)
	if err != nil {
		return fmt.Errorf("%w: %w", peer.ErrBadRequest, err)
	}
	if size > int64(t.cfg.ChunkSize) {
		return fmt.Errorf("%w: chunk of %d bytes", peer.ErrBadRequest, size)
	}
	buf := t.bufs.get()
	defer buf.Release()
	data := buf.b[:size]
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("%w: short chunk: %w", peer.ErrBadRequest, err)
	}
	if req.Image != "" {
		t.protect.Protect(req.Image, d)
	}
	if err := t.chunks.Put(ctx, d, data); err != nil {
		if errors.Is(err, chunkstore.ErrDigestMismatch) {
			return fmt.Errorf("%w: %w", peer.ErrMismatch, err)
		}
		if errors.Is(err, chunkstore.ErrNoSpace) {
			return fmt.Errorf("%w: %w", peer.ErrNoSpace, err)
		}
		return err
	}
	if req.Image != "" && req.Total > 0 {
		t.cluster.Announce(req.Image, req.Total, []int{req.Idx})
	}
	return nil
}

// Lacking makes everything this node holds durable (fsync), protects the
// chunks ds (digests, parsed) for imageID (if set), and returns those it
// lacks: none means it holds a durable copy of every one. It answers
// peer.Server.Missing and a fill of this node.
func (t *Transfer) Lacking(ctx context.Context, imageID string, digests []string, ds []chunkstore.Digest) ([]string, error) {
	if err := t.chunks.Sync(ctx); err != nil {
		return nil, fmt.Errorf("sync chunks: %w", err)
	}
	var missing []string
	for i, d := range ds {
		if imageID != "" {
			t.protect.Protect(imageID, d)
		}
		ok, err := t.chunks.Has(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("look up chunk: %w", err)
		}
		if !ok {
			missing = append(missing, digests[i])
		}
	}
	return missing, nil
}
