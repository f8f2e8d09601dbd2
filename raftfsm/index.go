package raftfsm

import (
	"encoding/binary"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/p2pglance/p2pglance/catalog"
)

// indexedSortKeys have an ordered index of their own; lists sorted by the
// other (rarely used, low-cardinality) keys scan and sort in memory. "id"
// uses the primary index, whose keys are the same as SortIndexKey's.
// Every index costs time in Apply, so only the common keys get one.
var indexedSortKeys = []string{"created_at", "updated_at", "name", "size"}

const (
	tableImages     = "images"
	tableTombstones = "tombstones"
)

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
// the key's value, then created_at, then id as tie-breakers.
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

// bytesIndexer indexes an object by a computed byte key; queries pass the
// key bytes themselves.
type bytesIndexer struct {
	keys func(*catalog.Image) [][]byte
}

func (x bytesIndexer) FromObject(raw any) (bool, [][]byte, error) {
	img, ok := raw.(*catalog.Image)
	if !ok {
		return false, nil, fmt.Errorf("index object %T: %w", raw, ErrBadCommand)
	}
	ks := x.keys(img)
	return len(ks) > 0, ks, nil
}

func (bytesIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index args: want 1, got %d: %w", len(args), ErrBadCommand)
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("index arg %T: %w", args[0], ErrBadCommand)
	}
	return b, nil
}

func sortIndexName(key string) string {
	if key == "id" {
		return "id"
	}
	return "sort_" + key
}
func filterIndexName(field string) string { return "by_" + field }

func schema() *memdb.DBSchema {
	idx := map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
	}
	for _, k := range indexedSortKeys {
		idx[sortIndexName(k)] = &memdb.IndexSchema{
			Name: sortIndexName(k), Unique: true,
			Indexer: bytesIndexer{keys: func(img *catalog.Image) [][]byte { return [][]byte{SortIndexKey(k, img)} }},
		}
	}
	for _, f := range catalog.FilterFields {
		idx[filterIndexName(f)] = &memdb.IndexSchema{
			Name: filterIndexName(f), Unique: true, AllowMissing: true,
			Indexer: bytesIndexer{keys: func(img *catalog.Image) [][]byte {
				vals := filterValues(f, img)
				out := make([][]byte, len(vals))
				for i, v := range vals {
					out[i] = FilterIndexKey(v, img)
				}
				return out
			}},
		}
	}
	tables := map[string]*memdb.TableSchema{
		tableImages: {Name: tableImages, Indexes: idx},
		tableTombstones: {Name: tableTombstones, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		}},
	}
	for name, t := range memberDocSchema() {
		tables[name] = t
	}
	return &memdb.DBSchema{Tables: tables}
}
