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
	// sent is, per tracker, what it acknowledged: the version, and the
	// tracker's boot time then (a tracker that restarted since has
	// forgotten it).
	sent map[string]mark
	// targets are the trackers the last flush sent to or found up to
	// date.
	targets []string
}

type mark struct {
	version uint64
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

// settled reports whether every target acknowledged the current version
// (a withdrawn image may then be forgotten).
func (h *held) settled() bool {
	for _, t := range h.targets {
		if h.sent[t].version != h.version {
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
		h = &held{sent: map[string]mark{}}
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
	h.targets = h.targets[:0]
	var to []Member
	pending := false
	for _, t := range trackers {
		h.targets = append(h.targets, t.ID)
		if m, ok := h.sent[t.ID]; ok && m.version == h.version && m.boot == t.Boot {
			continue
		}
		if skip(t.ID) {
			pending = true
			continue
		}
		to = append(to, t)
	}
	for id := range h.sent {
		if !slices.Contains(h.targets, id) {
			delete(h.sent, id)
		}
	}
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
	if m := h.sent[t]; m.version < version || m.boot != boot {
		h.sent[t] = mark{version: version, boot: boot}
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
			clear(h.sent)
		}
	}
}
