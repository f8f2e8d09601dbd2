package raftfsm

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// index names one ordered index over the images. Every Glance sort key has
// one, ordered by the key's value, then created_at, then id (sortValue,
// SortIndexKey); the filter fields owner and visibility have one each,
// ordered by value, then created_at, then id (FilterIndexKey). The other
// filter fields (status, name, disk_format, container_format) use their
// sort key's index: within one value it has the same order.
type index uint8

const (
	ixID index = iota
	ixCreated
	ixUpdated
	ixName
	ixStatus
	ixSize
	ixDiskFormat
	ixContainerFormat
	ixOwner
	ixVisibility
	numIndexes
)

// sortIndex returns the index of a sort key (one of catalog.SortKeys).
func sortIndex(key string) (index, bool) {
	switch key {
	case "id":
		return ixID, true
	case "created_at":
		return ixCreated, true
	case "updated_at":
		return ixUpdated, true
	case "name":
		return ixName, true
	case "status":
		return ixStatus, true
	case "size":
		return ixSize, true
	case "disk_format":
		return ixDiskFormat, true
	case "container_format":
		return ixContainerFormat, true
	}
	return 0, false
}

var indexSortKey = [...]string{
	ixID: "id", ixCreated: "created_at", ixUpdated: "updated_at", ixName: "name", ixStatus: "status",
	ixSize: "size", ixDiskFormat: "disk_format", ixContainerFormat: "container_format",
}

// filterIndex returns the index a filter field's walk uses, and whether
// its keys carry the sort key's null flag before the filter prefix.
func filterIndex(field string) (ix index, nullable bool) {
	switch field {
	case "owner":
		return ixOwner, false
	case "visibility":
		return ixVisibility, false
	case "status":
		return ixStatus, false
	case "name":
		return ixName, true
	case "disk_format":
		return ixDiskFormat, true
	case "container_format":
		return ixContainerFormat, true
	}
	panic("raftfsm: unknown filter field " + field)
}

// encNullString appends a string that sorts after null.
func encNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = append(b, *s...)
	return append(b, 0)
}

func encString(b []byte, s string) []byte {
	b = append(b, s...)
	return append(b, 0)
}

func encTime(b []byte, img *catalog.Image) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(img.CreatedAt.UnixNano()))
}

// sortValue appends the encoding of img's value for sort key key.
func sortValue(b []byte, key string, img *catalog.Image) []byte {
	switch key {
	case "created_at":
		return binary.BigEndian.AppendUint64(b, uint64(img.CreatedAt.UnixNano()))
	case "updated_at":
		return binary.BigEndian.AppendUint64(b, uint64(img.UpdatedAt.UnixNano()))
	case "name":
		return encNullString(b, img.Name)
	case "status":
		return encString(b, img.Status)
	case "size":
		if img.Size == nil {
			return append(b, 0)
		}
		b = append(b, 1)
		return binary.BigEndian.AppendUint64(b, uint64(*img.Size))
	case "id":
		return b
	case "disk_format":
		return encNullString(b, img.DiskFormat)
	case "container_format":
		return encNullString(b, img.ContainerFormat)
	}
	panic("raftfsm: unknown sort key " + key)
}

// SortIndexKey is the key of img in the ordered index for sort key key:
// the key's value, then created_at, then id as tie-breakers. Indexes
// order images as these keys' bytes do.
func SortIndexKey(key string, img *catalog.Image) []byte {
	b := sortValue(make([]byte, 0, 64), key, img)
	if key != "created_at" && key != "id" {
		b = encTime(b, img)
	}
	return encString(b, img.ID)
}

// FilterPrefix is the key prefix shared by every image whose field equals
// value in the filter index of field.
func FilterPrefix(value string) []byte {
	return encString(make([]byte, 0, len(value)+1), value)
}

// filterValues returns img's value for a filter field (nil: not indexed).
func filterValues(field string, img *catalog.Image) []string {
	one := func(p *string) []string {
		if p == nil {
			return nil
		}
		return []string{*p}
	}
	switch field {
	case "owner":
		return one(img.Owner)
	case "status":
		return []string{img.Status}
	case "name":
		return one(img.Name)
	case "visibility":
		return []string{img.Visibility}
	case "disk_format":
		return one(img.DiskFormat)
	case "container_format":
		return one(img.ContainerFormat)
	}
	panic("raftfsm: unknown filter field " + field)
}

// FilterIndexKey is img's key in the filter index of field for value.
func FilterIndexKey(value string, img *catalog.Image) []byte {
	b := FilterPrefix(value)
	b = encTime(b, img)
	return encString(b, img.ID)
}

// recFilterValue returns r's value of a filter field.
func recFilterValue(field string, r *imageRec) (string, bool) {
	switch field {
	case "owner":
		return value(r.owner)
	case "status":
		return value(r.status)
	case "name":
		return r.name, r.hasName()
	case "visibility":
		return value(r.visibility)
	case "disk_format":
		return value(r.diskFormat)
	case "container_format":
		return value(r.containerFormat)
	}
	panic("raftfsm: unknown filter field " + field)
}

// recSortValue is sortValue over a record.
func recSortValue(b []byte, ix index, r *imageRec) []byte {
	nullable := func(s string, ok bool) []byte {
		if !ok {
			return append(b, 0)
		}
		return encString(append(b, 1), s)
	}
	switch ix {
	case ixCreated:
		return binary.BigEndian.AppendUint64(b, r.created)
	case ixUpdated:
		return binary.BigEndian.AppendUint64(b, r.updated)
	case ixName:
		return nullable(r.name, r.hasName())
	case ixStatus:
		s, _ := value(r.status)
		return encString(b, s)
	case ixSize:
		if !r.hasSize() {
			return append(b, 0)
		}
		return binary.BigEndian.AppendUint64(append(b, 1), uint64(r.size))
	case ixID:
		return b
	case ixDiskFormat:
		return nullable(value(r.diskFormat))
	case ixContainerFormat:
		return nullable(value(r.containerFormat))
	}
	panic("raftfsm: no sort value for index")
}

// recKey is r's key in index ix: SortIndexKey, or FilterIndexKey for the
// owner and visibility indexes (which hold only images with a value). A
// probe's key is its enc.
func recKey(ix index, r *imageRec) []byte {
	if r.flags&recProbe != 0 {
		return []byte(r.enc)
	}
	var b []byte
	switch ix {
	case ixOwner, ixVisibility:
		s, _ := value(r.owner)
		if ix == ixVisibility {
			s, _ = value(r.visibility)
		}
		b = encString(make([]byte, 0, len(s)+len(r.id)+10), s)
	default:
		b = recSortValue(make([]byte, 0, len(r.name)+len(r.id)+20), ix, r)
		if ix == ixCreated || ix == ixID {
			return encString(b, r.id)
		}
	}
	b = binary.BigEndian.AppendUint64(b, r.created)
	return encString(b, r.id)
}

// probe returns a record that stands for a position in an index (where
// a seek starts): its key is key.
func probe(key []byte) *imageRec { return &imageRec{flags: recProbe, enc: string(key)} }

// compare orders two records in index ix as their keys' bytes do. Records
// with equal keys (only possible with NUL bytes in their strings) are
// ordered by id, so each record keeps its own place.
func compare(ix index, a, b *imageRec) int {
	if (a.flags|b.flags)&(recNUL|recProbe) != 0 {
		if c := bytes.Compare(recKey(ix, a), recKey(ix, b)); c != 0 || (a.flags|b.flags)&recProbe != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	}
	// Without NUL bytes, comparing the key's parts one by one orders
	// like comparing the keys' bytes (a terminated string that is a
	// prefix of another sorts first either way).
	var c int
	switch ix {
	case ixID:
		return strings.Compare(a.id, b.id)
	case ixCreated:
		if c = cmp.Compare(a.created, b.created); c == 0 {
			return strings.Compare(a.id, b.id)
		}
		return c
	case ixUpdated:
		c = cmp.Compare(a.updated, b.updated)
	case ixName:
		c = compareNullable(a.name, a.hasName(), b.name, b.hasName())
	case ixStatus:
		c = compareHandles(a.status, b.status)
	case ixSize:
		if c = compareBool(a.hasSize(), b.hasSize()); c == 0 {
			c = cmp.Compare(uint64(a.size), uint64(b.size))
		}
	case ixDiskFormat:
		c = compareNullableHandles(a.diskFormat, b.diskFormat)
	case ixContainerFormat:
		c = compareNullableHandles(a.containerFormat, b.containerFormat)
	case ixOwner:
		c = compareHandles(a.owner, b.owner)
	case ixVisibility:
		c = compareHandles(a.visibility, b.visibility)
	}
	if c != 0 {
		return c
	}
	if c = cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func compareNullable(a string, aok bool, b string, bok bool) int {
	if c := compareBool(aok, bok); c != 0 || !aok {
		return c
	}
	return strings.Compare(a, b)
}

func compareHandles(a, b interned) int {
	if a == b {
		return 0
	}
	as, _ := value(a)
	bs, _ := value(b)
	return strings.Compare(as, bs)
}

func compareNullableHandles(a, b interned) int {
	if a == b {
		return 0
	}
	as, aok := value(a)
	bs, bok := value(b)
	return compareNullable(as, aok, bs, bok)
}

// specKey is listSorted's key of r for a list of sort specs: each spec's
// value (then the id for an "id" spec), bit-inverted when descending, so
// one byte comparison orders by every spec.
func specKey(specs []catalog.SortSpec, r *imageRec) []byte {
	var b []byte
	for _, sp := range specs {
		start := len(b)
		ix, _ := sortIndex(sp.Key)
		b = recSortValue(b, ix, r)
		if ix == ixID {
			b = encString(b, r.id)
		}
		if sp.Desc {
			for i := start; i < len(b); i++ {
				b[i] = ^b[i]
			}
		}
	}
	return b
}

// compareSpecs orders two records as their specKeys' bytes do.
func compareSpecs(specs []catalog.SortSpec, a, b *imageRec) int {
	if (a.flags|b.flags)&recNUL != 0 {
		return bytes.Compare(specKey(specs, a), specKey(specs, b))
	}
	for _, sp := range specs {
		ix, _ := sortIndex(sp.Key)
		var c int
		switch ix {
		case ixID:
			c = strings.Compare(a.id, b.id)
		case ixCreated:
			c = cmp.Compare(a.created, b.created)
		default:
			// Compare the values alone: equal ids and creation
			// times make compare fall through to them.
			c = compareValue(ix, a, b)
		}
		if sp.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareValue compares the sort values alone (no tie-breakers).
func compareValue(ix index, a, b *imageRec) int {
	switch ix {
	case ixUpdated:
		return cmp.Compare(a.updated, b.updated)
	case ixName:
		return compareNullable(a.name, a.hasName(), b.name, b.hasName())
	case ixStatus:
		return compareHandles(a.status, b.status)
	case ixSize:
		if c := compareBool(a.hasSize(), b.hasSize()); c != 0 || !a.hasSize() {
			return c
		}
		return cmp.Compare(uint64(a.size), uint64(b.size))
	case ixDiskFormat:
		return compareNullableHandles(a.diskFormat, b.diskFormat)
	case ixContainerFormat:
		return compareNullableHandles(a.containerFormat, b.containerFormat)
	}
	panic("raftfsm: no sort value for index")
}
