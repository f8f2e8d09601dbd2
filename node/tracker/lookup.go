package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// maxCached bounds the lookups whose answers are kept.
const maxCached = 4096

// lookup is one image's answer, kept for LookupTTL; done is closed once
// the answer is in (callers that found it in flight wait for it).
type lookup struct {
	done    chan struct{}
	holders []peer.Holder
	expires time.Time
}

// Holders returns the ids, sorted, of the nodes that hold chunk idx of
// image: this node if it does, and the holders its trackers name. The
// trackers' answer is reused for LookupTTL; a lookup takes at most
// LookupTimeout, and one that fails names no other node.
func (s *Service) Holders(image string, idx int) []string {
	var out []string
	for _, h := range s.cached(image) {
		if h.Node != s.cfg.Self && holds(h.Total, h.All, h.Bits, idx) {
			out = append(out, h.Node)
		}
	}
	if s.Has(image, idx) {
		out = append(out, s.cfg.Self)
	}
	slices.Sort(out)
	return out
}

// FullHolders asks image's trackers (no cached answer) which nodes hold
// every chunk of it, and returns their ids sorted, this node included
// if it does; at most peer.MaxHolders, nearest first.
func (s *Service) FullHolders(ctx context.Context, image string) ([]string, error) {
	hs, err := s.query(ctx, image, peer.MaxHolders, true)
	var out []string
	for _, h := range hs {
		if h.Node != s.cfg.Self && h.All {
			out = append(out, h.Node)
		}
	}
	if s.HasAll(image) {
		out = append(out, s.cfg.Self)
	}
	slices.Sort(out)
	return out, err
}

// Lookup asks image's trackers (no cached answer) who holds it; this
// node's own holdings are left to Has (for tests and diagnostics).
func (s *Service) Lookup(ctx context.Context, image string) ([]peer.Holder, error) {
	return s.query(ctx, image, s.cfg.Limit, false)
}

// cached returns image's holders from a fresh kept answer, or asks.
func (s *Service) cached(image string) []peer.Holder {
	now := time.Now()
	s.fmu.Lock()
	l := s.cache[image]
	if l != nil {
		select {
		case <-l.done:
			if now.Before(l.expires) {
				s.fmu.Unlock()
				return l.holders
			}
		default:
			s.fmu.Unlock()
			select {
			case <-l.done:
				return l.holders
			case <-time.After(s.cfg.Timing.LookupTimeout):
				return nil
			}
		}
	}
	if len(s.cache) >= maxCached {
		s.pruneCacheLocked(now, true)
	}
	l = &lookup{done: make(chan struct{})}
	s.cache[image] = l
	s.fmu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timing.LookupTimeout)
	hs, err := s.query(ctx, image, s.cfg.Limit, false)
	cancel()
	if err != nil {
		s.log.Debug("holder lookup failed", "image", image, "err", err)
	}
	s.fmu.Lock()
	l.holders, l.expires = hs, time.Now().Add(s.cfg.Timing.LookupTTL)
	close(l.done)
	s.fmu.Unlock()
	return hs
}

// pruneCacheLocked drops expired answers and, when full is set and
// that is not enough to go under maxCached, the oldest half.
func (s *Service) pruneCacheLocked(now time.Time, full bool) {
	type aged struct {
		image   string
		expires time.Time
	}
	var done []aged
	for image, l := range s.cache {
		select {
		case <-l.done:
			if now.After(l.expires) {
				delete(s.cache, image)
			} else {
				done = append(done, aged{image, l.expires})
			}
		default:
		}
	}
	if !full || len(s.cache) < maxCached {
		return
	}
	slices.SortFunc(done, func(a, b aged) int { return a.expires.Compare(b.expires) })
	for _, a := range done[:len(done)/2] {
		delete(s.cache, a.image)
	}
}

// errNoTracker: no live node to ask (a lone node, or gossip lost
// everyone).
var errNoTracker = errors.New("no live tracker")

// query asks image's trackers, nearest first (this node if it is one:
// no network), for at most limit holders (full: of every chunk only).
// An answer marked partial is completed by the next tracker's; holders
// named by two trackers keep the newer of what they said.
func (s *Service) query(ctx context.Context, image string, limit int, full bool) ([]peer.Holder, error) {
	v := s.view()
	ts := v.trackers(image, s.cfg.Trackers)
	if len(ts) == 0 {
		return nil, errNoTracker
	}
	self := v.self
	rand.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	slices.SortStableFunc(ts, func(a, b Member) int {
		return cmp.Or(cmp.Compare(rank(a, self), rank(b, self)), cmp.Compare(a.RTT, b.RTT))
	})
	q := peer.HoldersQuery{Image: image, Zone: self.Zone, Rack: self.Rack, Limit: limit, Full: full}
	merged := map[string]peer.Holder{}
	var errs []error
	answered := false
	for i, t := range ts {
		var ans peer.HoldersAnswer
		if t.ID == s.cfg.Self {
			ans = s.Answer(q)
		} else {
			// Leave the later trackers some of the time if this one
			// hangs.
			actx, cancel := ctx, context.CancelFunc(func() {})
			if dl, ok := ctx.Deadline(); ok && i < len(ts)-1 {
				actx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
			}
			var err error
			ans, err = s.peers.Holders(actx, t.PeerAddr, q)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("ask tracker %s: %w", t.ID, err))
				continue
			}
		}
		answered = true
		for _, h := range ans.Holders {
			if cur, ok := merged[h.Node]; !ok || h.Epoch > cur.Epoch || (h.Epoch == cur.Epoch && h.Version > cur.Version) {
				merged[h.Node] = h
			}
		}
		if !ans.Partial {
			break
		}
	}
	out := make([]peer.Holder, 0, len(merged))
	for _, h := range merged {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b peer.Holder) int { return cmp.Compare(a.Node, b.Node) })
	if !answered {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// rank orders trackers for the asker self: itself, its rack, its zone,
// the others.
func rank(t, self Member) int {
	if t.ID == self.ID {
		return -1
	}
	return proximity(t, self.Zone, self.Rack)
}
