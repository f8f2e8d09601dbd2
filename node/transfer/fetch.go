package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/node/transfer/policy"
	"github.com/p2pglance/p2pglance/peer"
)

// FetchChunk returns chunk idx of img, verified, in a pooled buffer the
// caller releases: from the local store if it holds a good copy, else
// from the best-ranked holder that serves a good one. A bad copy is
// dropped (locally) or skipped and counted (peer), and another holder
// tried. A chunk fetched from a peer is kept and announced unless
// NoCache is set.
func (t *Transfer) FetchChunk(ctx context.Context, img *catalog.Image, idx int) (*Buffer, []byte, error) {
	return t.fetchChunk(ctx, img, idx, true)
}

// TryFetchChunk is FetchChunk, but it returns ErrAllBusy at once when
// every holder of the chunk is at its upload limit, so a caller free to
// choose its order (a prefetch) can take another chunk.
func (t *Transfer) TryFetchChunk(ctx context.Context, img *catalog.Image, idx int) (*Buffer, []byte, error) {
	return t.fetchChunk(ctx, img, idx, false)
}

func (t *Transfer) fetchChunk(ctx context.Context, img *catalog.Image, idx int, waitBusy bool) (*Buffer, []byte, error) {
	ref := img.Manifest.Chunks[idx]
	d, err := chunkstore.ParseDigest(ref.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d of %s: %w", idx, img.ID, err)
	}
	buf := t.bufs.get()
	data, err := t.chunks.Get(ctx, d, buf.b)
	switch {
	case err == nil:
		t.metrics.readBytes[SourceLocal].Add(int64(len(data)))
		t.metrics.localChunks.Add(1)
		return buf, data, nil
	case errors.Is(err, chunkstore.ErrCorrupt):
		t.metrics.corruptLocal.Add(1)
		t.log.Warn("dropped corrupt local chunk; fetching from a peer", "image", img.ID, "chunk", idx)
		t.events.CorruptDropped() // restores a durable copy even if this read does not keep one
	case !errors.Is(err, chunkstore.ErrNotFound):
		buf.Release()
		return nil, nil, fmt.Errorf("read chunk %d of %s: %w", idx, img.ID, err)
	}
	data, err = t.fetchFromHolders(ctx, img, idx, d, ref.Size, buf.b, waitBusy)
	if err != nil {
		buf.Release()
		return nil, nil, err
	}
	t.metrics.fetchedChunks.Add(1)
	t.metrics.fetchedBytes.Add(int64(len(data)))
	if !t.cfg.NoCache {
		if err := t.chunks.Put(ctx, d, data); err == nil {
			// A verified copy: it becomes a source for others at once.
			t.cluster.Announce(img.ID, len(img.Manifest.Chunks), []int{idx})
			t.events.Cached(int64(len(data)))
		}
	}
	return buf, data, nil
}

// FetchFromHolders returns chunk idx of img fetched from its holders and
// verified, never from the local store, in a pooled buffer the caller
// releases; it neither keeps nor announces the chunk (a heal does both).
func (t *Transfer) FetchFromHolders(ctx context.Context, img *catalog.Image, idx int) (*Buffer, []byte, error) {
	ref := img.Manifest.Chunks[idx]
	d, err := chunkstore.ParseDigest(ref.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d of %s: %w", idx, img.ID, err)
	}
	buf := t.bufs.get()
	data, err := t.fetchFromHolders(ctx, img, idx, d, ref.Size, buf.b, true)
	if err != nil {
		buf.Release()
		return nil, nil, err
	}
	return buf, data, nil
}

// fetchFromHolders gets a verified chunk from the best holder that can
// serve it now (a policy.Round over the ranked holders): holders at
// their upload limit answer "busy" and are skipped, the nodes they name
// asked next; when every holder is busy the node waits briefly and asks
// again (policy.Backoff, bounded by ctx), or with waitBusy false returns
// ErrAllBusy; a holder that stalls mid-transfer or sends bad bytes is
// abandoned and demoted.
func (t *Transfer) fetchFromHolders(ctx context.Context, img *catalog.Image, idx int, d chunkstore.Digest, size int64, buf []byte, waitBusy bool) ([]byte, error) {
	self := t.self()
	var backoff policy.Backoff
	for {
		cands := t.candidates(t.cluster.Holders(img.ID, idx), img.Placement)
		if len(cands) == 0 {
			return nil, fmt.Errorf("chunk %d of %s: no live holder: %w", idx, img.ID, catalog.ErrUnavailable)
		}
		lastResort := t.origin.LastResort(d, time.Now())
		round := policy.NewRound(policy.NewOrder(cands, policy.Global), func(m Member) string { return m.ID })
		for m, ok := round.Next(); ok; m, ok = round.Next() {
			data, err := t.fetchFromPeer(ctx, m, chunkRef{img.ID, idx, d, size}, buf, lastResort)
			var refused *peer.BusyError
			errors.As(err, &refused)
			switch {
			case err == nil:
				t.origin.Got(d)
				if me, ok := t.cluster.Member(self); ok {
					t.metrics.readBytes[SourceRack+policy.Proximity(me.Zone, me.Rack, m.Zone, m.Rack)].Add(int64(len(data)))
				}
				return data, nil
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case refused != nil && refused.Origin:
				// A durable holder that served the chunk already: the
				// cached copies it names come next.
				t.metrics.originSkips.Add(1)
				t.origin.NoteRefused(d, time.Now())
			case refused != nil:
				t.metrics.busySkips.Add(1)
				t.stats.MarkBusy(m.ID, time.Now())
			case errors.Is(err, errStalled):
				t.metrics.stalls.Add(1)
				t.stats.MarkSuspect(m.ID, time.Now())
			case errors.Is(err, errBadPeerData):
				t.stats.MarkSuspect(m.ID, time.Now())
			}
			if refused != nil {
				// The copies the refusing node named come next.
				var try []Member
				for _, id := range refused.Try {
					if pm, ok := t.cluster.Member(id); ok && id != self && pm.Alive && pm.PeerAddr != "" {
						try = append(try, pm)
					}
				}
				round.Refused(try)
			}
			t.log.Debug("peer fetch failed", "peer", m.ID, "chunk", idx, "err", err)
		}
		if round.Busy() == 0 {
			return nil, fmt.Errorf("chunk %d of %s: no holder could serve it: %w", idx, img.ID, catalog.ErrUnavailable)
		}
		if !waitBusy && round.AllBusy() {
			return nil, ErrAllBusy
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff.Next(policy.Global)):
		}
	}
}

// chunkRef names the chunk a peer fetch asks for.
type chunkRef struct {
	image  string
	idx    int
	digest chunkstore.Digest
	size   int64
}

// fetchFromPeer GETs a chunk from a peer into buf and verifies it,
// through the node's download limiter; a transfer that makes no progress
// for StallTimeout is abandoned. A refusal is a *peer.BusyError (busy, or
// origin protection) naming the nodes to ask next.
func (t *Transfer) fetchFromPeer(ctx context.Context, m Member, c chunkRef, buf []byte, lastResort bool) ([]byte, error) {
	d, size := c.digest, c.size
	if size > int64(cap(buf)) {
		return nil, fmt.Errorf("fetch chunk: size %d over buffer", size)
	}
	t.stats.Begin(m.ID)
	defer t.stats.End(m.ID)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(t.cfg.StallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	req := peer.ChunkRequest{Digest: d.String(), Image: c.image, Idx: c.idx, LastResort: lastResort}
	if !t.cfg.NoCache {
		req.From = t.self() // this node keeps the chunk: others may be sent here
	}
	rc, err := t.peers.GetChunk(ctx, m.PeerAddr, req)
	if err != nil {
		return nil, fmt.Errorf("fetch chunk: %w", stalledOr(ctx, err))
	}
	defer rc.Close()
	var body io.Reader = progressReader{r: rc, onProgress: func() { stall.Reset(t.cfg.StallTimeout) }}
	if t.downLimit != nil {
		body = limitedReader{ctx: ctx, r: body, l: t.downLimit}
	}
	data := buf[:size]
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("fetch chunk body: %w", stalledOr(ctx, err))
	}
	if chunkstore.Sum(data) != d {
		t.metrics.corruptPeer.Add(1)
		t.log.Warn("peer sent a corrupt chunk", "peer", m.PeerAddr, "digest", d.String())
		return nil, errBadPeerData
	}
	return data, nil
}

// stalledOr reports errStalled when the stall watchdog cancelled ctx.
func stalledOr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return errStalled
	}
	return err
}

// progressReader calls onProgress whenever bytes arrive.
type progressReader struct {
	r          io.Reader
	onProgress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.onProgress()
	}
	return n, err
}
