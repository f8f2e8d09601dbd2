package api

import (
	"slices"
	"testing"
)

func TestPageLink(t *testing.T) {
	for _, tc := range []struct {
		raw, marker string
		every       bool
		want        string
	}{
		{"", "", false, "/v2/x"},
		{"marker=m0", "", true, "/v2/x"},
		{"sort_dir=asc&limit=2&marker=m0&sort_key=name", "m1", false, "/v2/x?sort_dir=asc&limit=2&sort_key=name&marker=m1"},
		{"name=a%20b&limit=1", "", false, "/v2/x?name=a+b&limit=1"},
		{"tag=a&limit=1&tag=b", "", true, "/v2/x?tag=a&tag=b&limit=1"},
		{"tag=a&limit=1&tag=b", "m", false, "/v2/x?tag=b&limit=1&marker=m"},
		{"a=%zz&b=1", "", false, "/v2/x?b=1"},
		{"k=%2F", "", false, "/v2/x?k=%2F"},
	} {
		if got := PageLink("/v2/x", tc.raw, tc.marker, tc.every); got != tc.want {
			t.Errorf("PageLink(%q, %q, every %v) = %q, want %q", tc.raw, tc.marker, tc.every, got, tc.want)
		}
	}
	got := QueryAsDict("b=1&a=2&b=3&&c")
	want := []QueryParam{{"b", "3"}, {"a", "2"}, {"c", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("QueryAsDict = %v, want %v", got, want)
	}
}
