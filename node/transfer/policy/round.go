package policy

// Round is one pass of a requester over a chunk's holders: the ranked
// candidates in [Order], except that the nodes a refusing holder named
// come next (the last refusal's first, each refusal's names in reverse),
// and no node is asked twice. A round ends when a holder serves the
// chunk or none is left; [Round.AllBusy] then says whether every node
// asked refused for lack of slots or origin protection (wait and ask
// again) rather than failing.
type Round[ID comparable, T any] struct {
	order *Order[T]
	id    func(T) ID
	hints []T // a stack
	tried idSet[ID]
	busy  int
}

// NewRound starts a round over order; id names a candidate.
func NewRound[ID comparable, T any](order *Order[T], id func(T) ID) *Round[ID, T] {
	return &Round[ID, T]{order: order, id: id}
}

// Reset starts a new round over order, reusing r's memory.
func (r *Round[ID, T]) Reset(order *Order[T]) {
	r.order, r.hints, r.busy = order, r.hints[:0], 0
	r.tried.reset()
}

// Next returns the next node to ask.
func (r *Round[ID, T]) Next() (T, bool) {
	for len(r.hints) > 0 {
		m := r.hints[len(r.hints)-1]
		r.hints = r.hints[:len(r.hints)-1]
		if r.tried.add(r.id(m)) {
			return m, true
		}
	}
	for {
		m, ok := r.order.Next()
		if !ok {
			return m, false
		}
		if r.tried.add(r.id(m)) {
			return m, true
		}
	}
}

// Refused records that the node last asked refused (busy or origin
// protection) and named try (usable nodes, as the caller filtered them):
// those not asked yet come next.
func (r *Round[ID, T]) Refused(try []T) {
	r.busy++
	for _, m := range try {
		if !r.tried.has(r.id(m)) {
			r.hints = append(r.hints, m)
		}
	}
}

// Busy returns how many nodes refused.
func (r *Round[ID, T]) Busy() int { return r.busy }

// AllBusy reports whether every node asked refused (and one was asked).
func (r *Round[ID, T]) AllBusy() bool { return r.busy > 0 && r.busy == r.tried.len() }

// idSet is a set of ids.
type idSet[ID comparable] struct{ t table[ID, struct{}] }

func (s *idSet[ID]) has(id ID) bool { return s.t.find(id) >= 0 }

// add adds id and reports whether it was new.
func (s *idSet[ID]) add(id ID) bool {
	if s.has(id) {
		return false
	}
	s.t.ptr(id)
	return true
}

func (s *idSet[ID]) len() int { return s.t.len() }

func (s *idSet[ID]) reset() { s.t.reset() }
