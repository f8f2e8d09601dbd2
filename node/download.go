package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// OpenImage implements api.Backend: a reader over bytes [off, off+n) of
// an image that fetches the chunks it needs — from the local store or
// from peers — with a window of chunks in flight, verifies each, and
// returns them in order. The first chunk is fetched before OpenImage
// returns, so "no copy reachable" is reported before any header is sent.
func (n *Node) OpenImage(ctx context.Context, img *catalog.Image, off, length int64) (io.ReadCloser, error) {
	man := img.Manifest
	if man == nil {
		return nil, fmt.Errorf("open image %s: no data: %w", img.ID, catalog.ErrNotFound)
	}
	offs, size := man.Offsets()
	if off < 0 || length < 0 || off+length > size {
		return nil, fmt.Errorf("open image %s: range %d+%d beyond %d: %w", img.ID, off, length, size, raftfsm.ErrBadCommand)
	}
	first, last := 0, -1
	if length > 0 {
		first = chunkAt(offs, off)
		last = chunkAt(offs, off+length-1)
	}
	ctx, cancel := context.WithCancel(ctx)
	sr := &streamReader{
		n: n, ctx: ctx, cancel: cancel, img: img, offs: offs,
		next: first, last: last, skip: off - offsetOr(offs, first), remain: length,
		slots: make(chan chan fetched, n.cfg.FetchWindow),
	}
	go sr.feed()
	if length > 0 {
		if err := sr.advance(); err != nil {
			sr.Close()
			return nil, err
		}
	}
	return sr, nil
}

func offsetOr(offs []int64, i int) int64 {
	if i < len(offs) {
		return offs[i]
	}
	return 0
}

// chunkAt returns the index of the chunk holding byte pos.
func chunkAt(offs []int64, pos int64) int {
	lo, hi := 0, len(offs)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if offs[mid] <= pos {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// fetched is a verified chunk (or the error that stopped it).
type fetched struct {
	buf  *buffer
	data []byte
	err  error
}

// streamReader delivers an image's chunks in order while feed keeps up
// to FetchWindow fetches running ahead.
type streamReader struct {
	n      *Node
	ctx    context.Context
	cancel context.CancelFunc
	img    *catalog.Image
	offs   []int64

	next, last int   // next chunk index to schedule (feed), last needed
	skip       int64 // bytes to drop from the front of the first chunk
	remain     int64 // bytes still to return

	slots chan chan fetched
	cur   fetched
	pos   int // read position in cur.data
	wg    sync.WaitGroup
	once  sync.Once
}

// feed schedules the fetches in order; slots bounds how far it runs ahead.
func (s *streamReader) feed() {
	defer close(s.slots)
	for i := s.next; i <= s.last; i++ {
		ch := make(chan fetched, 1)
		select {
		case s.slots <- ch:
		case <-s.ctx.Done():
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf, data, err := s.n.fetchChunk(s.ctx, s.img, i)
			ch <- fetched{buf: buf, data: data, err: err}
		}()
	}
}

// advance releases the current chunk and waits for the next one.
func (s *streamReader) advance() error {
	if s.cur.buf != nil {
		s.n.bufs.put(s.cur.buf)
		s.cur = fetched{}
	}
	ch, ok := <-s.slots
	if !ok {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	f := <-ch
	if f.err != nil {
		return f.err
	}
	s.cur = f
	s.pos = 0
	if s.skip > 0 {
		s.pos = int(s.skip)
		s.skip = 0
	}
	return nil
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.remain == 0 {
		return 0, io.EOF
	}
	for s.cur.data == nil || s.pos >= len(s.cur.data) {
		if err := s.advance(); err != nil {
			return 0, err
		}
	}
	chunk := s.cur.data[s.pos:]
	if int64(len(chunk)) > s.remain {
		chunk = chunk[:s.remain]
	}
	k := copy(p, chunk)
	s.pos += k
	s.remain -= int64(k)
	return k, nil
}

// WriteTo lets io.Copy write whole verified chunks without an extra copy.
func (s *streamReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for s.remain > 0 {
		for s.cur.data == nil || s.pos >= len(s.cur.data) {
			if err := s.advance(); err != nil {
				return total, err
			}
		}
		chunk := s.cur.data[s.pos:]
		if int64(len(chunk)) > s.remain {
			chunk = chunk[:s.remain]
		}
		k, err := w.Write(chunk)
		s.pos += k
		s.remain -= int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close stops outstanding fetches and returns every buffer to the pool.
func (s *streamReader) Close() error {
	s.once.Do(func() {
		s.cancel()
		if s.cur.buf != nil {
			s.n.bufs.put(s.cur.buf)
			s.cur = fetched{}
		}
		for ch := range s.slots {
			go func() {
				if f := <-ch; f.buf != nil {
					s.n.bufs.put(f.buf)
				}
			}()
		}
	})
	return nil
}

// fetchChunk returns chunk idx of img, verified: from the local store if
// it holds a good copy, else from the best-ranked holder that serves a
// good one. A bad copy is dropped (locally) or skipped and counted (peer),
// and another holder tried. A chunk fetched from a peer is kept and
// announced unless NoCache is set.
func (n *Node) fetchChunk(ctx context.Context, img *catalog.Image, idx int) (*buffer, []byte, error) {
	return n.fetchChunkOpt(ctx, img, idx, true)
}

// fetchChunkOpt is fetchChunk; with waitBusy false it returns errAllBusy
// at once when every holder of the chunk is at its upload limit, so a
// caller free to choose its order (a prefetch) can take another chunk.
func (n *Node) fetchChunkOpt(ctx context.Context, img *catalog.Image, idx int, waitBusy bool) (*buffer, []byte, error) {
	ref := img.Manifest.Chunks[idx]
	d, err := chunkstore.ParseDigest(ref.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d of %s: %w", idx, img.ID, err)
	}
	buf := n.bufs.get()
	data, err := n.chunks.Get(ctx, d, buf.b)
	switch {
	case err == nil:
		return buf, data, nil
	case errors.Is(err, chunkstore.ErrCorrupt):
		n.metrics.corruptLocal.Add(1)
		n.log.Warn("dropped corrupt local chunk; fetching from a peer", "image", img.ID, "chunk", idx)
		n.kickHeal() // restores a durable copy even if this read does not keep one
	case !errors.Is(err, chunkstore.ErrNotFound):
		n.bufs.put(buf)
		return nil, nil, fmt.Errorf("read chunk %d of %s: %w", idx, img.ID, err)
	}
	data, err = n.fetchFromHolders(ctx, img, idx, d, ref.Size, buf.b, waitBusy)
	if err != nil {
		n.bufs.put(buf)
		return nil, nil, err
	}
	n.metrics.fetchedChunks.Add(1)
	n.metrics.fetchedBytes.Add(int64(len(data)))
	if !n.cfg.NoCache {
		if err := n.chunks.Put(ctx, d, data); err == nil {
			// A verified copy: it becomes a source for others at once.
			n.gossip.Announce(img.ID, len(img.Manifest.Chunks), []int{idx})
			if b := n.cfg.CacheBudget; b > 0 && n.cachedSinceEvict.Add(int64(len(data))) > b/8 {
				n.kickGC() // enforce the cache budget soon
			}
		}
	}
	return buf, data, nil
}

// Peer fetch tuning.
const (
	busyPenalty    = 250 * time.Millisecond // a busy holder is tried last for this long
	suspectPenalty = time.Minute            // a holder that stalled or lied
)

// fetchFromHolders gets a verified chunk from the best holder that can
// serve it now: holders at their upload limit answer "busy" and are
// skipped; when every holder is busy the node waits briefly and asks
// again (bounded by ctx); a holder that stalls mid-transfer or sends bad
// bytes is abandoned and demoted.
func (n *Node) fetchFromHolders(ctx context.Context, img *catalog.Image, idx int, d chunkstore.Digest, size int64, buf []byte, waitBusy bool) ([]byte, error) {
	wait := 20 * time.Millisecond
	for {
		ranked := n.rankHolders(n.gossip.Holders(img.ID, idx), img.Placement)
		if len(ranked) == 0 {
			return nil, fmt.Errorf("chunk %d of %s: no live holder: %w", idx, img.ID, catalog.ErrUnavailable)
		}
		lastResort := n.origin.lastResort(d)
		busy := 0
		tried := map[string]bool{}
		for i := 0; i < len(ranked); i++ {
			m := ranked[i]
			if tried[m.Meta.ID] {
				continue
			}
			tried[m.Meta.ID] = true
			data, err := n.fetchFromPeer(ctx, m.Meta.ID, m.Meta.PeerAddr, chunkRef{img.ID, idx, d, size}, buf, lastResort)
			var refused *peer.BusyError
			errors.As(err, &refused)
			switch {
			case err == nil:
				n.origin.got(d)
				return data, nil
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case refused != nil && refused.Origin:
				// A durable holder that served the chunk already: the
				// cached copies it names come next.
				busy++
				n.metrics.originSkips.Add(1)
				n.origin.noteRefused(d)
			case refused != nil:
				busy++
				n.metrics.busySkips.Add(1)
				n.peers.markBusy(m.Meta.ID, busyPenalty)
			case errors.Is(err, errStalled):
				n.metrics.stalls.Add(1)
				n.peers.markSuspect(m.Meta.ID, suspectPenalty)
			case errors.Is(err, errBadPeerData):
				n.peers.markSuspect(m.Meta.ID, suspectPenalty)
			}
			if refused != nil {
				// The copies the refusing node named come next.
				for _, id := range refused.Try {
					if pm, ok := n.gossip.Member(id); ok && id != n.id && !tried[id] && pm.Alive && pm.Meta.PeerAddr != "" {
						ranked = slices.Insert(ranked, i+1, pm)
					}
				}
			}
			n.log.Debug("peer fetch failed", "peer", m.Meta.ID, "chunk", idx, "err", err)
		}
		if busy == 0 {
			return nil, fmt.Errorf("chunk %d of %s: no holder could serve it: %w", idx, img.ID, catalog.ErrUnavailable)
		}
		if !waitBusy && busy == len(tried) {
			return nil, errAllBusy
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// chunkRef names the chunk a peer fetch asks for.
type chunkRef struct {
	image  string
	idx    int
	digest chunkstore.Digest
	size   int64
}

// Errors of one peer fetch (besides a peer.BusyError refusal).
var (
	errStalled = errors.New("peer transfer stalled")
	errAllBusy = errors.New("every holder of the chunk is busy")
)

// errBadPeerData marks a peer that sent bytes not matching the digest.
var errBadPeerData = errors.New("peer sent data that does not match its digest")

// fetchFromPeer GETs a chunk from a peer into buf and verifies it,
// through the node's download limiter; a transfer that makes no progress
// for StallTimeout is abandoned. A refusal is a *peer.BusyError (busy, or
// origin protection) naming the nodes to ask next.
func (n *Node) fetchFromPeer(ctx context.Context, peerID, peerAddr string, c chunkRef, buf []byte, lastResort bool) ([]byte, error) {
	d, size := c.digest, c.size
	if size > int64(cap(buf)) {
		return nil, fmt.Errorf("fetch chunk: size %d over buffer", size)
	}
	n.peers.begin(peerID)
	defer n.peers.end(peerID)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(n.cfg.StallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	req := peer.ChunkRequest{Digest: d.String(), Image: c.image, Idx: c.idx, LastResort: lastResort}
	if !n.cfg.NoCache {
		req.From = n.id // this node keeps the chunk: others may be sent here
	}
	rc, err := n.peerClient.GetChunk(ctx, peerAddr, req)
	if err != nil {
		return nil, fmt.Errorf("fetch chunk: %w", stalledOr(ctx, err))
	}
	defer rc.Close()
	var body io.Reader = progressReader{r: rc, onProgress: func() { stall.Reset(n.cfg.StallTimeout) }}
	if n.downLimit != nil {
		body = limitedReader{ctx: ctx, r: body, l: n.downLimit}
	}
	data := buf[:size]
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("fetch chunk body: %w", stalledOr(ctx, err))
	}
	if chunkstore.Sum(data) != d {
		n.metrics.corruptPeer.Add(1)
		n.log.Warn("peer sent a corrupt chunk", "peer", peerAddr, "digest", d.String())
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
