package tracker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/peer"
)

func members(n int) []Member {
	var out []Member
	for i := range n {
		out = append(out, Member{ID: fmt.Sprintf("node%d", i), PeerAddr: fmt.Sprintf("127.0.0.1:%d", 1000+i), Alive: true})
	}
	return out
}

func holderIDs(hs []peer.Holder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Node)
	}
	return out
}

// TestTrackersRendezvous: every node computes the same trackers whatever
// the order of its member list; a node that joins takes over only images
// whose top k it enters (about k/N of them), and one that leaves moves
// only the images it tracked, each to the next in line.
func TestTrackersRendezvous(t *testing.T) {
	ms := members(50)
	rev := slices.Clone(ms)
	slices.Reverse(rev)
	joined := append(slices.Clone(ms), Member{ID: "newcomer", PeerAddr: "127.0.0.1:9", Alive: true})
	left := slices.Clone(ms)
	left[7].Alive = false
	moved, movedLeave, counts := 0, 0, map[string]int{}
	const images = 3000
	for i := range images {
		img := fmt.Sprintf("image-%d", i)
		ts := Trackers(img, ms, 3)
		if len(ts) != 3 || !slices.Equal(ts, Trackers(img, rev, 3)) {
			t.Fatalf("%s: trackers %v, reversed list %v", img, ts, Trackers(img, rev, 3))
		}
		for _, id := range ts {
			counts[id]++
		}
		after := Trackers(img, joined, 3)
		if !slices.Equal(after, ts) {
			moved++
			if !slices.Contains(after, "newcomer") {
				t.Fatalf("%s: trackers %v -> %v without the newcomer", img, ts, after)
			}
			if rest := slices.DeleteFunc(slices.Clone(after), func(id string) bool { return id == "newcomer" }); !slices.Equal(rest, ts[:2]) {
				t.Fatalf("%s: trackers %v -> %v: more moved than the newcomer's place", img, ts, after)
			}
		}
		after = Trackers(img, left, 3)
		switch {
		case slices.Contains(ts, "node7"):
			movedLeave++
			if slices.Contains(after, "node7") || len(after) != 3 {
				t.Fatalf("%s: trackers %v after node7 left", img, after)
			}
		case !slices.Equal(after, ts):
			t.Fatalf("%s: trackers %v -> %v though node7 was not one", img, ts, after)
		}
	}
	// Expect k/(N+1) of the images to move: 3000*3/51 = 176.
	if moved < 100 || moved > 260 {
		t.Errorf("a join moved %d of %d images, want about %d", moved, images, images*3/51)
	}
	if movedLeave != counts["node7"] {
		t.Errorf("a leave moved %d images, node7 tracked %d", movedLeave, counts["node7"])
	}
	for id, c := range counts {
		if c < 90 || c > 270 { // 180 on average
			t.Errorf("%s tracks %d images of %d (uneven spread)", id, c, images)
		}
	}
	if ts := Trackers("x", members(2), 3); len(ts) != 2 {
		t.Errorf("two nodes: trackers %v", ts)
	}
}

// TestTableRecord: batches replace per image, older versions and older
// epochs never win, a newer epoch forgets everything the holder said.
func TestTableRecord(t *testing.T) {
	tb := newTable()
	now := time.Now()
	rec := func(holder string, epoch int64, items ...peer.ImageHoldings) {
		tb.record(peer.Holdings{Holder: holder, Epoch: epoch, Images: items}, now)
	}
	rec("a", 10, peer.ImageHoldings{Image: "i1", Version: 2, Total: 10, Bits: []byte{0x03, 0x00}},
		peer.ImageHoldings{Image: "i2", Version: 2, Total: 1, All: true})
	rec("b", 5, peer.ImageHoldings{Image: "i1", Version: 1, Total: 10, All: true})
	if got := holderIDs(tb.holdersOf("i1")); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("i1 holders %v", got)
	}
	rec("a", 10, peer.ImageHoldings{Image: "i1", Version: 1, Total: 10, All: true}) // older: ignored
	if e := tb.images["i1"]["a"]; e.all || e.version != 2 {
		t.Fatalf("an older version replaced a newer one: %+v", e)
	}
	rec("a", 10, peer.ImageHoldings{Image: "i1", Version: 3, Gone: true})
	if got := holderIDs(tb.holdersOf("i1")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("i1 holders after a withdrawal %v", got)
	}
	rec("a", 9, peer.ImageHoldings{Image: "i3", Version: 9, Total: 1, All: true}) // before a's boot: dropped
	if got := holderIDs(tb.holdersOf("i3")); len(got) != 0 {
		t.Fatalf("a batch of an older epoch was kept: %v", got)
	}
	rec("a", 11, peer.ImageHoldings{Image: "i3", Version: 1, Total: 1, All: true}) // a restarted
	if got := holderIDs(tb.holdersOf("i2")); len(got) != 0 {
		t.Fatalf("a restarted holder's old entries kept: %v", got)
	}
	if got := holderIDs(tb.holdersOf("i3")); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("i3 holders %v", got)
	}
	tb.forgetBefore("b", 5)
	tb.forgetBefore("a", 12)
	if got := holderIDs(tb.holdersOf("i3")); len(got) != 0 || len(holderIDs(tb.holdersOf("i1"))) != 1 {
		t.Fatalf("forgetBefore: i3 %v, i1 %v", got, holderIDs(tb.holdersOf("i1")))
	}
	tb.expire(now.Add(time.Second))
	if len(tb.holders) != 0 || len(tb.images) != 0 {
		t.Fatalf("expired table still holds %v / %v", tb.holders, tb.images)
	}
}

// TestTableAnswer: the asker's rack first, then its zone, holders of
// every chunk first within each, dead holders left out, at most the
// limit; a full query lists holders of every chunk only.
func TestTableAnswer(t *testing.T) {
	v := newView("t", []Member{
		{ID: "t", PeerAddr: "x:1", Alive: true},
		{ID: "r1", Zone: "z1", Rack: "r1", PeerAddr: "x:2", Alive: true},
		{ID: "r1p", Zone: "z1", Rack: "r1", PeerAddr: "x:3", Alive: true},
		{ID: "z1", Zone: "z1", Rack: "r2", PeerAddr: "x:4", Alive: true},
		{ID: "far", Zone: "z2", Rack: "r9", PeerAddr: "x:5", Alive: true},
		{ID: "dead", Zone: "z1", Rack: "r1", PeerAddr: "x:6", Alive: false},
	})
	tb := newTable()
	now := time.Now()
	for _, id := range []string{"r1", "z1", "far", "dead", "unknown"} {
		tb.record(peer.Holdings{Holder: id, Epoch: 1, Images: []peer.ImageHoldings{{Image: "img", Version: 1, Total: 3, All: true}}}, now)
	}
	tb.record(peer.Holdings{Holder: "r1p", Epoch: 1, Images: []peer.ImageHoldings{{Image: "img", Version: 1, Total: 3, Bits: []byte{0x01}}}}, now)
	names := func(hs []peer.Holder) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Node)
		}
		return out
	}
	for range 20 {
		got := names(tb.answer(v, peer.HoldersQuery{Image: "img", Zone: "z1", Rack: "r1", Limit: 10}))
		if len(got) != 5 || !slices.Equal(got[:3], []string{"r1", "r1p", "z1"}) || slices.Contains(got, "dead") {
			t.Fatalf("answer %v: want r1, r1p, z1, then far and unknown (not dead)", got)
		}
	}
	if got := names(tb.answer(v, peer.HoldersQuery{Image: "img", Zone: "z1", Rack: "r1", Limit: 2})); !slices.Equal(got, []string{"r1", "r1p"}) {
		t.Fatalf("limit 2: %v", got)
	}
	if got := names(tb.answer(v, peer.HoldersQuery{Image: "img", Zone: "z1", Rack: "r1", Full: true})); slices.Contains(got, "r1p") || len(got) != 4 {
		t.Fatalf("full holders: %v", got)
	}
	if got := tb.answer(v, peer.HoldersQuery{Image: "other"}); len(got) != 0 {
		t.Fatalf("an image nobody holds: %v", got)
	}
}

// TestLocalSendable: a change is sent to every tracker that lacks it,
// an acknowledged version is not sent again unless the tracker
// restarted, a backed-off tracker leaves the image pending, and a
// withdrawal is forgotten once every tracker has it.
func TestLocalSendable(t *testing.T) {
	l := newLocal()
	ts := []Member{{ID: "t1", Boot: 1}, {ID: "t2", Boot: 1}}
	none := func(string) bool { return false }
	if _, changed := l.announce("img", 10, []int{0, 9}, false); !changed {
		t.Fatal("first announce changed nothing")
	}
	if _, changed := l.announce("img", 10, []int{0}, false); changed {
		t.Fatal("announcing a held chunk again changed something")
	}
	item, to, _ := l.sendable("img", ts, none)
	if len(to) != 2 || item.Total != 10 || item.All || !hasBit(item.Bits, 0) || !hasBit(item.Bits, 9) || hasBit(item.Bits, 1) {
		t.Fatalf("sendable %+v to %v", item, to)
	}
	l.acked("img", "t1", item.Version, 1)
	if _, to, pending := l.sendable("img", ts, func(id string) bool { return id == "t2" }); len(to) != 0 || !pending {
		t.Fatalf("t1 acknowledged, t2 backed off: to %v pending %v", to, pending)
	}
	l.acked("img", "t2", item.Version, 1)
	if _, to, _ := l.sendable("img", ts, none); len(to) != 0 {
		t.Fatalf("both acknowledged: sent again to %v", to)
	}
	ts[1].Boot = 2 // t2 restarted
	if _, to, _ := l.sendable("img", ts, none); len(to) != 1 || to[0].ID != "t2" {
		t.Fatalf("after t2 restarted: to %v", to)
	}
	l.acked("img", "t2", item.Version, 2)
	l.announce("img", 10, []int{1, 2, 3, 4, 5, 6, 7, 8}, false)
	if item, _, _ := l.sendable("img", ts, none); !item.All || len(item.Bits) != 0 {
		t.Fatalf("every chunk held: %+v", item)
	}
	if !l.withdraw("img") || l.withdraw("img") {
		t.Fatal("withdraw: want true once")
	}
	item, to, _ = l.sendable("img", ts, none)
	if !item.Gone || len(to) != 2 {
		t.Fatalf("withdrawal %+v to %v", item, to)
	}
	l.acked("img", "t1", item.Version, 1)
	l.acked("img", "t2", item.Version, 2)
	if l.images["img"] != nil {
		t.Fatal("a withdrawal every tracker acknowledged is still kept")
	}
}
