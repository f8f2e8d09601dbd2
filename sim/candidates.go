package sim

import (
	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// candidates are the holders of chunk c node a ranks for a round, as
// transfer's fetch does (policy.Candidate): the holders its trackers'
// answer names (tracker.Holders) and the image's durable holders (the
// catalog's placement).
func (d *delivery) candidates(a int32, c int, cs []policy.Candidate[int32]) []policy.Candidate[int32] {
	ag := &d.agents[a]
	nowT := d.now()
	d.stamp++
	d.mark[a] = d.stamp
	add := func(id int32) {
		if d.mark[id] == d.stamp {
			return
		}
		d.mark[id] = d.stamp
		cs = append(cs, policy.Candidate[int32]{Item: id, Prox: d.prox(a, id), Durable: d.agents[id].durable,
			Load: ag.stats.Load(id, nowT), RTT: 2 * d.lat(a, id)})
	}
	for _, id := range d.hold.ans[a] {
		if d.hold.has(a, id, c) {
			add(id)
		}
	}
	for _, p := range d.placement {
		add(p)
	}
	return cs
}
