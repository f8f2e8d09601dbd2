package tracker

import (
	"context"
	"sync"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

// Sending tuning.
const (
	// maxBatchBytes is where a batch to one tracker is cut (bitmap
	// bytes; far below peer.MaxHoldingsBody).
	maxBatchBytes = 1 << 20
	// sendParallel bounds the trackers sent to at once.
	sendParallel = 8
	// minBackoff and maxBackoff bound how long a tracker that failed is
	// left alone (doubling in between).
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// backoff is a tracker that failed: not sent to until next.
type backoff struct {
	next time.Time
	wait time.Duration
}

// Announce records that this node now holds chunks have of image,
// which has total chunks. It is cumulative: chunks announced earlier
// stay held. Indexes outside [0,total) are ignored; a different chunk
// count replaces the earlier layout. The image's trackers hear of it
// within FlushDelay.
func (s *Service) Announce(image string, total int, have []int) {
	s.announce(image, total, have, false)
}

// AnnounceAll records that this node holds every chunk of image.
func (s *Service) AnnounceAll(image string, total int) {
	s.announce(image, total, nil, true)
}

func (s *Service) announce(image string, total int, have []int, all bool) {
	if image == "" || len(image) > peer.MaxImageIDLen || total <= 0 || total > peer.MaxChunks {
		s.log.Error("announce ignored: bad image id or chunk count", "image", image, "total", total)
		return
	}
	s.lmu.Lock()
	bad, changed := s.local.announce(image, total, have, all)
	s.lmu.Unlock()
	if bad > 0 {
		s.log.Warn("announce: chunk indexes out of range ignored", "image", image, "total", total, "ignored", bad)
	}
	if changed {
		s.kick()
	}
}

// Withdraw records that this node no longer holds any chunk of image.
func (s *Service) Withdraw(image string) {
	s.lmu.Lock()
	changed := s.local.withdraw(image)
	s.lmu.Unlock()
	if changed {
		s.kick()
	}
}

// Has reports whether this node holds chunk idx of image, as it
// announced.
func (s *Service) Has(image string, idx int) bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	h := s.local.images[image]
	return h != nil && h.has(idx)
}

// HasAll reports whether this node holds every chunk of image, as it
// announced.
func (s *Service) HasAll(image string) bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	h := s.local.images[image]
	return h != nil && !h.gone && h.all
}

// batch is what one flush sends one tracker.
type batch struct {
	to    Member
	items []peer.ImageHoldings
}

// flush sends every tracker what it lacks of this node's changed
// holdings, one batch per tracker (cut at maxBatchBytes), several
// trackers at once. It returns when to try again for trackers that
// failed (0: nothing left to send).
func (s *Service) flush(ctx context.Context) time.Duration {
	v := s.view()
	now := time.Now()
	s.sendMu.Lock()
	for id, b := range s.backoff {
		if now.Sub(b.next) > maxBackoff {
			delete(s.backoff, id) // long past: a tracker that is gone
		}
	}
	if s.sending == nil {
		s.sending = map[string]bool{}
	}
	// A tracker backed off, or still answering an earlier batch, is
	// skipped: what it lacks stays dirty for the next flush.
	skip := func(id string) bool { return now.Before(s.backoff[id].next) || s.sending[id] }
	byTracker := map[string]*batch{}
	var order []*batch
	s.lmu.Lock()
	pending := map[string]bool{}
	for image := range s.local.dirty {
		item, to, wait := s.local.sendable(image, v.trackers(image, s.cfg.Trackers), skip)
		if wait {
			pending[image] = true
		}
		for _, t := range to {
			b := byTracker[t.ID]
			if b == nil {
				b = &batch{to: t}
				byTracker[t.ID] = b
				order = append(order, b)
			}
			b.items = append(b.items, item)
		}
	}
	s.local.dirty = pending
	s.lmu.Unlock()
	for _, b := range order {
		s.sending[b.to.ID] = true
	}
	s.sendMu.Unlock()

	// Up to sendParallel batches at once. The flush waits for them at
	// most FlushDelay after the last one started: a tracker that hangs
	// (alive in gossip, not answering) delays no one else's news; its
	// batch ends within SendTimeout and then asks for another flush.
	var wg sync.WaitGroup
	sem := make(chan struct{}, sendParallel)
	for _, b := range order {
		wg.Add(1)
		s.sends.Add(1)
		sem <- struct{}{}
		go func() {
			defer s.sends.Done()
			defer wg.Done()
			defer func() { <-sem }()
			s.send(ctx, b)
			s.sendMu.Lock()
			delete(s.sending, b.to.ID)
			s.sendMu.Unlock()
			s.kick()
		}()
	}
	done := make(chan struct{})
	s.sends.Add(1)
	go func() { defer s.sends.Done(); wg.Wait(); close(done) }()
	wait := time.NewTimer(s.cfg.Timing.FlushDelay)
	select {
	case <-done:
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()

	s.lmu.Lock()
	left := len(s.local.dirty)
	s.lmu.Unlock()
	if left == 0 || ctx.Err() != nil {
		return 0
	}
	// What is left waits for a tracker that failed, or changed since.
	var retry time.Duration
	now = time.Now()
	s.sendMu.Lock()
	for _, b := range s.backoff {
		if w := b.next.Sub(now); w > 0 && (retry == 0 || w < retry) {
			retry = w
		}
	}
	s.sendMu.Unlock()
	return max(retry, s.cfg.Timing.FlushDelay)
}

// send delivers one tracker's batch, in pieces of at most
// maxBatchBytes, and records what it acknowledged; on failure the
// images stay dirty and the tracker is left alone for a while.
func (s *Service) send(ctx context.Context, b *batch) {
	for start := 0; start < len(b.items); {
		end, size := start, 0
		for end < len(b.items) && (end == start || size+len(b.items[end].Bits) <= maxBatchBytes) {
			size += len(b.items[end].Bits)
			end++
		}
		piece := b.items[start:end]
		start = end
		err := s.deliver(ctx, b.to, piece)
		s.sendMu.Lock()
		s.lmu.Lock()
		if err != nil {
			for _, it := range b.items[start-len(piece):] {
				s.local.dirty[it.Image] = true
			}
			w := minBackoff
			if prev, ok := s.backoff[b.to.ID]; ok {
				w = min(2*prev.wait, maxBackoff)
			}
			s.backoff[b.to.ID] = backoff{next: time.Now().Add(w), wait: w}
		} else {
			delete(s.backoff, b.to.ID)
			for _, it := range piece {
				s.local.acked(it.Image, b.to.ID, it.Version, b.to.Boot)
			}
		}
		s.lmu.Unlock()
		s.sendMu.Unlock()
		if err != nil {
			s.log.Debug("sending holdings to a tracker failed", "tracker", b.to.ID, "images", len(b.items), "err", err)
			return
		}
	}
}

// deliver sends items to tracker t (this node's own table directly).
func (s *Service) deliver(ctx context.Context, t Member, items []peer.ImageHoldings) error {
	h := peer.Holdings{Holder: s.cfg.Self, Epoch: s.cfg.Epoch, Images: items}
	if t.ID == s.cfg.Self {
		s.Record(h)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.SendTimeout)
	defer cancel()
	return s.peers.Holdings(ctx, t.PeerAddr, h)
}
