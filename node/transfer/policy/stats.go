package policy

import (
	"sync"
	"time"
)

// Penalties: how long a peer is ranked last.
const (
	// BusyPenalty: a holder that answered busy (no free upload slot).
	BusyPenalty = 250 * time.Millisecond
	// SuspectPenalty: a holder that stalled or sent bad data.
	SuspectPenalty = time.Minute
)

// Load of a peer beyond its fetches in flight (see [Stats.Load]).
const (
	busyLoad    = 1000
	suspectLoad = 100000
)

// Stats is a node's running view of each peer as a chunk source: how
// many fetches it has in flight there, and until when the peer is known
// to be busy (it refused for lack of upload slots) or suspect (it
// stalled or sent bad data). The zero value is ready to use.
type Stats[ID comparable] struct {
	mu    sync.Mutex
	peers table[ID, peerStat] // only peers with a load
}

type peerStat struct {
	inflight     int
	busyUntil    time.Time
	suspectUntil time.Time
}

// update applies f to id's entry.
func (p *Stats[ID]) update(id ID, f func(*peerStat)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p.peers.ptr(id))
}

// Begin and End bracket a fetch from peer id.
func (p *Stats[ID]) Begin(id ID) { p.update(id, func(s *peerStat) { s.inflight++ }) }

// End: see Begin.
func (p *Stats[ID]) End(id ID) { p.update(id, func(s *peerStat) { s.inflight-- }) }

// MarkBusy notes at now that id refused for lack of slots: it ranks
// last for [BusyPenalty].
func (p *Stats[ID]) MarkBusy(id ID, now time.Time) {
	p.update(id, func(s *peerStat) { s.busyUntil = now.Add(BusyPenalty) })
}

// MarkSuspect demotes id at now for [SuspectPenalty] (it stalled or sent
// corrupt data).
func (p *Stats[ID]) MarkSuspect(id ID, now time.Time) {
	p.update(id, func(s *peerStat) { s.suspectUntil = now.Add(SuspectPenalty) })
}

// Load returns a peer's cost as a source at now: 0 for idle, one more
// for each fetch in flight, and a large penalty while busy or suspect
// (what [Candidate.Load] takes).
func (p *Stats[ID]) Load(id ID, now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.peers.get(id)
	if !ok {
		return 0
	}
	cost := s.inflight
	if now.Before(s.busyUntil) {
		cost += busyLoad
	}
	if now.Before(s.suspectUntil) {
		cost += suspectLoad
	}
	if cost == 0 {
		// Nothing to remember: the table holds only peers with a load,
		// not every peer ever asked.
		p.peers.del(id)
	}
	return cost
}
