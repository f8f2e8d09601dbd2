package transfer

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/p2pglance/p2pglance/catalog"
)

// Open returns a reader over bytes [off, off+length) of an image that
// fetches the chunks it needs — from the local store or from peers —
// with FetchWindow chunks in flight, verifies each, and returns them in
// order. The first chunk is fetched before Open returns, so "no copy
// reachable" is reported before any header is sent.
func (t *Transfer) Open(ctx context.Context, img *catalog.Image, off, length int64) (io.ReadCloser, error) {
	man := img.Manifest
	if man == nil {
		return nil, fmt.Errorf("open image %s: no data: %w", img.ID, catalog.ErrNotFound)
	}
	offs, size := man.Offsets()
	if off < 0 || length < 0 || off+length > size {
		return nil, fmt.Errorf("open image %s: range %d+%d beyond %d: %w", img.ID, off, length, size, ErrBadRange)
	}
	first, last := 0, -1
	if length > 0 {
		first = chunkAt(offs, off)
		last = chunkAt(offs, off+length-1)
	}
	ctx, cancel := context.WithCancel(ctx)
	sr := &streamReader{
		t: t, ctx: ctx, cancel: cancel, img: img, offs: offs,
		next: first, last: last, skip: off - offsetOr(offs, first), remain: length,
		slots: make(chan chan fetched, t.cfg.FetchWindow),
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
	buf  *Buffer
	data []byte
	err  error
}

// streamReader delivers an image's chunks in order while feed keeps up
// to FetchWindow fetches running ahead.
type streamReader struct {
	t      *Transfer
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
			buf, data, err := s.t.FetchChunk(s.ctx, s.img, i)
			ch <- fetched{buf: buf, data: data, err: err}
		}()
	}
}

// advance releases the current chunk and waits for the next one.
func (s *streamReader) advance() error {
	if s.cur.buf != nil {
		s.cur.buf.Release()
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
			s.cur.buf.Release()
			s.cur = fetched{}
		}
		for ch := range s.slots {
			go func() {
				if f := <-ch; f.buf != nil {
					f.buf.Release()
				}
			}()
		}
	})
	return nil
}
