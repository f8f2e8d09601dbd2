package api

import (
	"net/url"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
)

// parseSort reads sort=key:dir,... or sort_key/sort_dir lists.
func (p *listPlan) parseSort(q url.Values) error {
	_, hasSort := q["sort"]
	keys, dirs := q["sort_key"], q["sort_dir"]
	if hasSort && (len(keys) > 0 || len(dirs) > 0) {
		return badRequest("Old and new sorting syntax cannot be combined")
	}
	var specs []catalog.SortSpec
	if hasSort {
		v, _ := last(q, "sort")
		for _, part := range strings.Split(v, ",") {
			k, d, _ := strings.Cut(part, ":")
			if d = strings.TrimSpace(d); d == "" {
				d = "desc"
			}
			spec, err := sortSpec(strings.TrimSpace(k), d)
			if err != nil {
				return err
			}
			specs = append(specs, spec)
		}
	} else {
		if len(keys) == 0 {
			keys = []string{"created_at"}
		}
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return badRequest("Number of sort dirs does not match the number of sort keys")
		}
		for i, k := range keys {
			d := "desc"
			switch {
			case len(dirs) == 1:
				d = dirs[0]
			case len(dirs) > 1:
				d = dirs[i]
			}
			spec, err := sortSpec(k, d)
			if err != nil {
				return err
			}
			specs = append(specs, spec)
		}
	}
	// Glance's database layer (_image_get_all) gets one direction per key,
	// or a single one for all keys; it appends created_at and id (those
	// absent) as tie-breakers in that single direction, else in desc.
	tieDesc := true
	if (hasSort && len(specs) == 1) || (!hasSort && len(dirs) == 1) {
		tieDesc = specs[0].Desc
	}
	specs = withTieBreakers(specs, tieDesc)
	p.query.SortKey, p.query.Desc = specs[0].Key, specs[0].Desc
	p.query.Then = specs[1:]
	return nil
}

// withTieBreakers returns the shortest sort specs that the catalog orders
// like specs followed by Glance's tie-breakers (created_at, then id, each
// if absent, in direction tieDesc). The catalog itself breaks ties by
// created_at, then id, in the direction of the last spec, so a trailing
// created_at, or a trailing id after an earlier created_at, in the same
// direction as the spec before it is implicit.
func withTieBreakers(specs []catalog.SortSpec, tieDesc bool) []catalog.SortSpec {
	has := func(specs []catalog.SortSpec, key string) bool {
		return slices.ContainsFunc(specs, func(s catalog.SortSpec) bool { return s.Key == key })
	}
	out := slices.Clone(specs)
	if !has(out, "id") {
		if !has(out, "created_at") {
			out = append(out, catalog.SortSpec{Key: "created_at", Desc: tieDesc})
		}
		out = append(out, catalog.SortSpec{Key: "id", Desc: tieDesc})
	}
	for len(out) > 1 {
		t, prev := out[len(out)-1], out[len(out)-2]
		implicit := t.Key == "created_at" || (t.Key == "id" && has(out[:len(out)-1], "created_at"))
		if !implicit || t.Desc != prev.Desc {
			break
		}
		out = out[:len(out)-1]
	}
	return out
}

func sortSpec(key, dir string) (catalog.SortSpec, error) {
	if !slices.Contains(catalog.SortKeys, key) {
		// Glance lists the keys in its own order.
		return catalog.SortSpec{}, badRequest("Invalid sort key: %s. It must be one of the following: "+
			"name, status, container_format, disk_format, size, id, created_at, updated_at.", key)
	}
	if dir != "asc" && dir != "desc" {
		return catalog.SortSpec{}, badRequest("Invalid sort direction: %s", dir)
	}
	return catalog.SortSpec{Key: key, Desc: dir == "desc"}, nil
}
