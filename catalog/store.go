package catalog

import (
	"slices"
	"strings"
)

// Store is one store of GET /v2/info/stores.
type Store struct {
	ID          string
	Description string
	Default     bool
	// Type and Properties are shown by /v2/info/stores/detail.
	Type       string
	Properties map[string]any
	// Nodes are the ids of the nodes whose copies count for the store
	// (every node for the default store, the zone's nodes otherwise).
	Nodes []string
}

// Usage is a project's usage and the configured limits (0: unlimited).
// Sizes are in bytes.
type Usage struct {
	ImageSizeTotal      UsageItem
	ImageStageTotal     UsageItem
	ImageCountTotal     UsageItem
	ImageCountUploading UsageItem
}

// Limited reports whether any resource has a limit (a quota is
// configured).
func (u Usage) Limited() bool {
	return u.ImageSizeTotal.Limit > 0 || u.ImageStageTotal.Limit > 0 || u.ImageCountTotal.Limit > 0 || u.ImageCountUploading.Limit > 0
}

// UsageItem is one resource's usage and limit (0: unlimited).
type UsageItem struct {
	Usage, Limit int64
}

// JoinStores is a store list as the os_glance_* properties hold it:
// sorted, comma-separated, without duplicates.
func JoinStores(stores []string) string {
	s := slices.Clone(stores)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// SplitStores parses a store list property ("" is none).
func SplitStores(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
