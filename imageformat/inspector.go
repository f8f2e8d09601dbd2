package imageformat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// HeadSize is how much of the start of an image an Inspector keeps: a
// VMDK descriptor may span 1 MiB - 1 bytes from offset 512.
const HeadSize = 1<<20 + 512

// tailSize is how much of the end of an image an Inspector keeps: a
// streamOptimized VMDK ends with a footer marker, a footer and an
// end-of-stream marker of one sector each; a fixed VHD's footer is the
// last sector.
const tailSize = 3 * 512

// VHDX layout constants (MS-VHDX 2.2): the region table is at 192 KiB; a
// metadata table is a 32-byte header and at most 2047 32-byte entries.
const (
	vhdxRegionTableOff = 192 << 10
	vhdxRegionTableLen = 64 << 10
	vhdxMetaTableLen   = 2048 * 32
)

// ErrFinished is returned by Write after Finish.
var ErrFinished = errors.New("imageformat: inspector already finished")

// Inspector detects the format of an image written to it in order. Its
// zero value is not ready: use New. Write never fails before Finish, so
// an Inspector can sit in an io.TeeReader without disturbing the stream.
type Inspector struct {
	pos     int64
	head    []byte
	tail    [tailSize]byte // ring of the last bytes seen
	tailEnd int            // where the next byte goes in tail
	tailN   int            // valid bytes in tail, ending at pos

	// VHDX regions the region table points at.
	vhdxTried bool
	vhdxErr   string
	meta, vds *region

	finished bool
	probes   []probe
}

// New returns an Inspector at offset 0.
func New() *Inspector {
	return &Inspector{head: make([]byte, 0, 64<<10)}
}

// region is a piece of the image at a fixed offset, captured as the data
// streams past it.
type region struct {
	off  int64
	n    int
	data []byte
}

func (r *region) complete() bool { return len(r.data) == r.n }

// feed appends whatever part of p (the bytes of the image at offset at)
// continues r's captured data.
func (r *region) feed(p []byte, at int64) {
	if r.complete() {
		return
	}
	next := r.off + int64(len(r.data))
	end := at + int64(len(p))
	if next < at || next >= end {
		return
	}
	k := min(int64(r.n-len(r.data)), end-next)
	r.data = append(r.data, p[next-at:next-at+k]...)
}

// Write inspects the next len(p) bytes of the image. It always consumes
// all of p; it fails only after Finish.
func (in *Inspector) Write(p []byte) (int, error) {
	if in.finished {
		return 0, ErrFinished
	}
	at := in.pos
	if at == int64(len(in.head)) && len(in.head) < HeadSize {
		in.head = append(in.head, p[:min(len(p), HeadSize-len(in.head))]...)
	}
	for _, r := range []*region{in.meta, in.vds} {
		if r != nil {
			r.feed(p, at)
		}
	}
	in.pos += int64(len(p))
	in.pushTail(p)
	in.discover(p, at)
	return len(p), nil
}

// pushTail keeps the last tailSize bytes seen, in a ring.
func (in *Inspector) pushTail(p []byte) {
	in.tailN = int(min(int64(tailSize), int64(in.tailN)+int64(len(p))))
	if len(p) > tailSize {
		p = p[len(p)-tailSize:]
	}
	for len(p) > 0 {
		k := copy(in.tail[in.tailEnd:], p)
		in.tailEnd = (in.tailEnd + k) % tailSize
		p = p[k:]
	}
}

// tailBytes returns a copy of the last bytes seen (at most tailSize;
// fewer after a Skip until enough follow it).
func (in *Inspector) tailBytes() []byte {
	out := make([]byte, 0, in.tailN)
	start := (in.tailEnd - in.tailN + tailSize) % tailSize
	if start+in.tailN <= tailSize {
		return append(out, in.tail[start:start+in.tailN]...)
	}
	out = append(out, in.tail[start:]...)
	return append(out, in.tail[:in.tailEnd]...)
}

// Skip moves past n bytes of the image without looking at them: only for
// a caller that reads stored data and follows Need. Skipped bytes are
// lost to any region that wanted them.
func (in *Inspector) Skip(n int64) {
	if n <= 0 || in.finished {
		return
	}
	in.pos += n
	in.tailN = 0
}

// Need returns the offset of the next byte at or after the current one
// that the inspector wants to see, or -1 if it wants none before the
// last 1.5 KiB of the image (which it always wants).
func (in *Inspector) Need() int64 {
	if len(in.head) < HeadSize && in.pos == int64(len(in.head)) {
		return in.pos
	}
	next := int64(-1)
	for _, r := range []*region{in.meta, in.vds} {
		if r == nil || r.complete() {
			continue
		}
		if at := r.off + int64(len(r.data)); at >= in.pos && (next < 0 || at < next) {
			next = at
		}
	}
	return next
}

// Finish marks the end of the image; the results are ready after it.
func (in *Inspector) Finish() {
	if in.finished {
		return
	}
	in.finished = true
	in.discover(nil, in.pos)
	in.probes = in.probeAll()
}

// Size returns the number of bytes the image has (so far).
func (in *Inspector) Size() int64 { return in.pos }

// discover finds the VHDX regions the headers point at, as soon as the
// data to find them is there, and fills them from what is already kept
// and from p (the bytes just written, at offset at).
func (in *Inspector) discover(p []byte, at int64) {
	if !in.vhdxTried && (len(in.head) >= vhdxRegionTableOff+vhdxRegionTableLen || in.finished || in.pos >= HeadSize) {
		in.vhdxTried = true
		if bytes.HasPrefix(in.head, []byte("vhdxfile")) {
			in.meta, in.vhdxErr = vhdxMetaRegion(in.head)
			if in.meta != nil {
				in.fill(in.meta, p, at)
			}
		}
	}
	if in.meta != nil && in.vds == nil && in.vhdxErr == "" {
		in.vds, in.vhdxErr = vhdxSizeRegion(in.meta, in.finished)
		if in.vds != nil {
			in.fill(in.vds, p, at)
		}
	}
}

// fill gives a new region what is already known of its bytes.
func (in *Inspector) fill(r *region, p []byte, at int64) {
	r.feed(in.head, 0)
	if in.meta != nil && in.meta != r {
		r.feed(in.meta.data, in.meta.off)
	}
	r.feed(p, at)
}

// Inspect reads r to its end through a new Inspector and finishes it.
func Inspect(r io.Reader) (*Inspector, error) {
	in := New()
	if _, err := io.Copy(in, r); err != nil {
		return nil, fmt.Errorf("inspect image: %w", err)
	}
	in.Finish()
	return in, nil
}

// InspectAt inspects the size bytes of r, reading only the parts the
// inspector needs (at most about HeadSize plus a few small regions plus
// the end).
func InspectAt(r io.ReaderAt, size int64) (*Inspector, error) {
	in := New()
	buf := make([]byte, 64<<10)
	tailStart := max(0, size-tailSize)
	for in.pos < size {
		next := in.Need()
		if next < 0 || next > tailStart {
			next = tailStart
		}
		next = max(next, in.pos)
		in.Skip(next - in.pos)
		k := min(int64(len(buf)), size-next)
		m, err := r.ReadAt(buf[:k], next)
		if int64(m) < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("inspect image at %d: %w", next, err)
		}
		_, _ = in.Write(buf[:k])
	}
	in.Finish()
	return in, nil
}
