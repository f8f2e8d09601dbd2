package gossip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// sharedFull reports whether b is one of the shared full bitmaps that
// fullBits hands out (decoding a "full" segment allocates nothing).
func sharedFull(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for r := range fullTails {
		if &b[len(b)-1] == &fullTails[r][segmentBytes-1] {
			return true
		}
	}
	return false
}

// checkBits checks a decoded segment bitmap: the right length, the bits
// past the segment's end clear.
func checkBits(t *testing.T, total, seg int, bits []byte) {
	t.Helper()
	n := segChunks(total, seg)
	if len(bits) != segLen(total, seg) {
		t.Fatalf("segment %d of %d chunks: %d bitmap bytes, want %d", seg, total, len(bits), segLen(total, seg))
	}
	if r := n % 8; r != 0 && bits[len(bits)-1]>>r != 0 {
		t.Fatalf("segment %d of %d chunks: bits set past the end (%08b)", seg, total, bits[len(bits)-1])
	}
}

// FuzzDecodeUpdate decodes untrusted gossip messages. An accepted message
// re-encodes to bytes that decode to the same update, allocates no more
// bitmap bytes than it carries, and applies to a state without harm.
func FuzzDecodeUpdate(f *testing.F) {
	for _, u := range []update{
		segUpdate("node-a", "img", 7, 10, 0, 1, 3, 9),
		segUpdate("node-a", "img", 8, 5000, 1, 0, 903),
		{kind: msgSegment, origin: "n", image: "i", version: 1, total: 4100, seg: 0, bits: fullBits(4096)},
		{kind: msgSegment, origin: "n", image: "i", version: 2, total: MaxChunks, seg: MaxChunks/SegmentChunks - 1, bits: fullBits(SegmentChunks)},
		withdrawUpdate("node-b", "img2", 1<<60),
	} {
		f.Add(encodeUpdate(u))
	}
	f.Add([]byte{msgSegment, 1, 'a', 1, 'i', 1, 10, 3, 0})
	f.Add([]byte{msgSegment, 1, 'a', 1, 'i', 1, 10, 0, 7})
	f.Add([]byte{msgSegment, 1, 'a', 1, 'i', 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := decodeUpdate(data)
		if err != nil {
			return
		}
		if u.kind == msgSegment {
			checkBits(t, u.total, u.seg, u.bits)
			if !sharedFull(u.bits) && len(u.bits) > len(data) {
				t.Fatalf("%d-byte message decoded to %d bitmap bytes", len(data), len(u.bits))
			}
		}
		enc := encodeUpdate(u)
		u2, err := decodeUpdate(enc)
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", u, err)
		}
		if u2.kind != u.kind || u2.origin != u.origin || u2.image != u.image || u2.version != u.version ||
			u2.total != u.total || u2.seg != u.seg || !bytes.Equal(u2.bits, u.bits) {
			t.Fatalf("round trip: got %+v want %+v", u2, u)
		}
		if !bytes.Equal(encodeUpdate(u2), enc) {
			t.Fatal("encoding is not canonical")
		}
		st := newState()
		st.localAnnounce("self", u.image, 8192, []int{0, 4097}, false, 1)
		st.apply(segUpdate(u.origin, u.image, 1, 8192, 0, 0))
		st.apply(u)
		st.apply(u2)
		_ = st.has(u.origin, u.image, 0)
		_ = st.full(u.origin, u.image)
		_ = st.bitmap(u.origin, u.image)
		st.localAnnounce("self", u.image, max(u.total, 1), []int{0}, true, 2)
		if _, err := decodeSnapshot(st.encodeSnapshot("self", 2, func(string) bool { return true })); err != nil {
			t.Fatalf("state after %+v does not encode to a valid snapshot: %v", u, err)
		}
	})
}

// FuzzDecodeSnapshot decodes untrusted push/pull states. An accepted state
// allocates no more bitmap bytes than it carries (a "full" segment is one
// byte on the wire), merges without harm, and what it merged into re-encodes
// to a snapshot that rebuilds the same holdings.
func FuzzDecodeSnapshot(f *testing.F) {
	st := newState()
	st.localAnnounce("self", "img-a", 5000, nil, true, 3)
	st.apply(segUpdate("node-b", "img-a", 2, 10, 0, 1, 3))
	st.apply(withdrawUpdate("node-b", "img-gone", 4))
	st.apply(segUpdate("node-c", "img-c", 9, 4097, 1, 0))
	f.Add(st.encodeSnapshot("self", 3, func(string) bool { return true }))
	f.Add(newState().encodeSnapshot("lonely", 0, func(string) bool { return true }))
	// One image of MaxChunks chunks, every segment "full": 4096 segments
	// of one byte each.
	big := []byte{snapshotFormat, 1, 's', 1, 1, 'o', 1, 1, 1, 'i', 0, 0x80, 0x80, 0x80, 0x08, 0x80, 0x20}
	for k := range SegmentChunks {
		big = append(binary.AppendUvarint(big, uint64(k)), 1, encFull)
	}
	f.Add(big)
	f.Add([]byte{snapshotFormat, 0, 0})
	f.Add([]byte{snapshotFormat, 1, 's', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		allocated := 0
		for _, so := range snap.origins {
			for _, si := range so.images {
				for _, sg := range si.segs {
					checkBits(t, si.total, sg.idx, sg.bits)
					if !sharedFull(sg.bits) {
						allocated += len(sg.bits)
					}
				}
			}
		}
		if allocated > len(data) {
			t.Fatalf("%d-byte state decoded to %d bitmap bytes", len(data), allocated)
		}
		all := func(string) bool { return true }
		s1 := newState()
		s1.merge(snap, "self", all)
		enc := s1.encodeSnapshot("self", 1, all)
		snap2, err := decodeSnapshot(enc)
		if err != nil {
			t.Fatalf("merged state does not re-encode: %v", err)
		}
		s2 := newState()
		s2.merge(snap2, "self", all)
		for _, origin := range slices.Sorted(maps.Keys(s1.origins)) {
			if origin == "self" {
				continue
			}
			for _, image := range slices.Sorted(maps.Keys(s1.origins[origin].images)) {
				if h1, h2 := holdings(s1, origin, image), holdings(s2, origin, image); h1 != h2 {
					t.Fatalf("%s's holdings of %s: %s after the round trip, %s before", origin, image, h2, h1)
				}
			}
		}
	})
}

// holdings describes what a state knows origin holds of image: the chunk
// count and each non-empty segment's bits.
func holdings(s *state, origin, image string) string {
	im := s.image(origin, image)
	if im == nil {
		return "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d chunks", im.total)
	for _, k := range slices.Sorted(maps.Keys(im.segs)) {
		if bits := im.segs[k].bits; slices.ContainsFunc(bits, func(c byte) bool { return c != 0 }) {
			fmt.Fprintf(&b, " seg %d %x", k, bits)
		}
	}
	return b.String()
}
