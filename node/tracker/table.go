package tracker

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// entry is what one holder said of one image.
type entry struct {
	version uint64
	total   int
	all     bool
	bits    []byte // nil when all
	seen    time.Time
}

// holderRec is everything this tracker keeps of one holder.
type holderRec struct {
	epoch  int64
	images map[string]*entry
}

// table is the tracker's side: for each image it tracks, every holder's
// bitmap. It is not safe for concurrent use; Service guards it.
type table struct {
	holders map[string]*holderRec        // by holder
	images  map[string]map[string]*entry // by image, then holder: what lookups read
}

func newTable() *table {
	return &table{holders: map[string]*holderRec{}, images: map[string]map[string]*entry{}}
}

// record applies a holder's batch. A batch from an older epoch (sent
// before the holder restarted) is dropped; one from a newer epoch first
// forgets everything the holder said before. Per image, a version not
// newer than the one kept is ignored, so a late batch never undoes a
// newer one.
func (t *table) record(h peer.Holdings, now time.Time) {
	rec := t.holders[h.Holder]
	switch {
	case rec == nil:
		rec = &holderRec{epoch: h.Epoch, images: map[string]*entry{}}
		t.holders[h.Holder] = rec
	case h.Epoch < rec.epoch:
		return
	case h.Epoch > rec.epoch:
		t.forget(h.Holder)
		rec = &holderRec{epoch: h.Epoch, images: map[string]*entry{}}
		t.holders[h.Holder] = rec
	}
	for _, im := range h.Images {
		cur := rec.images[im.Image]
		if cur != nil && cur.version >= im.Version {
			cur.seen = now
			continue
		}
		if im.Gone {
			if cur != nil {
				t.drop(h.Holder, im.Image)
			}
			continue
		}
		e := &entry{version: im.Version, total: im.Total, all: im.All, seen: now}
		if !im.All {
			e.bits = slices.Clone(im.Bits)
		}
		rec.images[im.Image] = e
		byHolder := t.images[im.Image]
		if byHolder == nil {
			byHolder = map[string]*entry{}
			t.images[im.Image] = byHolder
		}
		byHolder[h.Holder] = e
	}
	if len(rec.images) == 0 {
		delete(t.holders, h.Holder)
	}
}

// drop forgets what holder said of image.
func (t *table) drop(holder, image string) {
	if rec := t.holders[holder]; rec != nil {
		delete(rec.images, image)
		if len(rec.images) == 0 {
			delete(t.holders, holder)
		}
	}
	if byHolder := t.images[image]; byHolder != nil {
		delete(byHolder, holder)
		if len(byHolder) == 0 {
			delete(t.images, image)
		}
	}
}

// forget drops everything holder said.
func (t *table) forget(holder string) {
	rec := t.holders[holder]
	if rec == nil {
		return
	}
	for image := range rec.images {
		t.drop(holder, image)
	}
	delete(t.holders, holder)
}

// forgetBefore drops everything holder said before it booted at boot.
func (t *table) forgetBefore(holder string, boot int64) {
	if rec := t.holders[holder]; rec != nil && rec.epoch < boot {
		t.forget(holder)
	}
}

// forgetImage drops every holder of image.
func (t *table) forgetImage(image string) {
	for holder := range t.images[image] {
		t.drop(holder, image)
	}
}

// expire drops entries not heard of since before.
func (t *table) expire(before time.Time) {
	for holder, rec := range t.holders {
		for image, e := range rec.images {
			if e.seen.Before(before) {
				t.drop(holder, image)
			}
		}
	}
}

// answer lists image's holders for a node in zone and rack: holders
// known dead in v left out, then those in its rack, its zone, elsewhere
// (holders of every chunk first within each, random among equals), at
// most limit of them and peer.MaxHoldersBitmapBytes of bitmaps.
func (t *table) answer(v *view, q peer.HoldersQuery) []peer.Holder {
	type cand struct {
		id        string
		e         *entry
		prox, all int
	}
	var cs []cand
	for id, e := range t.images[q.Image] {
		m, known := v.byID[id]
		if known && !m.Alive && id != v.self.ID {
			continue
		}
		if q.Full && !e.all {
			continue
		}
		c := cand{id: id, e: e, prox: 2, all: 1}
		if known {
			c.prox = proximity(m, q.Zone, q.Rack)
		}
		if e.all {
			c.all = 0
		}
		cs = append(cs, c)
	}
	rand.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.prox, b.prox), cmp.Compare(a.all, b.all)) })
	limit := q.Limit
	if limit <= 0 || limit > peer.MaxHolders {
		limit = peer.MaxHolders
	}
	out := make([]peer.Holder, 0, min(len(cs), limit))
	budget := peer.MaxHoldersBitmapBytes
	for _, c := range cs {
		if len(out) == limit {
			break
		}
		if len(c.e.bits) > budget {
			continue
		}
		budget -= len(c.e.bits)
		out = append(out, peer.Holder{Node: c.id, Epoch: t.holders[c.id].epoch, Version: c.e.version,
			Total: c.e.total, All: c.e.all, Bits: c.e.bits})
	}
	return out
}

// holdersOf lists image's holders, sorted by id.
func (t *table) holdersOf(image string) []peer.Holder {
	var out []peer.Holder
	for id, e := range t.images[image] {
		out = append(out, peer.Holder{Node: id, Epoch: t.holders[id].epoch, Version: e.version, Total: e.total, All: e.all, Bits: slices.Clone(e.bits)})
	}
	slices.SortFunc(out, func(a, b peer.Holder) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// size counts the entries kept and their bitmap bytes.
func (t *table) size() (entries, bitmapBytes int) {
	for _, byHolder := range t.images {
		for _, e := range byHolder {
			entries++
			bitmapBytes += len(e.bits)
		}
	}
	return entries, bitmapBytes
}
