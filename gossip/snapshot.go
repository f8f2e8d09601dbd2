package gossip

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// snapshot is a decoded push/pull state.
type snapshot struct {
	sender  string
	origins []snapOrigin
}

type snapOrigin struct {
	id        string
	watermark uint64
	images    []snapImage
}

type snapImage struct {
	id    string
	floor uint64
	total int
	segs  []snapSeg
}

type snapSeg struct {
	idx     int
	version uint64
	bits    []byte
}

// encodeSnapshot serialises everything known about the origins for which
// include returns true, plus self's own section (with watermark selfVersion,
// since a node always knows its own complete state). Output is sorted and
// therefore deterministic.
func (s *state) encodeSnapshot(self string, selfVersion uint64, include func(string) bool) []byte {
	type sec struct {
		id string
		o  *originState
		w  uint64
	}
	var secs []sec
	for _, id := range slices.Sorted(maps.Keys(s.origins)) {
		o := s.origins[id]
		switch {
		case id == self:
			secs = append(secs, sec{id, o, selfVersion})
		case include(id) && (o.watermark > 0 || len(o.images) > 0):
			secs = append(secs, sec{id, o, o.watermark})
		}
	}
	if s.origins[self] == nil {
		secs = append(secs, sec{self, &originState{}, selfVersion})
		slices.SortFunc(secs, func(a, b sec) int { return cmp.Compare(a.id, b.id) })
	}
	b := []byte{snapshotFormat}
	b = appendString(b, self)
	b = binary.AppendUvarint(b, uint64(len(secs)))
	for _, sc := range secs {
		b = appendString(b, sc.id)
		b = binary.AppendUvarint(b, sc.w)
		b = binary.AppendUvarint(b, uint64(len(sc.o.images)))
		for _, imgID := range slices.Sorted(maps.Keys(sc.o.images)) {
			im := sc.o.images[imgID]
			b = appendString(b, imgID)
			b = binary.AppendUvarint(b, im.floor)
			b = binary.AppendUvarint(b, uint64(im.total))
			b = binary.AppendUvarint(b, uint64(len(im.segs)))
			for _, k := range slices.Sorted(maps.Keys(im.segs)) {
				sg := im.segs[k]
				b = binary.AppendUvarint(b, uint64(k))
				b = binary.AppendUvarint(b, sg.version)
				b = appendBits(b, sg.bits, segChunks(im.total, k))
			}
		}
	}
	return b
}

// decodeSnapshot parses a push/pull state. The result never aliases b.
func decodeSnapshot(b []byte) (snapshot, error) {
	r := &reader{b: b}
	if f := r.byte(); r.err == nil && f != snapshotFormat {
		return snapshot{}, fmt.Errorf("decode state: unknown format %d", f)
	}
	var snap snapshot
	snap.sender = r.string(MaxNodeIDLen, "sender")
	nOrigins := r.intUpTo(maxStateItems, "origin count")
	for i := 0; i < nOrigins && r.err == nil; i++ {
		so := snapOrigin{id: r.string(MaxNodeIDLen, "origin")}
		so.watermark = r.uvarint()
		nImages := r.intUpTo(maxStateItems, "image count")
		for j := 0; j < nImages && r.err == nil; j++ {
			si := snapImage{id: r.string(MaxImageIDLen, "image id")}
			si.floor = r.uvarint()
			si.total = r.intUpTo(MaxChunks, "chunk count")
			nSegs := r.intUpTo(numSegments(si.total), "segment count")
			for k := 0; k < nSegs && r.err == nil; k++ {
				sg := snapSeg{idx: r.intUpTo(numSegments(si.total)-1, "segment")}
				sg.version = r.uvarint()
				sg.bits = r.bits(segChunks(si.total, sg.idx))
				if r.err == nil && sg.version == 0 {
					r.err = errors.New("zero segment version")
				}
				si.segs = append(si.segs, sg)
			}
			so.images = append(so.images, si)
		}
		snap.origins = append(snap.origins, so)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return snapshot{}, fmt.Errorf("decode state: %w", r.err)
	}
	return snap, nil
}

// merge folds a remote push/pull state into s, skipping self and origins
// for which accept returns false, and reports whether holdings changed.
//
// Each section is complete up to its watermark, so anything known about
// that origin at or below the watermark that the section lacks is obsolete
// and dropped; later updates at or below it are ignored.
func (s *state) merge(snap snapshot, self string, accept func(string) bool) bool {
	changed := false
	for _, so := range snap.origins {
		if so.id == self || so.id == "" || !accept(so.id) {
			continue
		}
		for _, si := range so.images {
			if si.id == "" {
				continue
			}
			if si.floor > 0 {
				changed = s.apply(update{kind: msgWithdraw, origin: so.id, image: si.id, version: si.floor}) || changed
			}
			for _, sg := range si.segs {
				changed = s.apply(update{kind: msgSegment, origin: so.id, image: si.id,
					version: sg.version, total: si.total, seg: sg.idx, bits: sg.bits}) || changed
			}
		}
		if so.watermark > 0 {
			changed = s.prune(so) || changed
		}
	}
	return changed
}

// prune drops what s knows about so.id at or below so.watermark that the
// section does not contain, then raises the origin's watermark.
func (s *state) prune(so snapOrigin) bool {
	w := so.watermark
	present := make(map[string]map[int]bool, len(so.images))
	for _, si := range so.images {
		segs := make(map[int]bool, len(si.segs))
		for _, sg := range si.segs {
			segs[sg.idx] = true
		}
		present[si.id] = segs
	}
	o := s.originFor(so.id)
	changed := false
	for imgID, im := range o.images {
		segs, inSnap := present[imgID]
		for k, sg := range im.segs {
			if sg.version <= w && !segs[k] {
				delete(im.segs, k)
				changed = true
			}
		}
		if !inSnap && im.maxVersion() <= w {
			delete(o.images, imgID)
		}
	}
	o.watermark = max(o.watermark, w)
	return changed
}
