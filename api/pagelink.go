package api

import (
	"net/url"
	"strings"
)

// QueryParam is one name=value of a request's query, decoded.
type QueryParam struct{ Name, Value string }

// QueryInOrder decodes a raw query keeping the client's order (url.Values
// does not), every occurrence of a repeated name included. Pairs that do
// not decode are skipped: requests with them were refused before.
func QueryInOrder(raw string) []QueryParam {
	var out []QueryParam
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		n, err1 := url.QueryUnescape(name)
		v, err2 := url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, QueryParam{n, v})
	}
	return out
}

// QueryAsDict is the query as Python's dict(request.params) holds it,
// which Glance's handlers read: names in the order they first appear,
// each with its last value.
func QueryAsDict(raw string) []QueryParam {
	var out []QueryParam
	index := map[string]int{}
	for _, p := range QueryInOrder(raw) {
		if i, ok := index[p.Name]; ok {
			out[i].Value = p.Value
			continue
		}
		index[p.Name] = len(out)
		out = append(out, p)
	}
	return out
}

// PageLink builds a list's root-relative first or next link as Glance
// does: the request's parameters without marker, in the order the
// client gave them, then marker=marker last when marker is not "". With
// every, each value of a repeated parameter is kept, grouped where the
// name first appeared (tag=a&tag=b pages stay filtered by both tags;
// Glance keeps the last); without, the last one, as Glance.
func PageLink(path, rawQuery, marker string, every bool) string {
	var names []string
	values := map[string][]string{}
	for _, p := range QueryInOrder(rawQuery) {
		if p.Name == "marker" {
			continue
		}
		if _, seen := values[p.Name]; !seen {
			names = append(names, p.Name)
		}
		if every {
			values[p.Name] = append(values[p.Name], p.Value)
		} else {
			values[p.Name] = []string{p.Value}
		}
	}
	var parts []string
	for _, n := range names {
		for _, v := range values[n] {
			parts = append(parts, url.QueryEscape(n)+"="+url.QueryEscape(v))
		}
	}
	if marker != "" {
		parts = append(parts, "marker="+url.QueryEscape(marker))
	}
	if len(parts) == 0 {
		return path
	}
	return path + "?" + strings.Join(parts, "&")
}
