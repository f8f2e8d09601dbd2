package sim

import (
	"math"
	"sort"
	"time"
)

// Gossip is how announcements of held chunks spread (memberlist's
// broadcasts, package gossip): every node gossips every Interval to
// Fanout random nodes, so an announcement reaches about (1+Fanout)^k
// nodes after k hops, each hop waiting for the sender's next gossip
// tick. Off: no cached copy is ever learned through gossip (only the
// durable holders, and the nodes named in busy answers), the bound for a
// fleet whose gossip cannot keep up.
type Gossip struct {
	Interval time.Duration
	Fanout   int
	Off      bool
}

// never is "not announced".
const never = time.Duration(math.MaxInt64)

// view is who holds which chunk and, for each node, which of those it
// knows of at a given time: an announcement made at t by origin reaches
// observer at t + delay(origin, chunk, observer), a deterministic
// function of the seed.
type view struct {
	topo    Topology
	g       Gossip
	seed    uint64
	chunks  int
	durable []bool

	holders [][]int32         // per chunk, in announce order
	times   [][]time.Duration // per chunk, the announce times (parallel)
	byRack  [][][]int32       // per chunk, per global rack
	byZone  [][][]int32       // per chunk, per zone
	got     []time.Duration   // node*chunks+chunk: announced at (never: not)
	offset  []time.Duration   // each node's gossip tick phase
	kmax    int
	maxLag  time.Duration
	// gen[k] is the share of nodes an epidemic has reached after k+1
	// hops: ((1+Fanout)^(k+1) - 1) / (N - 1).
	gen []float64
}

func newView(topo Topology, g Gossip, chunks int, seed uint64) *view {
	v := &view{topo: topo, g: g, seed: seed, chunks: chunks, durable: make([]bool, topo.N),
		holders: make([][]int32, chunks), times: make([][]time.Duration, chunks),
		byRack: make([][][]int32, chunks), byZone: make([][][]int32, chunks),
		got: make([]time.Duration, topo.N*chunks), offset: make([]time.Duration, topo.N)}
	for c := range chunks {
		v.byRack[c] = make([][]int32, topo.Zones*topo.Racks)
		v.byZone[c] = make([][]int32, topo.Zones)
	}
	for i := range v.got {
		v.got[i] = never
	}
	if g.Interval > 0 {
		for i := range v.offset {
			v.offset[i] = time.Duration(unit(mix(seed, uint64(i), 0xfeed, 0)) * float64(g.Interval))
		}
	}
	fan := float64(max(1, g.Fanout))
	v.kmax = max(1, int(math.Ceil(math.Log(float64(topo.N))/math.Log(1+fan))))
	for k := 1; k <= v.kmax; k++ {
		v.gen = append(v.gen, (math.Pow(1+fan, float64(k))-1)/float64(max(1, topo.N-1)))
	}
	v.maxLag = time.Duration(v.kmax)*(g.Interval+max(topo.Rack, topo.Zone, topo.Cross)) + time.Nanosecond
	return v
}

// announce records that node holds chunk c from now.
func (v *view) announce(node int32, c int, now time.Duration) {
	v.got[int(node)*v.chunks+c] = now
	v.holders[c] = append(v.holders[c], node)
	v.times[c] = append(v.times[c], now)
	r, z := v.topo.RackOf(node), v.topo.ZoneOf(node)
	v.byRack[c][r] = append(v.byRack[c][r], node)
	v.byZone[c][z] = append(v.byZone[c][z], node)
}

// visible reports whether obs knows at now that node holds chunk c.
func (v *view) visible(obs, node int32, c int, now time.Duration) bool {
	t := v.got[int(node)*v.chunks+c]
	switch {
	case t == never:
		return false
	case node == obs || v.durable[node]:
		return true
	case v.g.Off:
		return false
	case now-t >= v.maxLag:
		return true
	}
	return now >= t+v.delay(node, c, obs, t)
}

// delay is how long origin's announcement of chunk c, made at t, takes
// to reach obs: to origin's next gossip tick, then one hop per
// generation of the epidemic obs is in (generation k holds about
// (1+Fanout)^k nodes), each hop waiting a uniform part of an interval
// for the relay's next tick, plus the wire.
func (v *view) delay(origin int32, c int, obs int32, t time.Duration) time.Duration {
	iv := v.g.Interval
	var d time.Duration
	if iv > 0 {
		d = (v.offset[origin] - t%iv + iv) % iv
	}
	h := mix(v.seed, uint64(origin), uint64(c), uint64(obs))
	// obs's generation: the first whose reach covers its place.
	u, k := unit(h), 1
	for k < v.kmax && u > v.gen[k-1] {
		k++
	}
	for range k - 1 {
		h = mix(h, 1, 2, 3)
		d += time.Duration(unit(h) * float64(iv))
	}
	return d + time.Duration(k)*v.topo.Latency(origin, obs)
}

// count is how many holders of chunk c obs knows of at now (what the
// agents' rarest-first counts): every announcement older than the
// longest gossip lag, plus those of the newer ones that reached obs —
// each checked when there are up to sampleMax of them, else estimated
// from sampleMax spread evenly over them.
func (v *view) count(obs int32, c int, now time.Duration) int {
	if v.g.Off {
		n := 0
		for _, h := range v.holders[c] {
			if v.visible(obs, h, c, now) {
				n++
			}
			if !v.durable[h] && h != obs {
				break // durable holders announce first; no cached copy is known
			}
		}
		return n
	}
	ts := v.times[c]
	old := sort.Search(len(ts), func(i int) bool { return now-ts[i] < v.maxLag })
	recent := v.holders[c][old:]
	if len(recent) == 0 {
		return old
	}
	if len(recent) <= sampleMax {
		n := old
		for _, h := range recent {
			if v.visible(obs, h, c, now) {
				n++
			}
		}
		return n
	}
	seen := 0
	for i := range sampleMax {
		if v.visible(obs, recent[i*len(recent)/sampleMax], c, now) {
			seen++
		}
	}
	return old + seen*len(recent)/sampleMax
}

const sampleMax = 64

// mix hashes its inputs (splitmix64 steps).
func mix(a, b, c, d uint64) uint64 {
	h := a ^ 0x9e3779b97f4a7c15
	for _, x := range []uint64{b, c, d} {
		h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// GossipSpread is how long, on average over announcements, the gossip
// model takes to tell every one of topo's nodes (what gossip's
// BenchmarkSpread measures on real memberlist nodes).
func GossipSpread(topo Topology, g Gossip, announcements int, seed uint64) time.Duration {
	v := newView(topo, g, announcements, seed)
	var total time.Duration
	for c := range announcements {
		origin := int32(c % topo.N)
		at := time.Duration(c) * 37 * time.Millisecond // any phase
		var last time.Duration
		for o := int32(0); o < int32(topo.N); o++ {
			if o != origin {
				last = max(last, v.delay(origin, c, o, at))
			}
		}
		total += last
	}
	return total / time.Duration(max(1, announcements))
}
