package gossip

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func segUpdate(origin, image string, v uint64, total, seg int, idx ...int) update {
	b := make([]byte, segLen(total, seg))
	for _, i := range idx {
		b[i/8] |= 1 << (i % 8)
	}
	return update{kind: msgSegment, origin: origin, image: image, version: v, total: total, seg: seg, bits: b}
}

func withdrawUpdate(origin, image string, v uint64) update {
	return update{kind: msgWithdraw, origin: origin, image: image, version: v}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, u := range []update{
		segUpdate("node-a", "img", 7, 10, 0, 1, 3, 9),
		segUpdate("node-a", "img", 8, 5000, 1, 0, 903),
		{kind: msgSegment, origin: "n", image: "i", version: 1, total: 4100, seg: 0, bits: fullBits(4096)},
		withdrawUpdate("node-b", "img2", 1<<60),
	} {
		b := encodeUpdate(u)
		got, err := decodeUpdate(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", u, err)
		}
		if got.kind != u.kind || got.origin != u.origin || got.image != u.image || got.version != u.version ||
			got.total != u.total || got.seg != u.seg || !bytes.Equal(got.bits, u.bits) {
			t.Fatalf("round trip: got %+v want %+v", got, u)
		}
		// Decoding must not alias the input buffer.
		for i := range b {
			b[i] = 0xee
		}
		if got.kind == msgSegment && !bytes.Equal(got.bits, u.bits) {
			t.Fatal("decoded bits alias the input buffer")
		}
	}
	full := encodeUpdate(update{kind: msgSegment, origin: "n", image: "i", version: 1, total: 4096, bits: fullBits(4096)})
	if len(full) > 16 {
		t.Fatalf("full segment should be encoded compactly, got %d bytes", len(full))
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good := encodeUpdate(segUpdate("a", "img", 3, 100, 0, 5))
	bad := [][]byte{
		nil, {}, {9}, good[:len(good)-1], append(slices.Clone(good), 0),
		encodeUpdate(segUpdate("a", "img", 3, 100, 0))[:5],
		{msgSegment, 1, 'a', 1, 'i', 1, 10, 3, 0}, // segment 3 of a 10-chunk image
		{msgSegment, 1, 'a', 1, 'i', 1, 10, 0, 7}, // unknown encoding
		{msgWithdraw, 0, 1, 'i', 1},               // empty origin
		{msgWithdraw, 1, 'a', 1, 'i', 0},          // zero version
	}
	for i, b := range bad {
		if _, err := decodeUpdate(b); err == nil {
			t.Errorf("case %d: expected error for %x", i, b)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		if rng.IntN(2) == 0 && len(b) > 0 {
			b[0] = byte(1 + rng.IntN(2))
		}
		_, _ = decodeUpdate(b)   // must not panic
		_, _ = decodeSnapshot(b) // must not panic
	}
}

// Every message for the largest ids and a 64k+ chunk image must fit in a
// gossip packet even with encryption (1400 - headers - AES-GCM overhead).
func TestMessagesFitPacket(t *testing.T) {
	const limit = 1400 - 2 - 29 - 2 - 1
	origin := strings.Repeat("n", MaxNodeIDLen)
	image := strings.Repeat("i", MaxImageIDLen)
	total := 70000
	st := newState()
	have := make([]int, 0, total)
	for i := 0; i < total; i += 3 {
		have = append(have, i)
	}
	ups, bad := st.localAnnounce(origin, image, total, have, false, 1<<62)
	if bad != 0 || len(ups) != numSegments(total) {
		t.Fatalf("got %d updates (%d bad), want %d", len(ups), bad, numSegments(total))
	}
	for _, u := range ups {
		if n := len(encodeUpdate(u)); n > limit {
			t.Fatalf("segment %d encodes to %d bytes > %d", u.seg, n, limit)
		}
	}
}

func bitmapOf(total int, idx ...int) []bool {
	out := make([]bool, total)
	for _, i := range idx {
		out[i] = true
	}
	return out
}

func TestApplyNeverRegresses(t *testing.T) {
	s := newState()
	mustApply := func(u update, want bool) {
		t.Helper()
		if got := s.apply(u); got != want {
			t.Fatalf("apply v%d kind %d: changed=%v want %v", u.version, u.kind, got, want)
		}
	}
	mustApply(segUpdate("x", "img", 5, 10, 0, 1, 2), true)
	mustApply(segUpdate("x", "img", 3, 10, 0, 7), false) // older
	mustApply(segUpdate("x", "img", 5, 10, 0, 7), false) // duplicate version
	if got := s.bitmap("x", "img"); !slices.Equal(got, bitmapOf(10, 1, 2)) {
		t.Fatalf("bitmap %v", got)
	}
	mustApply(withdrawUpdate("x", "img", 4), true) // older withdraw: segment v5 survives
	if !s.has("x", "img", 1) {
		t.Fatal("withdraw v4 removed segment v5")
	}
	mustApply(withdrawUpdate("x", "img", 6), true)
	if s.bitmap("x", "img") != nil || s.has("x", "img", 1) {
		t.Fatal("withdraw v6 did not remove segment v5")
	}
	mustApply(segUpdate("x", "img", 5, 10, 0, 3), false) // from before the withdraw
	mustApply(withdrawUpdate("x", "img", 6), false)
	mustApply(segUpdate("x", "img", 7, 10, 0, 3), true) // re-announced
	if got := s.bitmap("x", "img"); !slices.Equal(got, bitmapOf(10, 3)) {
		t.Fatalf("bitmap after re-announce %v", got)
	}
	// A newer layout (different chunk count) replaces the old one; older
	// messages of either layout are ignored.
	mustApply(segUpdate("x", "img", 9, 5000, 1, 0), true)
	mustApply(segUpdate("x", "img", 8, 10, 0, 4), false)
	mustApply(segUpdate("x", "img", 8, 5000, 0, 4), true) // same (new) layout, other segment
	if got := s.bitmap("x", "img"); !slices.Equal(got, bitmapOf(5000, 4, 4096)) {
		t.Fatalf("bitmap after layout change %v", got)
	}
}

// Applying the same set of updates in any order, with duplicates, yields
// exactly the same state as applying them in version order.
func TestApplyOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	const total = 3 * SegmentChunks
	for round := range 50 {
		var hist []update
		v := uint64(0)
		for range 40 {
			v += uint64(1 + rng.IntN(3))
			origin := []string{"a", "b"}[rng.IntN(2)]
			image := []string{"i1", "i2"}[rng.IntN(2)]
			if rng.IntN(6) == 0 {
				hist = append(hist, withdrawUpdate(origin, image, v))
				continue
			}
			seg := rng.IntN(numSegments(total))
			idx := make([]int, 1+rng.IntN(5))
			for i := range idx {
				idx[i] = rng.IntN(segChunks(total, seg))
			}
			hist = append(hist, segUpdate(origin, image, v, total, seg, idx...))
		}
		ref := newState()
		for _, u := range hist {
			ref.apply(u)
		}
		want := ref.encodeSnapshot("me", 0, func(string) bool { return true })
		for range 10 {
			perm := slices.Clone(hist)
			perm = append(perm, hist[:rng.IntN(len(hist))]...) // duplicates
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			s := newState()
			for _, u := range perm {
				s.apply(u)
			}
			if got := s.encodeSnapshot("me", 0, func(string) bool { return true }); !bytes.Equal(got, want) {
				t.Fatalf("round %d: shuffled order gave a different state", round)
			}
		}
	}
}

func TestSnapshotMergeAndPrune(t *testing.T) {
	// Origin x's own view.
	x := newState()
	x.localAnnounce("x", "keep", 9000, []int{1, 4100}, false, 10)
	x.localAnnounce("x", "full", 5, nil, true, 11)
	// Receiver r has stale knowledge of x: an image x withdrew, a segment x
	// no longer has (old layout), and something newer than x's snapshot.
	r := newState()
	r.apply(segUpdate("x", "gone", 3, 10, 0, 1))
	r.apply(segUpdate("x", "keep", 2, 9000, 2, 7))
	r.apply(segUpdate("x", "later", 50, 10, 0, 2))
	r.apply(segUpdate("y", "other", 1, 10, 0, 2))
	snap, err := decodeSnapshot(x.encodeSnapshot("x", 20, func(string) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	if !r.merge(snap, "r", func(string) bool { return true }) {
		t.Fatal("merge reported no change")
	}
	if r.bitmap("x", "gone") != nil {
		t.Error("withdrawn image not pruned")
	}
	if got := r.bitmap("x", "keep"); !slices.Equal(got, bitmapOf(9000, 1, 4100)) {
		t.Errorf("keep: stale segment not pruned / new bits missing")
	}
	if !r.full("x", "full") || !r.has("x", "later", 2) || !r.has("y", "other", 2) {
		t.Error("lost state that must survive the merge")
	}
	// Updates at or below the watermark are now ignored.
	if r.apply(segUpdate("x", "gone", 15, 10, 0, 1)) {
		t.Error("update below watermark applied")
	}
	// Self and rejected origins are skipped.
	r2 := newState()
	r2.merge(snap, "x", func(string) bool { return true })
	r2.merge(snap, "z", func(string) bool { return false })
	if len(r2.origins) != 0 {
		t.Errorf("merged state about self or a rejected origin: %v", r2.origins)
	}
}

func TestLocalAnnounce(t *testing.T) {
	s := newState()
	ups, _ := s.localAnnounce("me", "img", 10000, []int{1, 5000}, false, 1)
	if len(ups) != 2 {
		t.Fatalf("got %d updates want 2", len(ups))
	}
	ups, _ = s.localAnnounce("me", "img", 10000, []int{1}, false, 2)
	if len(ups) != 0 {
		t.Fatalf("re-announcing held chunks produced %d updates", len(ups))
	}
	ups, bad := s.localAnnounce("me", "img", 10000, []int{2, -1, 10000}, false, 3)
	if len(ups) != 1 || bad != 2 {
		t.Fatalf("got %d updates, %d bad", len(ups), bad)
	}
	if got := s.bitmap("me", "img"); !slices.Equal(got, bitmapOf(10000, 1, 2, 5000)) {
		t.Fatal("announce is not cumulative")
	}
	ups, _ = s.localAnnounce("me", "img", 10000, nil, true, 4)
	if len(ups) != 3 || !s.full("me", "img") {
		t.Fatalf("announce all: %d updates, full=%v", len(ups), s.full("me", "img"))
	}
	if !s.localWithdraw("me", "img") || s.bitmap("me", "img") != nil || s.localWithdraw("me", "img") {
		t.Fatal("withdraw")
	}
}

func TestBroadcastInvalidation(t *testing.T) {
	// Counts include newQueue's sentinel. With a plain queue the first
	// check fails: memberlist's id reset makes "other origin" replace
	// "other segment" (same length, same key).
	q := newQueue(func() int { return 3 }, 3)
	add := func(u update) { q.QueueBroadcast(newBroadcast(u, encodeUpdate(u))) }
	add(segUpdate("a", "img", 1, 9000, 0, 1))
	add(segUpdate("a", "img", 2, 9000, 0, 2)) // replaces v1
	add(segUpdate("a", "img", 2, 9000, 1, 2)) // other segment
	add(segUpdate("b", "img", 1, 9000, 0, 2)) // other origin
	if n := q.NumQueued(); n != 4 {
		t.Fatalf("queued %d want 4", n)
	}
	add(segUpdate("a", "img", 1, 9000, 1, 5)) // older: must not replace v2
	if n := q.NumQueued(); n != 5 {
		t.Fatalf("queued %d want 5", n)
	}
	add(withdrawUpdate("a", "img", 3)) // replaces all of a/img
	if n := q.NumQueued(); n != 3 {
		t.Fatalf("queued %d want 3", n)
	}
	add(segUpdate("a", "img", 4, 9000, 0, 1)) // must not drop the withdrawal
	if n := q.NumQueued(); n != 4 {
		t.Fatalf("queued %d want 4", n)
	}
}
