package policy

import (
	"slices"
	"time"
)

// ResortEvery is how often a prefetch re-sorts the chunks it still
// needs by rarity: counting holders costs a gossip lookup per chunk.
const ResortEvery = 200 * time.Millisecond

// RarestFirst orders chunk indexes by how many nodes hold them (count),
// fewest first, random among equals: across a fleet each node starts on
// different chunks, and copies spread from peers instead of all coming
// from the durable holders.
func RarestFirst(idxs []int, count func(idx int) int, rng Rand) {
	n := make(map[int]int, len(idxs))
	for _, i := range idxs {
		n[i] = count(i)
	}
	Shuffle(rng, idxs)
	slices.SortStableFunc(idxs, func(a, b int) int { return n[a] - n[b] })
}

// Busy pauses of a prefetch worker.
const (
	// FirstBusyPause is the first pause after a whole round of busy
	// answers; each further round doubles it up to the worker's maximum
	// (BusyPenalty in the agents).
	FirstBusyPause = 10 * time.Millisecond
)

// BusyPause is one prefetch worker's answer to busy holders: a chunk
// whose holders are all busy goes to the back of the queue and the
// worker takes the next one at once, but once it has met as many busy
// answers in a row as chunks remain (a whole round), it pauses, doubling
// from [FirstBusyPause] up to Max. The zero value with Max set is ready.
type BusyPause struct {
	Max    time.Duration
	streak int
	pause  time.Duration
}

// Busy records a chunk whose holders were all busy, with round chunks
// now queued, and returns how long to pause before the next (0: none).
func (b *BusyPause) Busy(round int) time.Duration {
	if b.pause == 0 {
		b.pause = FirstBusyPause
	}
	if b.streak++; b.streak < round {
		return 0
	}
	p := b.pause
	b.streak, b.pause = 0, min(2*b.pause, b.Max)
	return p
}

// Progress records a chunk fetched: the streak and the pause start over.
func (b *BusyPause) Progress() { b.streak, b.pause = 0, FirstBusyPause }

// Backoff is a download's wait when every holder of the chunk it needs
// is busy: 20 ms doubling to 500 ms, each wait jittered up to twice.
// The zero value is ready.
type Backoff struct{ wait time.Duration }

// Backoff bounds.
const (
	firstBackoff = 20 * time.Millisecond
	maxBackoff   = 500 * time.Millisecond
)

// Next returns how long to wait before asking the holders again.
func (b *Backoff) Next(rng Rand) time.Duration {
	if b.wait == 0 {
		b.wait = firstBackoff
	}
	d := b.wait + time.Duration(rng.IntN(int(b.wait)))
	b.wait = min(2*b.wait, maxBackoff)
	return d
}
