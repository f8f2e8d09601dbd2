package raftfsm

import (
	"strings"
	"sync/atomic"
)

// Limits of a strDict: the strings it codes, their length, and how many
// strings seen once it remembers while waiting for a second sighting.
const (
	maxDictStrings = 1 << 16
	maxDictLen     = 48
	maxDictPending = 1 << 13
)

// strDict codes the short strings images repeat (property keys and
// values, tags, node ids, hash algorithms) as small numbers, so each is
// stored once per catalog instead of once per image. A string is coded
// from its second sighting on (strings seen once, such as per-image
// UUIDs, never take a code); codes are never taken back, so the
// dictionary only grows, up to maxDictStrings.
//
// The writer (encodeImage, under the State's lock) adds codes; any
// number of readers decode concurrently: a reader's slice only ever
// covers strings added before it was published.
type strDict struct {
	codes   map[string]uint32
	pending map[string]struct{}
	strs    []string // the writer's, published by publish
	pub     atomic.Pointer[[]string]
}

func newStrDict() *strDict {
	d := &strDict{codes: map[string]uint32{}, pending: map[string]struct{}{}}
	d.pub.Store(&[]string{})
	return d
}

// code returns s's code if it has or now takes one. A nil dict codes
// nothing.
func (d *strDict) code(s string) (uint32, bool) {
	if d == nil {
		return 0, false
	}
	if c, ok := d.codes[s]; ok {
		return c, true
	}
	if len(s) > maxDictLen || len(d.strs) >= maxDictStrings {
		return 0, false
	}
	if _, seen := d.pending[s]; !seen {
		if len(d.pending) >= maxDictPending {
			clear(d.pending)
		}
		d.pending[strings.Clone(s)] = struct{}{}
		return 0, false
	}
	delete(d.pending, s)
	s = strings.Clone(s) // not a substring of a bigger buffer
	c := uint32(len(d.strs))
	d.codes[s] = c
	d.strs = append(d.strs, s)
	return c, true
}

// publish makes the codes added so far readable. Appending never changes
// an element a published slice covers.
func (d *strDict) publish() {
	if d == nil || len(*d.pub.Load()) == len(d.strs) {
		return
	}
	s := d.strs
	d.pub.Store(&s)
}

// strings returns the coded strings, by code, as published.
func (d *strDict) strings() []string {
	if d == nil {
		return nil
	}
	return *d.pub.Load()
}
