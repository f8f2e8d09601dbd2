package raftfsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/p2pglance/p2pglance/catalog"
)

// fuzzSeedCommands are well-formed log entries of every command type.
func fuzzSeedCommands(tb testing.TB) [][]byte {
	at := time.Unix(1700000000, 0).UTC()
	img := newImage("seed", at)
	img.Name = strp("n")
	img.Properties = map[string]string{"k": "v"}
	var out [][]byte
	for _, cmd := range []any{
		&CreateImage{Image: img},
		&UpdateImage{Image: img, ExpectRevision: 1},
		&DeleteImage{ID: "seed", DeletedAt: at},
		&PutMember{Member: &catalog.Member{ImageID: "seed", MemberID: "p", Status: catalog.MemberPending}, Create: true},
		&DeleteMember{ImageID: "seed", MemberID: "p"},
		&PutDoc{Doc: &catalog.Doc{Kind: "task", ID: "t", Body: []byte(`{"a": 1}`)}, Create: true},
		&DeleteDoc{Kind: "task", ID: "t"},
		nil,
	} {
		data, err := Encode(cmd)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// FuzzApply feeds arbitrary log entries to the FSM. Whatever Validate
// accepts must apply without panicking (a leader proposes only such
// entries), and the catalog must stay readable, listable by every sort
// key and filter index, and survive a snapshot round trip byte for byte.
func FuzzApply(f *testing.F) {
	for _, data := range fuzzSeedCommands(f) {
		f.Add(data)
	}
	f.Add([]byte{byte(CmdCreateImage)})
	f.Add([]byte{byte(CmdCreateImage), 'n', 'u', 'l', 'l'})
	f.Add([]byte{byte(CmdUpdateImage), '{', '"', 'i', 'm', 'a', 'g', 'e', '"', ':', '{', '}', '}'})
	f.Add([]byte(string(rune(CmdCreateImage)) + `{"image": {"id": "x", "name": null, "tags": null, "created_at": "0001-01-01T00:00:00Z"}}`))
	f.Add([]byte(string(rune(CmdPutMember)) + `{"member": {"image_id": "seed", "member_id": ""}}`))
	f.Add([]byte{0x33, '{', '}'})
	f.Add([]byte{byte(IgnoreUnknownFlag | 0x33), 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		fsm := New()
		for i, seed := range fuzzSeedCommands(t)[:1] {
			fsm.Apply(&raft.Log{Index: uint64(i + 1), Data: seed})
		}
		if err := Validate(data); err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("Validate error %v does not wrap ErrBadCommand", err)
			}
			return
		}
		res, ok := fsm.Apply(&raft.Log{Index: 10, Data: data}).(*Result)
		if !ok || res.Index != 10 {
			t.Fatalf("Apply answered %#v", res)
		}
		st := fsm.State()
		for _, key := range catalog.SortKeys {
			for _, desc := range []bool{false, true} {
				q := catalog.ListQuery{SortKey: key, Desc: desc, Then: []catalog.SortSpec{{Key: "name"}}}
				if _, err := st.List(q); err != nil {
					t.Fatalf("list by %s: %v", key, err)
				}
				q.Then = nil
				imgs, err := st.List(q)
				if err != nil {
					t.Fatalf("list by %s: %v", key, err)
				}
				for _, img := range imgs {
					q.Marker = img.ID
					if _, err := st.List(q); err != nil {
						t.Fatalf("list by %s after %q: %v", key, img.ID, err)
					}
				}
			}
		}
		for _, field := range catalog.FilterFields {
			st.Each(func(img *catalog.Image) bool {
				for _, v := range filterValues(field, img) {
					if _, err := st.List(catalog.ListQuery{IndexField: field, IndexValue: v, Marker: img.ID}); err != nil {
						t.Fatalf("list by %s=%q: %v", field, v, err)
					}
				}
				return true
			})
		}
		st.Each(func(img *catalog.Image) bool {
			_ = img.Clone()
			_ = st.Members(img.ID)
			return true
		})
		snap, err := fsm.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil {
			t.Fatal(err)
		}
		g := New()
		if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
			t.Fatalf("restore of a snapshot after %q: %v", data, err)
		}
		if g.State().Count() != st.Count() {
			t.Fatalf("restored %d images, had %d", g.State().Count(), st.Count())
		}
		// The restored replica writes the same bytes: snapshots are
		// compared across nodes.
		snap2, err := g.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink2 := &memSink{}
		if err := snap2.Persist(sink2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sink.Bytes(), sink2.Bytes()) {
			t.Fatalf("snapshot after restore differs:\n%s\n%s", sink.Bytes(), sink2.Bytes())
		}
	})
}

// TestValidateRefusesWhatApplyCannotDecode pins the poison-pill fix: the
// entries that used to reach Apply from a peer's /internal/v1/apply and
// stop every replica are refused up front.
func TestValidateRefusesWhatApplyCannotDecode(t *testing.T) {
	for _, data := range [][]byte{
		nil,
		{},
		{0x33},
		{byte(CmdCreateImage)},
		{byte(CmdCreateImage), '{'},
		[]byte(string(rune(CmdCreateImage)) + `{"image": {"id": 5}}`),
		[]byte(string(rune(CmdDeleteImage)) + `{"id": "a"} trailing`),
		[]byte(string(rune(CmdPutDoc)) + `[]`),
	} {
		if err := Validate(data); !errors.Is(err, ErrBadCommand) {
			t.Errorf("Validate(%q) = %v, want ErrBadCommand", data, err)
		}
	}
	for _, data := range fuzzSeedCommands(t) {
		if err := Validate(data); err != nil {
			t.Errorf("Validate(%q) = %v", data, err)
		}
	}
}
