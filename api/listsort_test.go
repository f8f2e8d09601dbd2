package api

import (
	"net/url"
	"slices"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
)

func TestParseSortTieBreakers(t *testing.T) {
	asc := func(k string) catalog.SortSpec { return catalog.SortSpec{Key: k} }
	desc := func(k string) catalog.SortSpec { return catalog.SortSpec{Key: k, Desc: true} }
	for _, tc := range []struct {
		query string
		want  []catalog.SortSpec // first key, then Then
	}{
		{"", []catalog.SortSpec{desc("created_at")}},
		{"sort_key=name&sort_dir=asc", []catalog.SortSpec{asc("name")}},
		{"sort=name:asc", []catalog.SortSpec{asc("name")}},
		{"sort=name", []catalog.SortSpec{desc("name")}},
		{"sort=name:", []catalog.SortSpec{desc("name")}},
		{"sort_key=name&sort_key=size&sort_dir=asc", []catalog.SortSpec{asc("name"), asc("size")}},
		{"sort_key=name&sort_key=size", []catalog.SortSpec{desc("name"), desc("size")}},
		// Several directions: Glance's tie-breakers are desc.
		{"sort=name:asc,size:asc", []catalog.SortSpec{asc("name"), asc("size"), desc("created_at")}},
		{"sort=name:asc,size:desc", []catalog.SortSpec{asc("name"), desc("size")}},
		{"sort_key=name&sort_key=size&sort_dir=asc&sort_dir=asc", []catalog.SortSpec{asc("name"), asc("size"), desc("created_at")}},
		{"sort=name:asc,size:desc,created_at:asc", []catalog.SortSpec{asc("name"), desc("size"), asc("created_at"), desc("id")}},
		{"sort=name:asc,created_at:asc", []catalog.SortSpec{asc("name"), asc("created_at"), desc("id")}},
		{"sort=name:asc,created_at:desc", []catalog.SortSpec{asc("name"), desc("created_at")}},
		{"sort=name:asc,id:asc", []catalog.SortSpec{asc("name"), asc("id")}},
		{"sort_key=name&sort_key=id&sort_dir=asc", []catalog.SortSpec{asc("name"), asc("id")}},
		{"sort=created_at:asc,id:asc", []catalog.SortSpec{asc("created_at")}},
		{"sort=%20name%20:%20asc%20,size", []catalog.SortSpec{asc("name"), desc("size")}},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		p := &listPlan{}
		if err := p.parseSort(q); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		got := append([]catalog.SortSpec{{Key: p.query.SortKey, Desc: p.query.Desc}}, p.query.Then...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: specs %v, want %v", tc.query, got, tc.want)
		}
	}
}
