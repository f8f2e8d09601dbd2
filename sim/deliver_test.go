package sim

import (
	"slices"
	"testing"
	"time"
)

const mib = 1 << 20

// bare is a delivery with no latency, no costs and no bursts: every
// figure is bytes over bandwidth.
func bare(n, r int) Delivery {
	return Delivery{
		Topology: Topology{N: n, Zones: 3, Racks: 2},
		Size:     32 * mib, Chunk: mib, Replicas: r,
		Link:  Link{Wire: 1000 * mib, Up: 2 * mib},
		Slots: 2, Window: 4,
		Holders: bareHolders(),
		Seed:    1,
	}
}

// bareHolders are nodetest's holder timers with lookups free.
func bareHolders() Holders {
	h := TestHolders()
	h.LookupCost = 0
	return h
}

func deliver(t *testing.T, cfg Delivery) *DeliveryResult {
	t.Helper()
	r, err := Deliver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete {
		t.Fatalf("delivery incomplete after %s", cfg.Limit)
	}
	return r
}

// TestDeliverOneLink: one holder, one fetcher: the image takes S/B, to
// the nanosecond per chunk. (A stream with more chunks in its window
// than the holder has slots would not: the chunks refused wait their
// back-off while the window cannot move past them.)
func TestDeliverOneLink(t *testing.T) {
	for _, boot := range []bool{false, true} {
		cfg := bare(2, 1)
		cfg.Boot = boot
		if boot {
			cfg.Slots = cfg.Window
		}
		r := deliver(t, cfg)
		if d := r.Done[0] - 16*time.Second; d < 0 || d > 32*time.Nanosecond {
			t.Fatalf("boot %v: delivered in %s, want S/B = 16s", boot, r.Done[0])
		}
		if r.ServedDurable != 32*mib || r.ServedOthers != 0 {
			t.Fatalf("served %v by the holder, %v by others", r.ServedDurable, r.ServedOthers)
		}
	}
}

// TestSingleOriginIsRBound: with NoCache only the R holders serve, so
// N-R fetchers take (N-R) x S / (R x B) (plus at most a chunk's worth
// of imbalance and a busy pause at the end), and the holders serve
// exactly (N-R) x S.
func TestSingleOriginIsRBound(t *testing.T) {
	cfg := bare(8, 2)
	cfg.NoCache = true
	cfg.ReqCost = 200 * time.Microsecond
	r := deliver(t, cfg)
	last := slices.Max(r.Done)
	ideal := 3 * 16 * time.Second // 6 x 32 MiB over 2 x 2 MiB/s
	if last < ideal || last > ideal+time.Second/2+250*time.Millisecond {
		t.Fatalf("single origin delivered in %s, want %s", last, ideal)
	}
	if r.ServedDurable != 6*32*mib || r.ServedOthers != 0 {
		t.Fatalf("holders served %v, others %v", r.ServedDurable/mib, r.ServedOthers/mib)
	}
}

// TestSwarmBandwidthBound: peers serving what they fetched beat the
// single origin by far, never beat the fleet's total upload capacity,
// and origin protection keeps the holders near R x S.
func TestSwarmBandwidthBound(t *testing.T) {
	cfg := bare(24, 3)
	cfg.ReqCost = 200 * time.Microsecond // a request costs something: no storm of refusals in no time
	r := deliver(t, cfg)
	last := slices.Max(r.Done)
	// 21 x S must cross 24 uplinks of B: at least 21/24 S/B.
	if bound := time.Duration(float64(16*time.Second) * 21 / 24); last < bound {
		t.Fatalf("delivered in %s, under the capacity bound %s", last, bound)
	}
	if last > 24*time.Second {
		t.Fatalf("delivered in %s, want near S/B (16s)", last)
	}
	if r.ServedDurable > 3*32*mib+r.LastResort {
		t.Fatalf("holders served %.2f S (last resort %.2f S), want <= 3 S plus last resorts", r.ServedDurable/(32*mib), r.LastResort/(32*mib))
	}
	if r.ServedDurable+r.ServedOthers != 21*32*mib {
		t.Fatalf("served %v bytes in all, want %v", r.ServedDurable+r.ServedOthers, 21*32*mib)
	}
}

// TestDeterministic: the same seed gives the same run; another seed a
// different one.
func TestDeterministic(t *testing.T) {
	cfg := bare(20, 3)
	cfg.Topology.Rack, cfg.Topology.Zone, cfg.Cross = 50*time.Microsecond, 200*time.Microsecond, time.Millisecond
	cfg.ReqCost, cfg.ChunkCost, cfg.StartJitter = 100*time.Microsecond, time.Millisecond, 50*time.Millisecond
	a, b := deliver(t, cfg), deliver(t, cfg)
	if !slices.Equal(a.Done, b.Done) || a.Requests != b.Requests || a.Events != b.Events {
		t.Fatal("two runs with one seed differ")
	}
	cfg.Seed = 2
	if c := deliver(t, cfg); slices.Equal(a.Done, c.Done) {
		t.Fatal("two seeds gave the same run")
	}
}

func TestDeliverRefusesBadConfig(t *testing.T) {
	cfg := bare(3, 3)
	if _, err := Deliver(cfg); err == nil {
		t.Fatal("replicas = N accepted")
	}
}
