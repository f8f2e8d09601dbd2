package tracker

import (
	"time"
)

// view is one snapshot of the member list with what the tracker needs
// of it precomputed: the live candidates (hashed once) and every known
// member by id.
type view struct {
	at   time.Time
	self Member
	live []candidate
	byID map[string]Member
}

// newView snapshots members (self is always live).
func newView(self string, members []Member) *view {
	v := &view{at: time.Now(), byID: make(map[string]Member, len(members))}
	for _, m := range members {
		v.byID[m.ID] = m
		if m.ID == self {
			m.Alive = true
			v.self = m
		}
		if m.Alive && m.PeerAddr != "" {
			v.live = append(v.live, candidate{m: m, h: nodeHash(m.ID)})
		}
	}
	if v.self.ID == "" {
		v.self = Member{ID: self, Alive: true}
	}
	return v
}

// trackers are image's k trackers in this view, best first.
func (v *view) trackers(image string, k int) []Member {
	top := topK(image, v.live, k)
	out := make([]Member, len(top))
	for i, c := range top {
		out[i] = c.m
	}
	return out
}

// kthScore is the score of image's k-th tracker (0 when fewer than k
// nodes are live): a node that scores at least that is among them.
func (v *view) kthScore(image string, k int) uint64 {
	top := topK(image, v.live, k)
	if len(top) < k {
		return 0
	}
	return score(imageHash(image), top[len(top)-1].h)
}

// proximity ranks m for a node in zone and rack: 0 same rack, 1 same
// zone, 2 elsewhere.
func proximity(m Member, zone, rack string) int {
	switch {
	case m.Zone == zone && m.Rack == rack:
		return 0
	case m.Zone == zone:
		return 1
	}
	return 2
}
