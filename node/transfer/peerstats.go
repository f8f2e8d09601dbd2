package transfer

import (
	"sync"
	"time"
)

// peerStats is this node's running view of each peer as a chunk source:
// how many fetches it has in flight there, and until when the peer is
// known to be busy (it refused for lack of upload slots) or suspect (it
// stalled or sent bad data).
type peerStats struct {
	mu    sync.Mutex
	peers map[string]*peerStat
}

type peerStat struct {
	inflight     int
	busyUntil    time.Time
	suspectUntil time.Time
}

func newPeerStats() *peerStats { return &peerStats{peers: map[string]*peerStat{}} }

func (p *peerStats) get(id string) *peerStat {
	s := p.peers[id]
	if s == nil {
		s = &peerStat{}
		p.peers[id] = s
	}
	return s
}

// begin and end bracket a fetch from peer id.
func (p *peerStats) begin(id string) {
	p.mu.Lock()
	p.get(id).inflight++
	p.mu.Unlock()
}

func (p *peerStats) end(id string) {
	p.mu.Lock()
	p.get(id).inflight--
	p.mu.Unlock()
}

// markBusy notes that id refused for lack of slots.
func (p *peerStats) markBusy(id string, d time.Duration) {
	p.mu.Lock()
	p.get(id).busyUntil = time.Now().Add(d)
	p.mu.Unlock()
}

// markSuspect demotes id for d (it stalled or sent corrupt data).
func (p *peerStats) markSuspect(id string, d time.Duration) {
	p.mu.Lock()
	p.get(id).suspectUntil = time.Now().Add(d)
	p.mu.Unlock()
}

// load returns a peer's current cost as a source: 0 for idle, more for
// each fetch in flight, and a large penalty while busy or suspect.
func (p *peerStats) load(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.peers[id]
	if s == nil {
		return 0
	}
	now := time.Now()
	cost := s.inflight
	if now.Before(s.busyUntil) {
		cost += 1000
	}
	if now.Before(s.suspectUntil) {
		cost += 100000
	}
	return cost
}
