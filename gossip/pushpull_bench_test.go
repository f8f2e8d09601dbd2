package gossip

import (
	"fmt"
	"testing"
)

// BenchmarkPushPullHoldings measures the holdings part of one push/pull:
// a node's whole view encoded by the sender, then decoded and merged by
// the receiver, for N nodes holding K whole images each (reported as
// the view's size in KiB). Run with
// go test ./gossip -run '^$' -bench PushPullHoldings -benchtime 5x.
func BenchmarkPushPullHoldings(b *testing.B) {
	const self = "node-0000-xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	for _, c := range []struct{ n, k int }{{20, 15}, {300, 100}, {1000, 100}} {
		b.Run(fmt.Sprintf("N=%d/images=%d", c.n, c.k), func(b *testing.B) {
			st := newState()
			v := uint64(0)
			for o := range c.n {
				origin := fmt.Sprintf("node-%04d-xxxxxxxxxxxxxxxxxxxxxxxxxxxx", o)
				for i := range c.k {
					v++
					img := fmt.Sprintf("%08d-aaaa-bbbb-cccc-dddddddddddd", (o*7+i*13)%(c.n*c.k/3+1))
					st.localAnnounce(origin, img, 50, nil, true, v)
				}
			}
			all := func(string) bool { return true }
			size := len(st.encodeSnapshot(self, v, all))
			b.ResetTimer()
			for range b.N {
				snap, err := decodeSnapshot(st.encodeSnapshot(self, v, all))
				if err != nil {
					b.Fatal(err)
				}
				newState().merge(snap, "other", all)
			}
			b.ReportMetric(float64(size)/1024, "KiB")
		})
	}
}
