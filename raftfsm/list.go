package raftfsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/p2pglance/p2pglance/catalog"
)

// List returns the page of images q selects, in order. The images are the
// caller's.
//
// A list by one sort key walks that key's index from the marker; a list
// by created_at filtered on a FilterFields attribute walks that filter's
// range of its index instead. A list by several keys (q.Then) walks the
// sorted order of the images by those keys, built once per catalog
// version and cached until the next image write.
func (s *State) List(q catalog.ListQuery) ([]*catalog.Image, error) {
	if q.SortKey == "" {
		q.SortKey = "created_at"
	}
	ix, ok := sortIndex(q.SortKey)
	if !ok {
		return nil, fmt.Errorf("list images: sort key %q: %w", q.SortKey, ErrBadCommand)
	}
	for _, t := range q.Then {
		if _, ok := sortIndex(t.Key); !ok {
			return nil, fmt.Errorf("list images: sort key %q: %w", t.Key, ErrBadCommand)
		}
	}
	v := s.version()
	var marker *imageRec
	if q.Marker != "" {
		if marker, ok = v.get(q.Marker); !ok {
			return nil, fmt.Errorf("list images: marker %q: %w", q.Marker, catalog.ErrNotFound)
		}
	}
	p := page{q: q, dict: v.dict}
	if !slices.Contains(catalog.FilterFields, q.IndexField) {
		p.q.IndexField = ""
	}
	if len(q.Then) > 0 {
		return p.fromOrder(v, marker), nil
	}

	inRange := func(*imageRec) bool { return true }
	var prefix []byte
	from := marker // a marker's own key is its position
	if p.q.IndexField != "" && q.SortKey == "created_at" {
		field, val := p.q.IndexField, p.q.IndexValue
		var nullable bool
		ix, nullable = filterIndex(field)
		prefix = FilterPrefix(val)
		if nullable {
			prefix = append([]byte{1}, prefix...)
		}
		fast := strings.IndexByte(val, 0) < 0
		inRange = func(r *imageRec) bool {
			if fast && r.flags&recNUL == 0 {
				got, ok := recFilterValue(field, r)
				return ok && got == val
			}
			return bytes.HasPrefix(recKey(ix, r), prefix)
		}
		p.q.IndexField = "" // the range is the filter
		switch {
		case marker != nil:
			// Where the marker would be in the value's range.
			k := binary.BigEndian.AppendUint64(slices.Clip(prefix), marker.created)
			from = probe(encString(k, marker.id))
		case q.Desc:
			// Past the range's end: the prefix's last byte (its
			// terminating NUL) plus one.
			k := slices.Clone(prefix)
			k[len(k)-1]++
			from = probe(k)
		default:
			from = probe(prefix)
		}
	}
	walk := func(r *imageRec) bool {
		if !inRange(r) {
			return false
		}
		if marker != nil && r.id == marker.id {
			return true
		}
		return p.add(r)
	}
	t := v.images[ix]
	switch {
	case from == nil && !q.Desc:
		t.Ascend(walk)
	case from == nil:
		t.Descend(walk)
	case !q.Desc:
		t.AscendGreaterOrEqual(from, walk)
	default:
		t.DescendLessOrEqual(from, walk)
	}
	return p.out, nil
}

// page collects a list's answer.
type page struct {
	q    catalog.ListQuery
	dict *strDict
	out  []*catalog.Image
}

// add adds r if it matches, and reports whether the page wants more.
func (p *page) add(r *imageRec) bool {
	if p.q.IndexField != "" {
		if got, ok := recFilterValue(p.q.IndexField, r); !ok || got != p.q.IndexValue {
			return true
		}
	}
	img := decodeImage(r, p.dict)
	if p.q.Match != nil && !p.q.Match(img) {
		return true
	}
	p.out = append(p.out, img)
	return p.q.Limit <= 0 || len(p.out) < p.q.Limit
}

// fromOrder answers a list by several keys from the cached sorted order.
func (p *page) fromOrder(v *tables, marker *imageRec) []*catalog.Image {
	q := p.q
	specs := append([]catalog.SortSpec{{Key: q.SortKey, Desc: q.Desc}}, q.Then...)
	last := specs[len(specs)-1].Desc
	specs = append(specs, catalog.SortSpec{Key: "created_at", Desc: last}, catalog.SortSpec{Key: "id", Desc: last})
	order := v.orders.get(v, specs)
	start := 0
	if marker != nil {
		start = sort.Search(len(order), func(i int) bool { return compareSpecs(specs, order[i], marker) > 0 })
	}
	for _, r := range order[start:] {
		if !p.add(r) {
			break
		}
	}
	return p.out
}

// maxOrders caps the sorted orders one catalog version caches.
const maxOrders = 8

// orderCache holds the sorted orders of one catalog version's images, by
// sort specs.
type orderCache struct {
	mu sync.Mutex
	m  map[string]*sortedOrder
}

type sortedOrder struct {
	once sync.Once
	recs []*imageRec
}

// get returns every image of v in specs' order, sorting them the first
// time specs are asked for.
func (c *orderCache) get(v *tables, specs []catalog.SortSpec) []*imageRec {
	var key strings.Builder
	for _, sp := range specs {
		fmt.Fprintf(&key, "%s:%t,", sp.Key, sp.Desc)
	}
	c.mu.Lock()
	o := c.m[key.String()]
	if o == nil {
		if c.m == nil || len(c.m) >= maxOrders {
			c.m = map[string]*sortedOrder{}
		}
		o = &sortedOrder{}
		c.m[key.String()] = o
	}
	c.mu.Unlock()
	o.once.Do(func() {
		recs := make([]*imageRec, 0, v.images[ixID].Len())
		v.images[ixID].Ascend(func(r *imageRec) bool { recs = append(recs, r); return true })
		slices.SortFunc(recs, func(a, b *imageRec) int { return compareSpecs(specs, a, b) })
		o.recs = recs
	})
	return o.recs
}
