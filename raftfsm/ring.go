package raftfsm

import "sync"

// Entry is one committed command as the FSM applied it: what an agent
// outside Raft receives from its upstream and applies in the same order.
type Entry struct {
	Index uint64 `json:"i"`
	Data  []byte `json:"d"`
}

// ring keeps the commands applied since the last certified checkpoint
// (or since the FSM started or restored, whichever is later), so that
// this node can feed agents downstream of it. Every command the FSM
// applies is appended; Raft's own entries (configuration, leader no-ops)
// never reach an FSM, so the ring holds every index in (start, last]
// that carries a command, and any index missing from it carries none.
type ring struct {
	mu sync.Mutex
	// start is the index the ring begins after: a reader that has
	// applied start (or anything later) can continue from here.
	start   uint64
	entries []Entry
	bytes   int
}

// reset empties the ring so it begins after idx (a restore).
func (r *ring) reset(idx uint64) {
	r.mu.Lock()
	r.start, r.entries, r.bytes = idx, nil, 0
	r.mu.Unlock()
}

func (r *ring) add(idx uint64, data []byte) {
	r.mu.Lock()
	r.entries = append(r.entries, Entry{Index: idx, Data: append([]byte(nil), data...)})
	r.bytes += len(data)
	r.mu.Unlock()
}

// trim drops the entries at or below idx: a reader that far behind gets
// the checkpoint at idx instead.
func (r *ring) trim(idx uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if idx <= r.start {
		return
	}
	k := 0
	for k < len(r.entries) && r.entries[k].Index <= idx {
		r.bytes -= len(r.entries[k].Data)
		k++
	}
	r.entries = append([]Entry(nil), r.entries[k:]...)
	r.start = idx
}

// since returns the entries after idx, up to about maxBytes (at least
// one), and whether the ring reaches back to idx at all.
func (r *ring) since(idx uint64, maxBytes int) ([]Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if idx < r.start {
		return nil, false
	}
	// Entries are in index order: find the first after idx.
	lo, hi := 0, len(r.entries)
	for lo < hi {
		m := (lo + hi) / 2
		if r.entries[m].Index <= idx {
			lo = m + 1
		} else {
			hi = m
		}
	}
	var out []Entry
	size := 0
	for _, e := range r.entries[lo:] {
		if len(out) > 0 && size+len(e.Data) > maxBytes {
			break
		}
		out = append(out, e)
		size += len(e.Data)
	}
	return out, true
}

// Since returns the commands applied after index idx, oldest first, up to
// about maxBytes (at least one), and whether this FSM can still tell:
// false when the entries after idx were dropped behind a checkpoint (or
// precede the state this FSM restored), so the reader needs a
// checkpoint instead.
func (f *FSM) Since(idx uint64, maxBytes int) ([]Entry, bool) {
	return f.ring.since(idx, maxBytes)
}

// LogStart returns the index the FSM's recent log begins after.
func (f *FSM) LogStart() uint64 {
	f.ring.mu.Lock()
	defer f.ring.mu.Unlock()
	return f.ring.start
}

// LogBytes returns the size of the commands the FSM keeps for agents
// downstream of it.
func (f *FSM) LogBytes() int {
	f.ring.mu.Lock()
	defer f.ring.mu.Unlock()
	return f.ring.bytes
}

// TrimLog drops the kept commands at or below idx (the index of a
// certified checkpoint this node holds).
func (f *FSM) TrimLog(idx uint64) { f.ring.trim(idx) }
