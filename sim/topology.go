package sim

import (
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// Topology places N nodes in zones and racks the way the fleet benchmark
// does (node i: zone i mod Zones, rack (i / Zones) mod Racks) and gives
// the one-way latency between two nodes by how near they are.
type Topology struct {
	N, Zones, Racks int // Racks: per zone
	// Rack, Zone and Cross are the one-way latencies within a rack,
	// within a zone, and between zones.
	Rack, Zone, Cross time.Duration
}

// ZoneOf and RackOf place node i (rack is a global index).
func (t Topology) ZoneOf(i int32) int32 { return i % int32(t.Zones) }

// RackOf is node i's rack as a global index (zone*Racks + rack).
func (t Topology) RackOf(i int32) int32 {
	return t.ZoneOf(i)*int32(t.Racks) + (i/int32(t.Zones))%int32(t.Racks)
}

// Names are node i's zone and rack as the agents' labels.
func (t Topology) Names(i int32) (zone, rack string) {
	return fmt.Sprintf("az%d", t.ZoneOf(i)+1), fmt.Sprintf("r%d", (i/int32(t.Zones))%int32(t.Racks)+1)
}

// Prox is policy.Proximity between nodes a and b.
func (t Topology) Prox(a, b int32) int {
	switch {
	case t.RackOf(a) == t.RackOf(b):
		return 0
	case t.ZoneOf(a) == t.ZoneOf(b):
		return 1
	}
	return 2
}

// Latency is the one-way latency from a to b.
func (t Topology) Latency(a, b int32) time.Duration {
	return [3]time.Duration{t.Rack, t.Zone, t.Cross}[t.Prox(a, b)]
}

// RTT is what gossip's probes measure between a and b.
func (t Topology) RTT(a, b int32) time.Duration { return 2 * t.Latency(a, b) }

// Placement is where an upload through node uploader puts R durable
// copies: the uploader and policy.SpreadPick over the others, as the
// agents' ingest does.
func (t Topology) Placement(uploader int32, r int, rng policy.Rand) []int32 {
	var cands []int32
	for i := int32(0); i < int32(t.N); i++ {
		if i != uploader {
			cands = append(cands, i)
		}
	}
	loc := func(i int32) (string, string) { return t.Names(i) }
	return append([]int32{uploader}, policy.SpreadPick(r-1, cands, []int32{uploader}, loc, rng)...)
}

// RacksFor returns how many racks per zone hold perRack nodes each.
func RacksFor(n, zones, perRack int) int { return max(1, (n+zones*perRack-1)/(zones*perRack)) }
