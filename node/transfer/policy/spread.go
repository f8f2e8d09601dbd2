package policy

// SpreadPick chooses up to k of cands for durable copies, given the nodes
// already holding copies (used): zones not yet used first, then racks not
// yet used, random among equals, so copies spread across failure
// domains. loc gives a node's zone and rack.
func SpreadPick[T any](k int, cands, used []T, loc func(T) (zone, rack string), rng Rand) []T {
	usedZones := map[string]bool{}
	usedRacks := map[string]bool{}
	for _, m := range used {
		z, r := loc(m)
		usedZones[z] = true
		usedRacks[z+"/"+r] = true
	}
	cands = append([]T(nil), cands...)
	Shuffle(rng, cands)
	score := func(m T) int {
		z, r := loc(m)
		s := 0
		if !usedZones[z] {
			s += 2
		}
		if !usedRacks[z+"/"+r] {
			s++
		}
		return s
	}
	var out []T
	for len(out) < k && len(cands) > 0 {
		best := 0
		for i := range cands {
			if score(cands[i]) > score(cands[best]) {
				best = i
			}
		}
		m := cands[best]
		cands = append(cands[:best], cands[best+1:]...)
		z, r := loc(m)
		usedZones[z] = true
		usedRacks[z+"/"+r] = true
		out = append(out, m)
	}
	return out
}
