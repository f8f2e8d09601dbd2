package catalog

// SortKeys are Glance's sort_key values.
var SortKeys = []string{"created_at", "updated_at", "name", "status", "size", "id", "disk_format", "container_format"}

// FilterFields are the single-valued attributes with an equality index
// (ordered by created_at within each value), used to answer filtered lists
// without a scan. Each image has at most one key per filter index, so a
// prefix check on that key tells whether a lower-bound walk has left the
// value's range.
var FilterFields = []string{"owner", "status", "name", "visibility", "disk_format", "container_format"}

// SortSpec is one sort key and its direction.
type SortSpec struct {
	Key  string
	Desc bool
}

// ListQuery selects a page of images.
type ListQuery struct {
	// SortKey is one of SortKeys ("" means created_at); ties are broken
	// by created_at, then id, in the same direction.
	SortKey string
	// Desc sorts in descending order.
	Desc bool
	// Then are further sort keys, each with its own direction, applied
	// after SortKey (before the created_at and id tie-breakers). Lists
	// with Then are answered by a scan.
	Then []SortSpec
	// Marker, when set, is the id of the image after which the page
	// starts; it must exist (ErrNotFound otherwise).
	Marker string
	// Limit caps the page (<= 0: no cap).
	Limit int
	// IndexField and IndexValue, when set, say that only images whose
	// FilterFields attribute IndexField equals IndexValue can match; the
	// index is used when SortKey is created_at.
	IndexField, IndexValue string
	// Match selects images; nil matches all.
	Match func(*Image) bool
}
