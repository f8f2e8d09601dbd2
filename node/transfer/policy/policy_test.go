package policy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func seeded(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s)) }

// sortedKeys are cs's keys in the order Order must give: sorted, stably.
func sortedKeys(cs []Candidate[int]) []rankKey {
	var ks []rankKey
	for i := range cs {
		ks = append(ks, keyOf(&cs[i]))
	}
	slices.SortStableFunc(ks, compareKeys)
	return ks
}

func TestOrderRanksByKey(t *testing.T) {
	rng := seeded(1)
	for n := range 40 {
		var cs []Candidate[int]
		for i := range n {
			cs = append(cs, Candidate[int]{Item: i, Prox: rng.IntN(3), Durable: rng.IntN(4) == 0,
				Load: []int{0, 1, 2, busyLoad, suspectLoad}[rng.IntN(5)], RTT: time.Duration(rng.IntN(3)) * time.Millisecond})
		}
		want := sortedKeys(cs)
		byItem := slices.Clone(cs)
		got := Rank(slices.Clone(cs), rng)
		if len(got) != n {
			t.Fatalf("n=%d: ranked %d", n, len(got))
		}
		seen := map[int]bool{}
		for i, it := range got {
			if seen[it] {
				t.Fatalf("n=%d: %d twice", n, it)
			}
			seen[it] = true
			if k := keyOf(&byItem[it]); k != want[i] {
				t.Fatalf("n=%d: position %d has key %v, want %v", n, i, k, want[i])
			}
		}
	}
}

// TestOrderUniformAmongEquals: every one of equal candidates comes first
// about as often, both from the scan (first pick) and from the sort
// (fifth pick onwards).
func TestOrderUniformAmongEquals(t *testing.T) {
	rng := seeded(2)
	const n, runs = 8, 8000
	first := make([]int, n)
	sixth := make([]int, n)
	for range runs {
		cs := make([]Candidate[int], n)
		for i := range cs {
			cs[i] = Candidate[int]{Item: i, Prox: 1}
		}
		got := Rank(cs, rng)
		first[got[0]]++
		sixth[got[5]]++
	}
	for i := range n {
		for _, c := range []int{first[i], sixth[i]} {
			if c < runs/n/2 || c > runs/n*3/2 {
				t.Fatalf("candidate %d came first %d and sixth %d times of %d, want about %d", i, first[i], sixth[i], runs, runs/n)
			}
		}
	}
}

func TestOrderPrefersCachedNearIdle(t *testing.T) {
	cs := []Candidate[string]{
		{Item: "durable-same-rack", Prox: 0, Durable: true},
		{Item: "busy-cached", Prox: 0, Load: busyLoad},
		{Item: "cached-other-zone", Prox: 2},
		{Item: "cached-same-zone-2-inflight", Prox: 1, Load: 2},
		{Item: "cached-same-rack", Prox: 0},
		{Item: "suspect", Load: suspectLoad},
	}
	got := Rank(cs, seeded(3))
	want := []string{"cached-same-rack", "cached-other-zone", "cached-same-zone-2-inflight", "durable-same-rack", "busy-cached", "suspect"}
	if !slices.Equal(got, want) {
		t.Fatalf("ranked %v, want %v", got, want)
	}
}

func TestStatsLoad(t *testing.T) {
	var s Stats[string]
	t0 := time.Unix(1000, 0)
	if s.Load("a", t0) != 0 {
		t.Fatal("unknown peer has load")
	}
	s.Begin("a")
	s.Begin("a")
	s.End("a")
	if s.Load("a", t0) != 1 {
		t.Fatalf("one fetch in flight: load %d", s.Load("a", t0))
	}
	s.MarkBusy("a", t0)
	if s.Load("a", t0.Add(BusyPenalty-time.Millisecond)) != busyLoad+1 || s.Load("a", t0.Add(BusyPenalty)) != 1 {
		t.Fatal("busy penalty not for BusyPenalty")
	}
	s.MarkSuspect("b", t0)
	if s.Load("b", t0.Add(SuspectPenalty/2)) != suspectLoad {
		t.Fatal("suspect not penalised")
	}
}

func TestOriginServesOnceThenProtects(t *testing.T) {
	var g Origin[int, string]
	if g.Protects(7, false) {
		t.Fatal("protects a chunk never served")
	}
	g.Add(7, "a", true)
	if !g.Protects(7, false) || g.Protects(7, true) {
		t.Fatal("after one serve: want protected, except for a last resort")
	}
	for i := range SentToMax + 2 {
		g.Add(7, string(rune('b'+i)), true)
	}
	g.Add(7, "not-kept", false)
	rs := g.Recipients(7)
	if len(rs) != SentToMax || rs[0] != string(rune('b'+SentToMax+1)) {
		t.Fatalf("recipients %v: want the last %d, newest first", rs, SentToMax)
	}
	if g.Served(7) != SentToMax+4 {
		t.Fatalf("served %d", g.Served(7))
	}
	g.ForgetRecipients(7)
	if len(g.Recipients(7)) != 0 {
		t.Fatal("recipients kept after ForgetRecipients")
	}
	t0 := time.Unix(0, 0)
	g.NoteRefused(1, t0)
	g.NoteRefused(1, t0.Add(time.Hour)) // the first refusal counts
	if g.LastResort(1, t0.Add(OriginPatience)) || !g.LastResort(1, t0.Add(OriginPatience+1)) {
		t.Fatal("last resort not after OriginPatience from the first refusal")
	}
	g.Got(1)
	if g.LastResort(1, t0.Add(time.Hour)) {
		t.Fatal("last resort after the chunk arrived")
	}
}

func TestCopiesOf(t *testing.T) {
	gossiped := []string{"self", "d1", "r1", "g1", "g2", "dead", "g3", "g4"}
	at := func(i int) string { return gossiped[i] }
	usable := func(id string) bool { return id != "dead" }
	rng := seeded(4)
	counts := map[string]int{}
	for range 3000 {
		got := CopiesOf("self", []string{"d1"}, []string{"r1", "d1", "dead"}, len(gossiped), at, usable, 3, rng)
		if len(got) != 3 || got[0] != "r1" {
			t.Fatalf("copies %v: want 3, the recipient first", got)
		}
		for _, id := range got[1:] {
			if id == "self" || id == "d1" || id == "dead" || id == "r1" {
				t.Fatalf("copies %v name %s", got, id)
			}
			counts[id]++
		}
	}
	for _, g := range []string{"g1", "g2", "g3", "g4"} {
		if c := counts[g]; c < 1200 || c > 1800 { // 2 of 4, 3000 times: 1500 each
			t.Fatalf("gossiped holders drawn %v, want about 1500 each", counts)
		}
	}
	if got := CopiesOf("self", nil, nil, 0, at, usable, 4, rng); len(got) != 0 {
		t.Fatalf("no holders: %v", got)
	}
	// Naming 4 of a million is cheap: at is called about 4 times.
	calls := 0
	big := func(i int) int { calls++; return i + 1 }
	if got := CopiesOf(0, nil, nil, 1_000_000, big, func(int) bool { return true }, 4, rng); len(got) != 4 || calls > 8 {
		t.Fatalf("%d copies after %d look-ups", len(got), calls)
	}
}

func TestSlotsNeverQueue(t *testing.T) {
	s := NewSlots(2)
	if !s.TryAcquire() || !s.TryAcquire() {
		t.Fatal("free slots refused")
	}
	if s.TryAcquire() {
		t.Fatal("a third slot of two was granted")
	}
	s.Release()
	if !s.TryAcquire() || s.InUse() != 2 {
		t.Fatal("released slot not reusable")
	}
	if NewSlots(0).TryAcquire() {
		t.Fatal("zero slots granted one")
	}
	if Burst(2<<20, 4<<20) != 4<<20 || Burst(8<<20, 4<<20) != 8<<20 {
		t.Fatal("burst is not max(one second, one chunk)")
	}
}

func TestRarestFirst(t *testing.T) {
	count := map[int]int{0: 5, 1: 1, 2: 3, 3: 1, 4: 0}
	idxs := []int{0, 1, 2, 3, 4}
	RarestFirst(idxs, func(i int) int { return count[i] }, seeded(5))
	for i := 1; i < len(idxs); i++ {
		if count[idxs[i-1]] > count[idxs[i]] {
			t.Fatalf("order %v not rarest first", idxs)
		}
	}
}

func TestBusyPause(t *testing.T) {
	b := BusyPause{Max: 40 * time.Millisecond}
	var got []time.Duration
	for range 12 {
		got = append(got, b.Busy(3)) // three chunks queued: a pause every third busy answer
	}
	want := []time.Duration{0, 0, 10, 0, 0, 20, 0, 0, 40, 0, 0, 40}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pauses %v, want %v", got, want)
	}
	b.Progress()
	if b.Busy(1) != FirstBusyPause {
		t.Fatal("pause did not start over after progress")
	}
}

func TestBackoff(t *testing.T) {
	var b Backoff
	rng := seeded(6)
	lo := firstBackoff
	for range 8 {
		d := b.Next(rng)
		if d < lo || d >= 2*lo {
			t.Fatalf("wait %s outside [%s, %s)", d, lo, 2*lo)
		}
		lo = min(2*lo, maxBackoff)
	}
}

func TestSpreadPick(t *testing.T) {
	type m struct{ id, zone, rack string }
	loc := func(x m) (string, string) { return x.zone, x.rack }
	used := []m{{"self", "z1", "r1"}}
	cands := []m{{"same-rack", "z1", "r1"}, {"other-rack", "z1", "r2"}, {"other-zone", "z2", "r1"}}
	rng := seeded(7)
	for range 20 {
		got := SpreadPick(3, cands, used, loc, rng)
		if got[0].id != "other-zone" || got[1].id != "other-rack" || got[2].id != "same-rack" {
			t.Fatalf("picked %v", got)
		}
	}
	if len(cands) != 3 || cands[0].id != "same-rack" {
		t.Fatal("SpreadPick changed its input")
	}
}

// TestRound: named copies are asked next (the last refusal's first),
// nobody twice, and AllBusy only when every node asked refused.
func TestRound(t *testing.T) {
	cs := []Candidate[string]{{Item: "a", Prox: 0}, {Item: "b", Prox: 1}, {Item: "c", Prox: 2}}
	r := NewRound(NewOrder(cs, seeded(8)), func(s string) string { return s })
	var asked []string
	next := func() string {
		m, ok := r.Next()
		if !ok {
			return ""
		}
		asked = append(asked, m)
		return m
	}
	next()                             // a
	r.Refused([]string{"x", "y", "a"}) // a asked already
	next()                             // y
	r.Refused([]string{"z", "b"})
	next() // b
	next() // z
	next() // x
	r.Refused(nil)
	next() // c
	if m := next(); m != "" {
		t.Fatalf("asked %s after every node", m)
	}
	if want := []string{"a", "y", "b", "z", "x", "c"}; !slices.Equal(asked, want) {
		t.Fatalf("asked %v, want %v", asked, want)
	}
	if r.Busy() != 3 || r.AllBusy() {
		t.Fatalf("busy %d of %d, AllBusy %v", r.Busy(), len(asked), r.AllBusy())
	}
	r2 := NewRound(NewOrder([]Candidate[string]{{Item: "a"}}, seeded(9)), func(s string) string { return s })
	r2.Next()
	r2.Refused(nil)
	if !r2.AllBusy() {
		t.Fatal("the only holder refused: want AllBusy")
	}
}

// TestTable: the small map agrees with a Go map through adds, changes
// and deletes, below and above the size where it keeps an index.
func TestTable(t *testing.T) {
	rng := seeded(10)
	var tb table[int, int]
	ref := map[int]int{}
	maxLen, crossed := 0, 0
	for step := range 200000 {
		k := rng.IntN(200)
		// Stretches of mostly adds, then of mostly deletes: the table
		// grows past its index size and shrinks back, again and again.
		add := rng.IntN(3) != 0 // grow: two adds in three
		if step%4000 >= 2000 {
			add = rng.IntN(20) == 0 // shrink: one add in twenty
		}
		maxLen = max(maxLen, tb.len())
		if maxLen > tableScan && tb.len() < tableScan/2 {
			crossed++
		}
		if add {
			*tb.ptr(k) += step
			ref[k] += step
		} else {
			tb.del(k)
			delete(ref, k)
		}
		if tb.len() != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, tb.len(), len(ref))
		}
		for _, q := range []int{k, rng.IntN(200)} {
			v, ok := tb.get(q)
			if w, wok := ref[q]; v != w || ok != wok {
				t.Fatalf("step %d: get(%d) = %d %v, want %d %v", step, q, v, ok, w, wok)
			}
		}
	}
	if maxLen <= 2*tableScan || crossed == 0 {
		t.Fatalf("the test never took the table past its index size and back (max %d)", maxLen)
	}
	tb.reset()
	if tb.len() != 0 {
		t.Fatal("reset left entries")
	}
}
