package sim

import (
	"math"
	"time"
)

// Link is a node's network attachment: Wire is the link speed (bytes
// per second), Up and Down the token-bucket caps on what it sends and
// receives (0: only the wire), refilled at that rate with a depth of
// UpBurst and DownBurst bytes (policy.Burst in the agents).
type Link struct {
	Wire               float64
	Up, Down           float64
	UpBurst, DownBurst float64
}

// Tag is what a model attaches to a flow, to know it again when it ends.
type Tag struct{ A, B, C int32 }

// Event kinds the network uses; models use kinds from kindModel on.
const (
	kindFlowDone uint8 = iota + 1
	kindTokens
	kindModel
)

// bucketPiece is the token-bucket granularity: a capped sender bursts
// again once it has saved this many bytes (the agents' limiter paces in
// 64 KiB pieces).
const bucketPiece = 64 << 10

// Net carries flows between nodes as fluids: every node has an up port
// and a down port; the flows through a port share its capacity equally
// (the wire while its token bucket holds bytes, then the cap), and a
// flow runs at the smaller of its two shares. Rates are recomputed
// whenever a flow starts or ends or a bucket empties or refills, so
// every byte is accounted for exactly between events.
type Net struct {
	clk   *Clock
	ports []port
	flows []flow
	free  []int32
	done  func(src, dst int32, bytes float64, tag Tag)

	aff     []int32 // scratch: flows whose rate is recomputed
	touched []int32 // scratch: ports whose buckets are rescheduled
}

type port struct {
	rate, burst, wire float64
	tokens            float64
	at                time.Duration
	bursting          bool
	flows             []int32
	use               float64 // sum of its flows' rates
	ver               uint32
}

type flow struct {
	src, dst  int32 // nodes
	bytes     float64
	remaining float64
	rate      float64
	at        time.Duration
	ver       uint32
	live      bool
	tag       Tag
}

// NewNet builds the network of len(links) nodes; done is called when a
// flow's last byte has left its sender.
func NewNet(clk *Clock, links []Link, done func(src, dst int32, bytes float64, tag Tag)) *Net {
	n := &Net{clk: clk, ports: make([]port, 2*len(links)), done: done}
	for i, l := range links {
		n.ports[2*i] = port{rate: l.Up, burst: l.UpBurst, wire: l.Wire, tokens: l.UpBurst}
		n.ports[2*i+1] = port{rate: l.Down, burst: l.DownBurst, wire: l.Wire, tokens: l.DownBurst}
	}
	return n
}

func up(node int32) int32   { return 2 * node }
func down(node int32) int32 { return 2*node + 1 }

// Start sends bytes from src to dst now.
func (n *Net) Start(src, dst int32, bytes float64, tag Tag) {
	var id int32
	if k := len(n.free); k > 0 {
		id = n.free[k-1]
		n.free = n.free[:k-1]
	} else {
		n.flows = append(n.flows, flow{})
		id = int32(len(n.flows) - 1)
	}
	u, d := up(src), down(dst)
	n.sync(u, d)
	f := &n.flows[id]
	*f = flow{src: src, dst: dst, bytes: bytes, remaining: bytes, at: n.clk.now, ver: f.ver + 1, live: true, tag: tag}
	for _, p := range []int32{u, d} {
		pp := &n.ports[p]
		if len(pp.flows) == 0 {
			pp.bursting = pp.rate > 0 && pp.tokens >= min(pp.burst, bucketPiece)
		}
		pp.flows = append(pp.flows, id)
	}
	n.aff = append(n.aff, id)
	n.reshare()
}

// Handle runs the network's events (kinds below kindModel).
func (n *Net) Handle(ev Event) {
	switch ev.Kind {
	case kindFlowDone:
		f := &n.flows[ev.A]
		if !f.live || f.ver != ev.Ver {
			return
		}
		u, d := up(f.src), down(f.dst)
		n.sync(u, d)
		src, dst, bytes, tag := f.src, f.dst, f.bytes, f.tag
		n.detach(u, ev.A)
		n.detach(d, ev.A)
		f.live = false
		f.ver++
		n.free = append(n.free, ev.A)
		n.reshare()
		n.done(src, dst, bytes, tag)
	case kindTokens:
		p := &n.ports[ev.A]
		if p.ver != ev.Ver {
			return
		}
		n.sync(ev.A, -1)
		p.bursting = !p.bursting
		if !p.bursting {
			p.tokens = 0
		}
		n.reshare()
	}
}

// sync brings the flows through ports a and b (b may be -1) and every
// port they touch up to now, and lists them for reshare.
func (n *Net) sync(a, b int32) {
	n.aff, n.touched = n.aff[:0], n.touched[:0]
	for _, p := range []int32{a, b} {
		if p < 0 {
			continue
		}
		n.touch(p)
		for _, id := range n.ports[p].flows {
			if !containsID(n.aff, id) {
				n.aff = append(n.aff, id)
			}
		}
	}
	now := n.clk.now
	for _, id := range n.aff {
		f := &n.flows[id]
		f.remaining = max(0, f.remaining-f.rate*(now-f.at).Seconds())
		f.at = now
		n.touch(up(f.src))
		n.touch(down(f.dst))
	}
}

// touch brings a port's bucket up to now (once per change).
func (n *Net) touch(p int32) {
	if containsID(n.touched, p) {
		return
	}
	n.touched = append(n.touched, p)
	pp := &n.ports[p]
	if pp.rate > 0 {
		dt := (n.clk.now - pp.at).Seconds()
		pp.tokens = math.Min(pp.burst, math.Max(0, pp.tokens+(pp.rate-pp.use)*dt))
	}
	pp.at = n.clk.now
}

func (n *Net) detach(p int32, id int32) {
	pp := &n.ports[p]
	for i, x := range pp.flows {
		if x == id {
			pp.flows[i] = pp.flows[len(pp.flows)-1]
			pp.flows = pp.flows[:len(pp.flows)-1]
			break
		}
	}
	pp.use = max(0, pp.use-n.flows[id].rate)
	if len(pp.flows) == 0 {
		pp.use = 0
	}
}

func (p *port) capacity() float64 {
	if p.rate <= 0 || p.bursting {
		return p.wire
	}
	return p.rate
}

// reshare gives the synced flows their new rates and reschedules their
// completions and the touched ports' buckets.
func (n *Net) reshare() {
	now := n.clk.now
	for _, id := range n.aff {
		f := &n.flows[id]
		if !f.live {
			continue
		}
		u, d := &n.ports[up(f.src)], &n.ports[down(f.dst)]
		r := math.Min(u.capacity()/float64(len(u.flows)), d.capacity()/float64(len(d.flows)))
		if r == f.rate {
			continue // its completion event stands
		}
		u.use += r - f.rate
		d.use += r - f.rate
		f.rate = r
		f.ver++
		n.clk.At(now+secs(f.remaining/f.rate), Event{Kind: kindFlowDone, A: id, Ver: f.ver})
	}
	for _, p := range n.touched {
		n.schedBucket(p)
	}
	n.aff, n.touched = n.aff[:0], n.touched[:0]
}

// schedBucket schedules when a capped port's bucket empties (while it
// bursts) or saves a piece again (while its flows leave capacity
// unused).
func (n *Net) schedBucket(p int32) {
	pp := &n.ports[p]
	pp.ver++
	if pp.rate <= 0 || len(pp.flows) == 0 {
		return
	}
	var dt float64
	switch {
	case pp.bursting && pp.use > pp.rate:
		dt = pp.tokens / (pp.use - pp.rate)
	case !pp.bursting && pp.use < pp.rate*(1-1e-9):
		dt = (min(pp.burst, bucketPiece) - pp.tokens) / (pp.rate - pp.use)
	default:
		return
	}
	n.clk.At(n.clk.now+secs(dt), Event{Kind: kindTokens, A: p, Ver: pp.ver})
}

// secs converts seconds to a duration, rounding up to the nanosecond.
func secs(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	if s > 1e9 {
		return time.Duration(math.MaxInt64 / 2)
	}
	return time.Duration(math.Ceil(s * 1e9))
}

func containsID(s []int32, x int32) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
