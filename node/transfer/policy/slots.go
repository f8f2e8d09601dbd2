package policy

import "sync"

// Slots bounds a node's concurrent chunk uploads to peers. It never
// queues: a request that finds every slot taken is refused at once
// (busy, naming copies), so the requester asks another holder instead of
// waiting here.
type Slots struct {
	mu      sync.Mutex
	n, used int
}

// NewSlots returns n slots (none if n <= 0).
func NewSlots(n int) *Slots { return &Slots{n: n} }

// TryAcquire takes a slot if one is free.
func (s *Slots) TryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.n {
		return false
	}
	s.used++
	return true
}

// Release gives a slot back.
func (s *Slots) Release() {
	s.mu.Lock()
	s.used--
	s.mu.Unlock()
}

// InUse returns the number of slots taken.
func (s *Slots) InUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Burst is how many bytes a link capped at bytesPerSec may send at once
// after idling: one second's worth, at least one chunk (the token
// bucket's depth).
func Burst(bytesPerSec int64, chunk int) int64 { return max(bytesPerSec, int64(chunk)) }
