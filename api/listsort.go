package api

import (
	"net/url"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/raftfsm"
)

// parseSort reads sort=key:dir,... or sort_key/sort_dir lists.
func (p *listPlan) parseSort(q url.Values) error {
	_, hasSort := q["sort"]
	keys, dirs := q["sort_key"], q["sort_dir"]
	if hasSort && (len(keys) > 0 || len(dirs) > 0) {
		return badRequest("The 'sort' parameter can not be used with the 'sort_key' or 'sort_dir' parameters.")
	}
	var specs []raftfsm.SortSpec
	if hasSort {
		v, _ := last(q, "sort")
		for _, part := range strings.Split(v, ",") {
			k, d, hasDir := strings.Cut(strings.TrimSpace(part), ":")
			if !hasDir {
				d = "desc"
			}
			spec, err := sortSpec(k, d)
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
	p.query.SortKey, p.query.Desc = specs[0].Key, specs[0].Desc
	p.query.Then = specs[1:]
	// created_at and id are the implicit tie-breakers: drop them when they
	// are listed last in the same direction.
	for len(p.query.Then) > 0 {
		t := p.query.Then[len(p.query.Then)-1]
		if (t.Key == "created_at" || t.Key == "id") && t.Desc == p.query.Desc {
			p.query.Then = p.query.Then[:len(p.query.Then)-1]
			continue
		}
		break
	}
	return nil
}

func sortSpec(key, dir string) (raftfsm.SortSpec, error) {
	if !slices.Contains(raftfsm.SortKeys, key) {
		return raftfsm.SortSpec{}, badRequest("Invalid sort key: %s. It must be one of the following: %s.", key, strings.Join(raftfsm.SortKeys, ", "))
	}
	if dir != "asc" && dir != "desc" {
		return raftfsm.SortSpec{}, badRequest("Invalid sort direction: %s", dir)
	}
	return raftfsm.SortSpec{Key: key, Desc: dir == "desc"}, nil
}
