package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// SegmentChunks is the number of chunks covered by one bitmap segment
	// (and thus the most a single gossip message describes).
	SegmentChunks = 4096
	segmentBytes  = SegmentChunks / 8

	// MaxChunks is the largest chunk count an image may have.
	MaxChunks = 1 << 24

	// MaxImageIDLen is the longest image id, in bytes, that can be announced.
	MaxImageIDLen = 256

	// MaxNodeIDLen is the longest node id (Meta.ID), in bytes.
	MaxNodeIDLen = 128

	msgSegment  byte = 1
	msgWithdraw byte = 2

	encRaw  byte = 0
	encFull byte = 1

	snapshotFormat byte = 1

	// maxStateItems bounds the counts read from a remote push/pull state so
	// a corrupt length cannot make us allocate absurd amounts of memory.
	maxStateItems = 1 << 20
)

var errShort = errors.New("truncated message")

// update is one gossip message: a segment of an availability bitmap or an
// image withdrawal.
type update struct {
	kind    byte // msgSegment or msgWithdraw
	origin  string
	image   string
	version uint64
	total   int    // msgSegment only: chunk count of the image
	seg     int    // msgSegment only: segment index
	bits    []byte // msgSegment only: segLen(total, seg) bytes, masked
}

// numSegments returns how many segments an image of total chunks has.
func numSegments(total int) int {
	return (total + SegmentChunks - 1) / SegmentChunks
}

// segChunks returns the number of chunks in segment seg of a total-chunk image.
func segChunks(total, seg int) int {
	n := total - seg*SegmentChunks
	if n > SegmentChunks {
		n = SegmentChunks
	}
	if n < 0 {
		n = 0
	}
	return n
}

// segLen returns the number of bitmap bytes of segment seg.
func segLen(total, seg int) int {
	return (segChunks(total, seg) + 7) / 8
}

// maskTail clears the bits past n in a bitmap of n bits.
func maskTail(bits []byte, n int) {
	if r := n % 8; r != 0 && len(bits) > 0 {
		bits[len(bits)-1] &= byte(1<<r) - 1
	}
}

// isFull reports whether all n bits of bits are set.
func isFull(bits []byte, n int) bool {
	for i := 0; i < n/8; i++ {
		if bits[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		want := byte(1<<r) - 1
		return bits[len(bits)-1]&want == want
	}
	return true
}

// fullTails[r] is segmentBytes bytes of 0xff whose last byte keeps only
// its r low bits (all eight for r = 0): the end of every full bitmap of
// n bits with n%8 == r.
var fullTails = func() (t [8][segmentBytes]byte) {
	for r := range t {
		for i := range t[r] {
			t[r][i] = 0xff
		}
		maskTail(t[r][:], r)
	}
	return t
}()

// fullBits returns a bitmap of n bits (at most SegmentChunks), all set.
// The bitmap is shared and must never be written: a decoded "full"
// segment costs its sender one byte, and would otherwise cost us up to
// segmentBytes. (Segment bits are immutable once stored; localAnnounce
// copies before it changes any.)
func fullBits(n int) []byte {
	l := (n + 7) / 8
	return fullTails[n%8][segmentBytes-l : segmentBytes : segmentBytes]
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBits appends the enc byte and, for raw segments, the bits.
func appendBits(b []byte, bits []byte, n int) []byte {
	if isFull(bits, n) {
		return append(b, encFull)
	}
	b = append(b, encRaw)
	return append(b, bits...)
}

// encodeUpdate serialises u (see the package documentation for the format).
func encodeUpdate(u update) []byte {
	b := make([]byte, 0, 32+len(u.origin)+len(u.image)+len(u.bits))
	b = append(b, u.kind)
	b = appendString(b, u.origin)
	b = appendString(b, u.image)
	b = binary.AppendUvarint(b, u.version)
	if u.kind == msgSegment {
		b = binary.AppendUvarint(b, uint64(u.total))
		b = binary.AppendUvarint(b, uint64(u.seg))
		b = appendBits(b, u.bits, segChunks(u.total, u.seg))
	}
	return b
}

// reader decodes the varint based encoding; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// intUpTo reads a varint that must not exceed limit.
func (r *reader) intUpTo(limit int, what string) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(limit) {
		r.err = fmt.Errorf("%s %d exceeds %d", what, v, limit)
		return 0
	}
	return int(v)
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string(limit int, what string) string {
	n := r.intUpTo(limit, what+" length")
	if r.err != nil {
		return ""
	}
	if len(r.b) < n {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bits reads an enc byte and the segment bitmap of n bits into a new slice.
func (r *reader) bits(n int) []byte {
	switch enc := r.byte(); {
	case r.err != nil:
		return nil
	case enc == encFull:
		return fullBits(n)
	case enc == encRaw:
		l := (n + 7) / 8
		if len(r.b) < l {
			r.err = errShort
			return nil
		}
		out := make([]byte, l)
		copy(out, r.b[:l])
		r.b = r.b[l:]
		maskTail(out, n)
		return out
	default:
		r.err = fmt.Errorf("unknown bitmap encoding %d", enc)
		return nil
	}
}

// segment reads "total segment enc bits" and validates them.
func (r *reader) segment() (total, seg int, bits []byte) {
	total = r.intUpTo(MaxChunks, "chunk count")
	s := r.uvarint()
	if r.err != nil {
		return 0, 0, nil
	}
	if total == 0 || s >= uint64(numSegments(total)) {
		r.err = fmt.Errorf("segment %d out of range for %d chunks", s, total)
		return 0, 0, nil
	}
	return total, int(s), r.bits(segChunks(total, int(s)))
}

// decodeUpdate parses a gossip message. The result never aliases b.
func decodeUpdate(b []byte) (update, error) {
	r := &reader{b: b}
	u := update{kind: r.byte()}
	if r.err == nil && u.kind != msgSegment && u.kind != msgWithdraw {
		return update{}, fmt.Errorf("decode update: unknown message type %d", u.kind)
	}
	u.origin = r.string(MaxNodeIDLen, "origin")
	u.image = r.string(MaxImageIDLen, "image id")
	u.version = r.uvarint()
	if u.kind == msgSegment {
		u.total, u.seg, u.bits = r.segment()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err == nil && (u.origin == "" || u.image == "" || u.version == 0) {
		r.err = errors.New("empty origin, image or version")
	}
	if r.err != nil {
		return update{}, fmt.Errorf("decode update: %w", r.err)
	}
	return u, nil
}
