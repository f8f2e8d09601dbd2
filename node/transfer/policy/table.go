package policy

import "hash/maphash"

// table is a map kept small and contiguous: keys in one slice,
// searched in order while there are few (the usual case: a node's peers
// with a load, the nodes one round asked), with an open-addressing index
// (linear probing, no tombstones) once there are more than tableScan.
// Deleting moves the last entry into the hole. The zero value is empty.
// (A simulator keeps thousands of these hot; Go's map costs it twice
// the cache misses.)
type table[K comparable, V any] struct {
	keys  []K // searched in order while small: kept apart from the values
	vals  []V
	slots []int32 // index+1 into keys, 0: empty; nil while small
}

// tableScan is how many keys are searched in order before an index is
// kept: comparing a dozen small keys in a cache line or two is cheaper
// than hashing.
const tableScan = 16

var tableSeed = maphash.MakeSeed()

func (t *table[K, V]) home(k K) int {
	return int(maphash.Comparable(tableSeed, k)) & (len(t.slots) - 1)
}

// slotOf returns the slot holding k's index, or -1.
func (t *table[K, V]) slotOf(k K) int {
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if t.keys[s-1] == k {
			return i
		}
	}
}

func (t *table[K, V]) find(k K) int {
	if t.slots != nil {
		if i := t.slotOf(k); i >= 0 {
			return int(t.slots[i]) - 1
		}
		return -1
	}
	for i, x := range t.keys {
		if x == k {
			return i
		}
	}
	return -1
}

// get returns k's value.
func (t *table[K, V]) get(k K) (V, bool) {
	if i := t.find(k); i >= 0 {
		return t.vals[i], true
	}
	var zero V
	return zero, false
}

// ptr returns k's value to change in place, adding a zero one if k has
// none. The pointer is valid until the next add or delete.
func (t *table[K, V]) ptr(k K) *V {
	if i := t.find(k); i >= 0 {
		return &t.vals[i]
	}
	var zero V
	t.keys = append(t.keys, k)
	t.vals = append(t.vals, zero)
	n := len(t.keys)
	switch {
	case t.slots != nil && 2*n > len(t.slots):
		t.rebuild(4 * n)
	case t.slots != nil:
		t.place(n - 1)
	case n > tableScan:
		t.rebuild(4 * n)
	}
	return &t.vals[n-1]
}

// rebuild indexes every entry in at least size slots.
func (t *table[K, V]) rebuild(size int) {
	n := 8
	for n < size {
		n *= 2
	}
	t.slots = make([]int32, n)
	for i := range t.keys {
		t.place(i)
	}
}

// place indexes entry i.
func (t *table[K, V]) place(i int) {
	mask := len(t.slots) - 1
	j := t.home(t.keys[i])
	for t.slots[j] != 0 {
		j = (j + 1) & mask
	}
	t.slots[j] = int32(i + 1)
}

// del deletes k.
func (t *table[K, V]) del(k K) {
	i := t.find(k)
	if i < 0 {
		return
	}
	last := len(t.keys) - 1
	if t.slots != nil {
		t.unslot(t.slotOf(k))
		if i != last {
			t.slots[t.slotOf(t.keys[last])] = int32(i + 1)
		}
	}
	var zero V
	t.keys[i], t.vals[i] = t.keys[last], t.vals[last]
	t.vals[last] = zero
	t.keys, t.vals = t.keys[:last], t.vals[:last]
	if t.slots != nil && len(t.keys) <= tableScan/2 {
		t.slots = nil // small again: a fresh index if it grows
	}
}

// unslot empties slot p, moving back the entries after it that would
// no longer be found (linear probing's deletion, which leaves no
// tombstone).
func (t *table[K, V]) unslot(p int) {
	mask := len(t.slots) - 1
	for j := (p + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		h := t.home(t.keys[t.slots[j]-1])
		// Entry at j may move to p if its home is not in (p, j]
		// cyclically.
		if (j > p && (h <= p || h > j)) || (j < p && h <= p && h > j) {
			t.slots[p] = t.slots[j]
			p = j
		}
	}
	t.slots[p] = 0
}

func (t *table[K, V]) len() int { return len(t.keys) }

// reset empties t, keeping its memory.
func (t *table[K, V]) reset() {
	clear(t.vals)
	t.keys, t.vals, t.slots = t.keys[:0], t.vals[:0], nil
}
