package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkSpread measures how long one holdings announcement takes to
// reach every node of a 40-node cluster on loopback, with production
// timers but for the gossip interval (memberlist's LAN 200ms, the
// default 500ms, 1s), reported as ms-to-all. Run with
// go test ./gossip -run '^$' -bench Spread -benchtime 10x.
func BenchmarkSpread(b *testing.B) {
	const n = 40
	for _, interval := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("interval=%v", interval), func(b *testing.B) {
			var nodes []*Gossip
			var ids []string
			for i := range n {
				cfg := testConfig(fmt.Sprintf("n%02d", i))
				cfg.Timing = Timing{GossipInterval: interval}
				g, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = g.Shutdown() })
				if i > 0 {
					if _, err := g.Join(b.Context(), []string{nodes[0].Addr()}); err != nil {
						b.Fatal(err)
					}
				}
				nodes = append(nodes, g)
				ids = append(ids, cfg.Meta.ID)
			}
			deadline := time.Now().Add(time.Minute)
			for _, g := range nodes {
				for !slices.Equal(aliveIDs(g), ids) {
					if time.Now().After(deadline) {
						b.Fatal("membership did not converge")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				img := fmt.Sprintf("img-%d", i)
				origin := nodes[i%n]
				start := time.Now()
				origin.AnnounceAll(img, 10)
				for _, g := range nodes {
					for !slices.Equal(g.Holders(img, 0), []string{origin.self}) {
						if time.Since(start) > time.Minute {
							b.Fatal("announcement did not spread")
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-all")
		})
	}
}
