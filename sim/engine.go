package sim

import "time"

// Event is one thing that happens at a virtual time. Kind and the
// arguments mean what the model that scheduled it says; Ver lets a model
// drop an event it has superseded (a flow whose rate changed has a new
// completion event; the old one carries a stale version).
type Event struct {
	At   time.Duration
	seq  uint64
	Kind uint8
	A, B int32
	C    int32
	Ver  uint32
}

// Clock is the discrete-event core: a virtual clock and a queue of
// events, run in time order (ties in the order they were scheduled), so
// a run is a function of its inputs and seed.
type Clock struct {
	now    time.Duration
	seq    uint64
	q      eventHeap
	events uint64
}

// Now is the virtual time.
func (c *Clock) Now() time.Duration { return c.now }

// Events is how many events have run.
func (c *Clock) Events() uint64 { return c.events }

// At schedules ev at virtual time t (never before now).
func (c *Clock) At(t time.Duration, ev Event) {
	ev.At = max(t, c.now)
	c.seq++
	ev.seq = c.seq
	c.q.push(ev)
}

// After schedules ev d from now.
func (c *Clock) After(d time.Duration, ev Event) { c.At(c.now+d, ev) }

// Run hands every event to handle in time order until none is left,
// stop returns true, or the clock passes limit (0: none). It returns
// false if it stopped at the limit.
func (c *Clock) Run(handle func(Event), stop func() bool, limit time.Duration) bool {
	for len(c.q) > 0 {
		if stop != nil && stop() {
			return true
		}
		ev := c.q.pop()
		if limit > 0 && ev.At > limit {
			c.now = limit
			return false
		}
		c.now = ev.At
		c.events++
		handle(ev)
	}
	return true
}

// eventHeap is a binary min-heap of events by (At, seq), typed so
// events are never boxed.
type eventHeap []Event

func (h eventHeap) less(i, j int) bool {
	if h[i].At != h[j].At {
		return h[i].At < h[j].At
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(ev Event) {
	*h = append(*h, ev)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *eventHeap) pop() Event {
	q := *h
	ev := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return ev
}
