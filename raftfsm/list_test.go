package raftfsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// TestListAfterWrites lists by every sort key, several keys and filter,
// checked against bruteList, while images are created, changed and
// deleted between the lists (the cached multi-key orders must follow),
// over a catalog with NUL bytes in names and ids.
func TestListAfterWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	f := New()
	names := []string{"a", "a\x00", "a\x00b", "b", ""}
	formats := []string{"raw", "qcow2"}
	var idx uint64
	var live []string
	put := func() {
		idx++
		id := fmt.Sprintf("id-%d", rng.IntN(1000))
		if rng.IntN(10) == 0 {
			id += "\x00x"
		}
		img := newImage(id, time.Unix(int64(rng.IntN(50)), 0).UTC())
		if rng.IntN(5) > 0 {
			img.Name = &names[rng.IntN(len(names))]
		}
		img.DiskFormat = &formats[rng.IntN(2)]
		img.Owner = strp([]string{"p1", "p2"}[rng.IntN(2)])
		if rng.IntN(2) == 0 {
			sz := int64(rng.IntN(5))
			img.Size = &sz
		}
		if old, err := f.State().Image(id); err == nil {
			upd := old.Clone()
			upd.Name, upd.Size, upd.DiskFormat = img.Name, img.Size, img.DiskFormat
			upd.UpdatedAt = time.Unix(int64(rng.IntN(50)), 0).UTC()
			apply(t, f, idx, &UpdateImage{Image: upd, ExpectRevision: old.Revision})
			return
		}
		if res := apply(t, f, idx, &CreateImage{Image: img}); res.Err == nil {
			live = append(live, id)
		}
	}
	for range 150 {
		put()
	}
	for i := range 600 {
		switch rng.IntN(4) {
		case 0:
			put()
		case 1:
			if len(live) > 0 {
				j := rng.IntN(len(live))
				idx++
				apply(t, f, idx, &DeleteImage{ID: live[j], DeletedAt: time.Unix(1, 0)})
				live = slices.Delete(live, j, j+1)
			}
		}
		st := f.State()
		q := catalog.ListQuery{SortKey: catalog.SortKeys[rng.IntN(len(catalog.SortKeys))], Desc: rng.IntN(2) == 0, Limit: 1 + rng.IntN(20)}
		if rng.IntN(2) == 0 {
			q.Then = []catalog.SortSpec{{Key: catalog.SortKeys[rng.IntN(len(catalog.SortKeys))], Desc: rng.IntN(2) == 0}}
		}
		if len(live) > 0 && rng.IntN(2) == 0 {
			q.Marker = live[rng.IntN(len(live))]
		}
		switch rng.IntN(3) {
		case 0:
			q.SortKey, q.Then = "created_at", nil
			q.IndexField, q.IndexValue = "name", names[rng.IntN(len(names))]
		case 1:
			q.IndexField, q.IndexValue = "owner", "p1"
		}
		got, err := st.List(q)
		if err != nil {
			t.Fatal(err)
		}
		want := referenceList(st, q)
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("step %d, query %+v:\n got %q\nwant %q", i, q, ids(got), ids(want))
		}
	}
}

// referenceList answers q the way the catalog always has, by brute force:
// every image keyed by its sort values (bit-inverted when descending),
// sorted, from after the marker, filtered. A created_at list filtered on
// a field walks the byte-prefix range of the value in the field's filter
// index (FilterIndexKey) instead, from where the marker would be in it.
func referenceList(st *State, q catalog.ListQuery) []*catalog.Image {
	if q.SortKey == "" {
		q.SortKey = "created_at"
	}
	specs := append([]catalog.SortSpec{{Key: q.SortKey, Desc: q.Desc}}, q.Then...)
	last := specs[len(specs)-1].Desc
	specs = append(specs, catalog.SortSpec{Key: "created_at", Desc: last}, catalog.SortSpec{Key: "id", Desc: last})
	keyOf := func(img *catalog.Image) []byte {
		var b []byte
		for _, sp := range specs {
			start := len(b)
			b = sortValue(b, sp.Key, img)
			if sp.Key == "id" {
				b = encString(b, img.ID)
			}
			if sp.Desc {
				for i := start; i < len(b); i++ {
					b[i] = ^b[i]
				}
			}
		}
		return b
	}
	var all []*catalog.Image
	st.Each(func(img *catalog.Image) bool { all = append(all, img); return true })
	var markerImg *catalog.Image
	if q.Marker != "" {
		markerImg, _ = st.Image(q.Marker)
	}
	if q.IndexField != "" && q.SortKey == "created_at" && len(q.Then) == 0 {
		// The filter index's byte-prefix range, walked from where
		// the marker would be in it.
		prefix, field := FilterPrefix(q.IndexValue), q.IndexField
		keyOf = func(img *catalog.Image) []byte {
			vals := filterValues(field, img)
			if len(vals) == 0 {
				return nil
			}
			k := FilterIndexKey(vals[0], img)
			if q.Desc {
				for i := range k {
					k[i] = ^k[i]
				}
			}
			return k
		}
		all = slices.DeleteFunc(all, func(img *catalog.Image) bool {
			k := keyOf(img)
			if q.Desc {
				for i := range k {
					k[i] = ^k[i]
				}
			}
			return k == nil || !bytes.HasPrefix(k, prefix)
		})
		q.IndexField = ""
		if markerImg != nil {
			m := *markerImg
			m.Owner, m.Name, m.DiskFormat, m.ContainerFormat = &q.IndexValue, &q.IndexValue, &q.IndexValue, &q.IndexValue
			m.Status, m.Visibility = q.IndexValue, q.IndexValue
			markerImg = &m
		}
	}
	slices.SortFunc(all, func(a, b *catalog.Image) int {
		if c := bytes.Compare(keyOf(a), keyOf(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var markerKey []byte
	if markerImg != nil {
		markerKey = keyOf(markerImg)
	}
	var out []*catalog.Image
	for _, img := range all {
		if markerKey != nil && (bytes.Compare(keyOf(img), markerKey) < 0 || img.ID == q.Marker) {
			continue
		}
		if q.IndexField != "" && !slices.Contains(filterValues(q.IndexField, img), q.IndexValue) {
			continue
		}
		if q.Match != nil && !q.Match(img) {
			continue
		}
		out = append(out, img)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out
}
