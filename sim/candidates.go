package sim

import (
	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// candidates are the holders of chunk c node a knows of now, as
// transfer's fetch ranks them (policy.Candidate): every one, or with
// PerClass a bounded set that ranks the same way (see Delivery.PerClass).
func (d *delivery) candidates(a int32, c int, cs []policy.Candidate[int32]) []policy.Candidate[int32] {
	ag := &d.agents[a]
	now, nowT := d.clk.now, d.now()
	d.stamp++
	d.mark[a] = d.stamp
	add := func(id int32) bool {
		if d.mark[id] == d.stamp || !d.view.visible(a, id, c, now) {
			return false
		}
		d.mark[id] = d.stamp
		cs = append(cs, policy.Candidate[int32]{Item: id, Prox: d.prox(a, id), Durable: d.view.durable[id],
			Load: ag.stats.Load(id, nowT), RTT: 2 * d.lat(a, id)})
		return true
	}
	if d.cfg.PerClass <= 0 {
		for _, h := range d.view.holders[c] {
			add(h)
		}
		return cs
	}
	for _, p := range d.placement {
		add(p)
	}
	// Nodes whose load is not zero (fetches in flight, busy lately) rank
	// apart from their class: all of them, with their load.
	d.rstamp++
	kept := ag.recent[:0]
	for _, id := range ag.recent {
		if d.rmark[id] != d.rstamp && ag.stats.Load(id, nowT) != 0 {
			d.rmark[id] = d.rstamp
			kept = append(kept, id)
			add(id)
		}
	}
	ag.recent = kept
	// The rest rank by class alone, random within it: a random few of
	// each class rank as the first few of all of it would.
	k := d.cfg.PerClass
	zone, rack := d.zone[a], d.rack[a]
	all := func(int32) bool { return true }
	d.sample(d.view.byRack[c][rack:rack+1], k, all, add)
	d.sample(d.view.byZone[c][zone:zone+1], k, func(id int32) bool { return d.rack[id] != rack }, add)
	others := d.others[:0]
	for z, l := range d.view.byZone[c] {
		if int32(z) != zone {
			others = append(others, l)
		}
	}
	d.others = others
	d.sample(others, k, all, add)
	return cs
}

// sample adds random members of the lists (taken together) that pass
// keep: every one when there are at most 2k, else up to k of at most 4k
// random draws.
func (d *delivery) sample(lists [][]int32, k int, keep func(int32) bool, add func(int32) bool) {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	if total <= 2*k {
		for _, l := range lists {
			for _, id := range l {
				if keep(id) {
					add(id)
				}
			}
		}
		return
	}
	added := 0
	for range 4 * k {
		if added == k {
			return
		}
		i := d.rng.IntN(total)
		for _, l := range lists {
			if i < len(l) {
				if keep(l[i]) && add(l[i]) {
					added++
				}
				break
			}
			i -= len(l)
		}
	}
}
