package tracker

import (
	"slices"

	"github.com/p2pglance/p2pglance/peer"
)

// held is what this node holds of one image, and which of the image's
// trackers know it.
type held struct {
	total   int
	all     bool
	bits    []byte // nil when all or gone
	version uint64
	// gone: withdrawn; kept until every tracker was told.
	gone bool
	// acks are the image's trackers as the last flush found them, each
	// with what it acknowledged: the version, and its boot time then (a
	// tracker that restarted since has forgotten it). A slice: there
	// are Config.Trackers of them.
	acks []ack
}

type ack struct {
	tracker string
	version uint64 // 0: nothing acknowledged
	boot    int64
}

// item is the image's holdings as sent.
func (h *held) item(image string) peer.ImageHoldings {
	if h.gone {
		return peer.ImageHoldings{Image: image, Version: h.version, Gone: true}
	}
	return peer.ImageHoldings{Image: image, Version: h.version, Total: h.total, All: h.all, Bits: slices.Clone(h.bits)}
}

// has reports whether chunk idx is held.
func (h *held) has(idx int) bool { return !h.gone && holds(h.total, h.all, h.bits, idx) }

// settled reports whether every tracker acknowledged the current version
// (a withdrawn image may then be forgotten).
func (h *held) settled() bool {
	for _, a := range h.acks {
		if a.version != h.version {
			return false
		}
	}
	return true
}

// local is what this node holds, as it tells the trackers. It is not
// safe for concurrent use; Service guards it.
type local struct {
	images  map[string]*held
	version uint64 // last version handed out
	dirty   map[string]bool
}

func newLocal() *local {
	return &local{images: map[string]*held{}, dirty: map[string]bool{}}
}

func (l *local) next() uint64 {
	l.version++
	return l.version
}

// announce records chunks have (every chunk when all) of image, which
// has total chunks; a different chunk count replaces the old layout. It
// returns the number of indexes out of range and whether anything
// changed.
func (l *local) announce(image string, total int, have []int, all bool) (bad int, changed bool) {
	h := l.images[image]
	if h == nil {
		h = &held{}
		l.images[image] = h
	}
	if h.gone || h.total != total {
		h.gone, h.total, h.all, h.bits = false, total, false, make([]byte, peer.BitmapLen(total))
		changed = true
	}
	if !h.all {
		for _, idx := range have {
			if idx < 0 || idx >= total {
				bad++
				continue
			}
			if !hasBit(h.bits, idx) {
				setBit(h.bits, idx)
				changed = true
			}
		}
		if all || allSet(h.bits, total) {
			h.all, h.bits, changed = true, nil, true
		}
	}
	if changed {
		h.version = l.next()
		l.dirty[image] = true
	}
	return bad, changed
}

// withdraw records that no chunk of image is held any more and reports
// whether any was.
func (l *local) withdraw(image string) bool {
	h := l.images[image]
	if h == nil || h.gone {
		return false
	}
	h.gone, h.total, h.all, h.bits = true, 0, false, nil
	h.version = l.next()
	l.dirty[image] = true
	return true
}

// sendable says, for one image and its trackers now, what each tracker
// needs: the trackers that lack the current version (and are not
// backed off) get the item. Trackers no longer the image's are
// forgotten; a withdrawn image every tracker knows of is dropped.
func (l *local) sendable(image string, trackers []Member, skip func(id string) bool) (peer.ImageHoldings, []Member, bool) {
	h := l.images[image]
	if h == nil {
		return peer.ImageHoldings{}, nil, false
	}
	acks := make([]ack, len(trackers))
	var to []Member
	pending := false
	for i, t := range trackers {
		acks[i] = ack{tracker: t.ID}
		if j := slices.IndexFunc(h.acks, func(a ack) bool { return a.tracker == t.ID }); j >= 0 && h.acks[j].boot == t.Boot {
			acks[i] = h.acks[j]
		}
		switch {
		case acks[i].version == h.version:
		case skip(t.ID):
			pending = true
		default:
			to = append(to, t)
		}
	}
	h.acks = acks
	if len(to) == 0 && !pending && h.gone {
		delete(l.images, image)
	}
	if len(to) == 0 {
		return peer.ImageHoldings{}, nil, pending
	}
	return h.item(image), to, pending
}

// acked records that tracker t (booted at boot) holds version of image.
func (l *local) acked(image, t string, version uint64, boot int64) {
	h := l.images[image]
	if h == nil || version > h.version {
		return
	}
	for i, a := range h.acks {
		if a.tracker == t && (a.version < version || a.boot != boot) {
			h.acks[i] = ack{tracker: t, version: version, boot: boot}
		}
	}
	if h.gone && h.settled() {
		delete(l.images, image)
	}
}

// resync marks every image for a check of its trackers (the member list
// changed); forget, when set, also forgets every acknowledgement (a
// periodic full re-announce).
func (l *local) resync(forget bool) {
	for image, h := range l.images {
		l.dirty[image] = true
		if forget {
			for i := range h.acks {
				h.acks[i].version = 0
			}
		}
	}
}
