package gossip

import (
	"maps"
	"slices"
)

// segState is the newest known version of one bitmap segment.
type segState struct {
	version uint64
	bits    []byte
}

// imageState is what is known about one origin's holdings of one image.
type imageState struct {
	total int               // chunk count; 0 for a bare tombstone
	floor uint64            // newest withdrawal: segments at or below are gone
	segs  map[int]*segState // by segment index
}

func (im *imageState) maxVersion() uint64 {
	v := im.floor
	for _, sg := range im.segs {
		v = max(v, sg.version)
	}
	return v
}

// originState is what is known about one node's holdings.
type originState struct {
	// watermark: everything about this origin at or below this version is
	// known (from a push/pull section); older updates are ignored.
	watermark uint64
	images    map[string]*imageState
}

// state holds the availability bitmaps of every known origin. It is not
// safe for concurrent use; Gossip guards it with its mutex. The methods are
// pure bookkeeping so that they can be tested without any networking.
type state struct {
	origins map[string]*originState
}

func newState() *state {
	return &state{origins: make(map[string]*originState)}
}

func (s *state) originFor(id string) *originState {
	o := s.origins[id]
	if o == nil {
		o = &originState{images: make(map[string]*imageState)}
		s.origins[id] = o
	}
	return o
}

func (s *state) image(origin, image string) *imageState {
	if o := s.origins[origin]; o != nil {
		return o.images[image]
	}
	return nil
}

// forget drops everything known about origin.
func (s *state) forget(origin string) {
	delete(s.origins, origin)
}

// apply merges a remote update and reports whether it changed anything.
// Updates that are not newer than what is known are ignored, so any order
// of delivery converges to the same state. apply takes ownership of u.bits.
func (s *state) apply(u update) bool {
	if o := s.origins[u.origin]; o != nil && u.version <= o.watermark {
		return false
	}
	im := s.image(u.origin, u.image)
	if u.kind == msgWithdraw {
		if im == nil {
			im = &imageState{segs: make(map[int]*segState)}
			s.originFor(u.origin).images[u.image] = im
		}
		if u.version <= im.floor {
			return false
		}
		im.floor = u.version
		for k, sg := range im.segs {
			if sg.version < u.version {
				delete(im.segs, k)
			}
		}
		if len(im.segs) == 0 {
			im.total = 0 // canonical tombstone, whatever the arrival order
		}
		return true
	}
	if im == nil {
		im = &imageState{total: u.total, segs: make(map[int]*segState)}
		s.originFor(u.origin).images[u.image] = im
	}
	if u.version <= im.floor {
		return false
	}
	if im.total != u.total {
		// A different chunk count means a different layout: the newer one
		// wins as a whole.
		mv := im.maxVersion()
		if u.version <= mv {
			return false
		}
		im.floor = mv
		im.segs = make(map[int]*segState)
		im.total = u.total
	}
	if cur := im.segs[u.seg]; cur != nil && cur.version >= u.version {
		return false
	}
	im.segs[u.seg] = &segState{version: u.version, bits: u.bits}
	return true
}

// localAnnounce records that origin self holds the chunks have of image
// (every chunk when all is set), stamping changed segments with version.
// It returns the updates to broadcast and the number of ignored indexes.
func (s *state) localAnnounce(self, image string, total int, have []int, all bool, version uint64) ([]update, int) {
	o := s.originFor(self)
	im := o.images[image]
	if im != nil && im.total != total {
		// A new layout replaces the old one; receivers reset on the first
		// segment with the new chunk count (or on our next push/pull).
		delete(o.images, image)
		im = nil
	}
	if im == nil {
		im = &imageState{total: total, segs: make(map[int]*segState)}
	}
	touched := make(map[int][]byte)
	seg := func(k int) []byte {
		if b, ok := touched[k]; ok {
			return b
		}
		var b []byte
		if cur := im.segs[k]; cur != nil {
			b = slices.Clone(cur.bits)
		} else {
			b = make([]byte, segLen(total, k))
		}
		touched[k] = b
		return b
	}
	bad := 0
	if all {
		for k := range numSegments(total) {
			copy(seg(k), fullBits(segChunks(total, k)))
		}
	}
	for _, idx := range have {
		if idx < 0 || idx >= total {
			bad++
			continue
		}
		seg(idx / SegmentChunks)[idx%SegmentChunks/8] |= 1 << (idx % 8)
	}
	var out []update
	for _, k := range slices.Sorted(maps.Keys(touched)) {
		b := touched[k]
		if cur := im.segs[k]; cur != nil && slices.Equal(cur.bits, b) {
			continue
		}
		im.segs[k] = &segState{version: version, bits: b}
		out = append(out, update{kind: msgSegment, origin: self, image: image,
			version: version, total: total, seg: k, bits: b})
	}
	if len(im.segs) > 0 {
		o.images[image] = im
	}
	return out, bad
}

// localWithdraw forgets self's holdings of image and reports whether there
// were any.
func (s *state) localWithdraw(self, image string) bool {
	o := s.origins[self]
	if o == nil || o.images[image] == nil {
		return false
	}
	delete(o.images, image)
	return true
}

// has reports whether origin holds chunk idx of image.
func (s *state) has(origin, image string, idx int) bool {
	im := s.image(origin, image)
	if im == nil || idx < 0 || idx >= im.total {
		return false
	}
	sg := im.segs[idx/SegmentChunks]
	return sg != nil && sg.bits[idx%SegmentChunks/8]&(1<<(idx%8)) != 0
}

// full reports whether origin holds every chunk of image.
func (s *state) full(origin, image string) bool {
	im := s.image(origin, image)
	if im == nil || im.total == 0 {
		return false
	}
	for k := range numSegments(im.total) {
		sg := im.segs[k]
		if sg == nil || !isFull(sg.bits, segChunks(im.total, k)) {
			return false
		}
	}
	return true
}

// bitmap expands origin's holdings of image, or returns nil if none known.
func (s *state) bitmap(origin, image string) []bool {
	im := s.image(origin, image)
	if im == nil || len(im.segs) == 0 {
		return nil
	}
	out := make([]bool, im.total)
	for k, sg := range im.segs {
		for i := range segChunks(im.total, k) {
			out[k*SegmentChunks+i] = sg.bits[i/8]&(1<<(i%8)) != 0
		}
	}
	return out
}
