package raftfsm

import (
	"bytes"
	"container/heap"
	"fmt"
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/p2pglance/p2pglance/catalog"
)

// State is the catalog held in memory: images and tombstones, indexed.
// Reads run on immutable memdb snapshots, so they never block Apply.
type State struct {
	db *memdb.MemDB
}

// NewState returns an empty catalog.
func NewState() *State {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic("raftfsm: bad memdb schema: " + err.Error())
	}
	return &State{db: db}
}

// Image returns the live image with id, or ErrNotFound. The result is
// shared: callers must Clone it before changing it.
func (s *State) Image(id string) (*catalog.Image, error) {
	raw, err := s.db.Txn(false).First(tableImages, "id", id)
	if err != nil {
		return nil, fmt.Errorf("get image: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("get image %q: %w", id, catalog.ErrNotFound)
	}
	return raw.(*catalog.Image), nil
}

// Tombstoned reports whether id belonged to an image that was deleted.
func (s *State) Tombstoned(id string) bool {
	raw, err := s.db.Txn(false).First(tableTombstones, "id", id)
	return err == nil && raw != nil
}

// Count returns the number of live images.
func (s *State) Count() int {
	it, err := s.db.Txn(false).Get(tableImages, "id")
	if err != nil {
		return 0
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n
}

// Each calls fn for every live image in id order until fn returns false.
func (s *State) Each(fn func(*catalog.Image) bool) {
	it, err := s.db.Txn(false).Get(tableImages, "id")
	if err != nil {
		return
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !fn(raw.(*catalog.Image)) {
			return
		}
	}
}

// List returns the page of images q selects, in order. The images are
// shared: callers must not modify them.
func (s *State) List(q catalog.ListQuery) ([]*catalog.Image, error) {
	if q.SortKey == "" {
		q.SortKey = "created_at"
	}
	if !slices.Contains(catalog.SortKeys, q.SortKey) {
		return nil, fmt.Errorf("list images: sort key %q: %w", q.SortKey, ErrBadCommand)
	}
	txn := s.db.Txn(false)
	for _, t := range q.Then {
		if !slices.Contains(catalog.SortKeys, t.Key) {
			return nil, fmt.Errorf("list images: sort key %q: %w", t.Key, ErrBadCommand)
		}
	}
	if len(q.Then) > 0 || (q.SortKey != "id" && !slices.Contains(indexedSortKeys, q.SortKey)) {
		return s.listSorted(txn, q)
	}
	var marker *catalog.Image
	if q.Marker != "" {
		raw, err := txn.First(tableImages, "id", q.Marker)
		if err != nil || raw == nil {
			return nil, fmt.Errorf("list images: marker %q: %w", q.Marker, catalog.ErrNotFound)
		}
		marker = raw.(*catalog.Image)
	}

	index := sortIndexName(q.SortKey)
	keyOf := func(img *catalog.Image) []byte { return SortIndexKey(q.SortKey, img) }
	var prefix []byte
	if q.IndexField != "" && q.SortKey == "created_at" && slices.Contains(catalog.FilterFields, q.IndexField) {
		index = filterIndexName(q.IndexField)
		prefix = FilterPrefix(q.IndexValue)
		field := q.IndexField
		keyOf = func(img *catalog.Image) []byte {
			if v := filterValues(field, img); len(v) == 1 {
				return FilterIndexKey(v[0], img)
			}
			return nil
		}
	}

	// The primary "id" index takes the id string, not key bytes.
	arg := func(b []byte) any { return b }
	if index == "id" {
		arg = func(b []byte) any { return string(bytes.TrimSuffix(b, []byte{0})) }
	}
	var it memdb.ResultIterator
	var err error
	var markerKey []byte
	switch {
	case marker == nil && index == "id" && !q.Desc:
		it, err = txn.Get(tableImages, "id_prefix", "")
	case marker == nil && index == "id":
		it, err = txn.GetReverse(tableImages, "id_prefix", "")
	case marker == nil && !q.Desc:
		it, err = txn.Get(tableImages, index, prefix)
	case marker == nil:
		it, err = txn.GetReverse(tableImages, index, prefix)
	case !q.Desc:
		markerKey = markerPosition(prefix, keyOf, marker)
		it, err = txn.LowerBound(tableImages, index, arg(markerKey))
	default:
		markerKey = markerPosition(prefix, keyOf, marker)
		it, err = txn.ReverseLowerBound(tableImages, index, arg(markerKey))
	}
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []*catalog.Image
	for raw := it.Next(); raw != nil; raw = it.Next() {
		img := raw.(*catalog.Image)
		if markerKey != nil {
			k := keyOf(img)
			if !bytes.HasPrefix(k, prefix) {
				break
			}
			if bytes.Equal(k, markerKey) {
				continue
			}
		}
		if q.Match != nil && !q.Match(img) {
			continue
		}
		out = append(out, img)
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// idOrEmpty returns img's id, or "" for a nil image.
func idOrEmpty(img *catalog.Image) string {
	if img == nil {
		return ""
	}
	return img.ID
}

// listSorted answers q by scanning every image and sorting the matches:
// the plan for sort keys without an index of their own.
func (s *State) listSorted(txn *memdb.Txn, q catalog.ListQuery) ([]*catalog.Image, error) {
	specs := append([]catalog.SortSpec{{Key: q.SortKey, Desc: q.Desc}}, q.Then...)
	last := specs[len(specs)-1].Desc
	specs = append(specs, catalog.SortSpec{Key: "created_at", Desc: last}, catalog.SortSpec{Key: "id", Desc: last})
	// keyOf encodes an image's sort position; descending components are
	// bit-inverted so one byte comparison orders by every spec.
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
	var markerKey []byte
	if q.Marker != "" {
		raw, err := txn.First(tableImages, "id", q.Marker)
		if err != nil || raw == nil {
			return nil, fmt.Errorf("list images: marker %q: %w", q.Marker, catalog.ErrNotFound)
		}
		markerKey = keyOf(raw.(*catalog.Image))
	}
	it, err := txn.Get(tableImages, "id")
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var all []keyed
	for raw := it.Next(); raw != nil; raw = it.Next() {
		img := raw.(*catalog.Image)
		if q.IndexField != "" && !slices.Contains(filterValues(q.IndexField, img), q.IndexValue) {
			continue
		}
		if q.Match != nil && !q.Match(img) {
			continue
		}
		k := keyOf(img)
		if markerKey != nil && bytes.Compare(k, markerKey) <= 0 {
			continue
		}
		if q.Limit <= 0 || len(all) < q.Limit {
			all = append(all, keyed{k, img})
			if len(all) == q.Limit {
				heap.Init((*keyHeap)(&all))
			}
			continue
		}
		// Keep only the Limit smallest keys: a max-heap on the key.
		if bytes.Compare(k, all[0].key) < 0 {
			all[0] = keyed{k, img}
			heap.Fix((*keyHeap)(&all), 0)
		}
	}
	slices.SortFunc(all, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	out := make([]*catalog.Image, len(all))
	for i, k := range all {
		out[i] = k.img
	}
	return out, nil
}

// keyed is an image with its sort key.
type keyed struct {
	key []byte
	img *catalog.Image
}

// keyHeap is a max-heap of keyed images (largest key on top), used to
// keep the smallest Limit keys of a scan without sorting all of them.
type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return bytes.Compare(h[i].key, h[j].key) > 0 }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// markerPosition is where a page after marker starts in an index: the
// marker's own key, or, when the marker lies outside the filtered range,
// the key it would have there.
func markerPosition(prefix []byte, keyOf func(*catalog.Image) []byte, marker *catalog.Image) []byte {
	if prefix == nil {
		return keyOf(marker)
	}
	b := append([]byte(nil), prefix...)
	b = encTime(b, marker)
	return encString(b, marker.ID)
}

func (s *State) createImage(idx uint64, img *catalog.Image) (*catalog.Image, error) {
	if img == nil || img.ID == "" {
		return nil, fmt.Errorf("create image: missing id: %w", ErrBadCommand)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	if raw, _ := txn.First(tableImages, "id", img.ID); raw != nil {
		return nil, fmt.Errorf("create image %q: %w", img.ID, catalog.ErrExists)
	}
	if raw, _ := txn.First(tableTombstones, "id", img.ID); raw != nil {
		return nil, fmt.Errorf("create image %q: %w", img.ID, catalog.ErrExists)
	}
	img = img.Clone()
	img.Revision = idx
	if err := txn.Insert(tableImages, img); err != nil {
		return nil, fmt.Errorf("create image: %w", err)
	}
	txn.Commit()
	return img, nil
}

func (s *State) updateImage(idx uint64, img *catalog.Image, expect uint64) (prev, cur *catalog.Image, err error) {
	if img == nil || img.ID == "" {
		return nil, nil, fmt.Errorf("update image: missing id: %w", ErrBadCommand)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, _ := txn.First(tableImages, "id", img.ID)
	if raw == nil {
		return nil, nil, fmt.Errorf("update image %q: %w", img.ID, catalog.ErrNotFound)
	}
	prev = raw.(*catalog.Image)
	if prev.Revision != expect {
		return nil, nil, fmt.Errorf("update image %q: at revision %d, not %d: %w", img.ID, prev.Revision, expect, catalog.ErrConflict)
	}
	img = img.Clone()
	img.Revision = idx
	if err := txn.Insert(tableImages, img); err != nil {
		return nil, nil, fmt.Errorf("update image: %w", err)
	}
	txn.Commit()
	return prev, img, nil
}

func (s *State) deleteImage(idx uint64, id string, expect uint64, at time.Time) (*catalog.Image, error) {
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, _ := txn.First(tableImages, "id", id)
	if raw == nil {
		return nil, fmt.Errorf("delete image %q: %w", id, catalog.ErrNotFound)
	}
	cur := raw.(*catalog.Image)
	if expect != 0 && cur.Revision != expect {
		return nil, fmt.Errorf("delete image %q: at revision %d, not %d: %w", id, cur.Revision, expect, catalog.ErrConflict)
	}
	if err := txn.Delete(tableImages, cur); err != nil {
		return nil, fmt.Errorf("delete image: %w", err)
	}
	if err := deleteMembersTxn(txn, id); err != nil {
		return nil, err
	}
	if err := txn.Insert(tableTombstones, &Tombstone{ID: id, DeletedAt: at}); err != nil {
		return nil, fmt.Errorf("delete image: %w", err)
	}
	txn.Commit()
	return cur, nil
}
