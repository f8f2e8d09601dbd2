package sim

import (
	"math"
	"testing"
	"time"
)

// runFlows starts flows at time 0 (each a [src, dst, bytes] triple),
// or, with chain, each when the one before it ends, and returns when
// each ended.
func runFlows(links []Link, flows [][3]int, chain bool) []time.Duration {
	var clk Clock
	ends := make([]time.Duration, len(flows))
	var net *Net
	net = NewNet(&clk, links, func(_, _ int32, _ float64, tag Tag) {
		ends[tag.A] = clk.Now()
		if next := int(tag.A) + 1; chain && next < len(flows) {
			f := flows[next]
			net.Start(int32(f[0]), int32(f[1]), float64(f[2]), Tag{A: int32(next)})
		}
	})
	for i, f := range flows {
		net.Start(int32(f[0]), int32(f[1]), float64(f[2]), Tag{A: int32(i)})
		if chain {
			break
		}
	}
	clk.Run(net.Handle, nil, 0)
	return ends
}

func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("%s: %s, want %s", what, got, want)
	}
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// TestOneLink: bytes over one capped uplink take bytes/B; a full bucket
// first sends at the wire speed until it is empty.
func TestOneLink(t *testing.T) {
	const mib = 1 << 20
	capped := []Link{{Wire: 100 * mib, Up: 2 * mib}, {Wire: 100 * mib}}
	near(t, "no burst", runFlows(capped, [][3]int{{0, 1, 8 * mib}}, false)[0], 4*time.Second)

	burst := []Link{{Wire: 10 * mib, Up: 2 * mib, UpBurst: 4 * mib}, {Wire: 10 * mib}}
	// The bucket empties after 4/(10-2) = 0.5 s, having sent 5 MiB; the
	// other 3 MiB take 1.5 s at 2 MiB/s.
	near(t, "burst", runFlows(burst, [][3]int{{0, 1, 8 * mib}}, false)[0], 2*time.Second)

	// A download cap binds the same way.
	down := []Link{{Wire: 100 * mib}, {Wire: 100 * mib, Down: 4 * mib}}
	near(t, "download cap", runFlows(down, [][3]int{{0, 1, 8 * mib}}, false)[0], 2*time.Second)
}

// TestSharedUplink: two flows from one capped uplink share it equally;
// when one ends, the other gets it all.
func TestSharedUplink(t *testing.T) {
	const mib = 1 << 20
	links := []Link{{Wire: 100 * mib, Up: 2 * mib}, {Wire: 100 * mib}, {Wire: 100 * mib}}
	ends := runFlows(links, [][3]int{{0, 1, 2 * mib}, {0, 2, 4 * mib}}, false)
	// Both at 1 MiB/s until the first ends at 2 s; then 2 MiB/s for the
	// remaining 2 MiB: 1 s more.
	near(t, "short flow", ends[0], 2*time.Second)
	near(t, "long flow", ends[1], 3*time.Second)
	// Two uplinks into one capped downlink: each gets half of it.
	in := []Link{{Wire: 100 * mib, Up: 8 * mib}, {Wire: 100 * mib, Up: 8 * mib}, {Wire: 100 * mib, Down: 4 * mib}}
	ends = runFlows(in, [][3]int{{0, 2, 4 * mib}, {1, 2, 4 * mib}}, false)
	near(t, "shared downlink", ends[1], 2*time.Second)
}

// TestChain: a store-and-forward chain of k hops takes k times one hop.
func TestChain(t *testing.T) {
	const mib = 1 << 20
	var links []Link
	var flows [][3]int
	for i := range 5 {
		links = append(links, Link{Wire: 100 * mib, Up: 4 * mib})
		if i > 0 {
			flows = append(flows, [3]int{i - 1, i, 2 * mib})
		}
	}
	ends := runFlows(links, flows, true)
	for i, e := range ends {
		near(t, "hop", e, seconds(0.5*float64(i+1)))
	}
}
