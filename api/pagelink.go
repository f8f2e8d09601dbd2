package api

import (
	"net/url"
	"strings"
)

// queryParam is one name=value of a request's query, decoded.
type queryParam struct{ name, value string }

// queryInOrder decodes a raw query keeping the client's order (url.Values
// does not). Pairs that do not decode are skipped: the request was
// validated before a link is built from it.
func queryInOrder(raw string) []queryParam {
	var out []queryParam
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
		out = append(out, queryParam{n, v})
	}
	return out
}

// pageLink builds a list's root-relative first or next link as Glance
// does: the request's parameters without marker, in the order the
// client gave them (a repeated name where it first appeared), then
// marker=marker last when marker is not "". With every, each value of a
// repeated parameter is kept (tag=a&tag=b pages stay filtered by both
// tags; Glance keeps the last); without, only the last one, as Glance.
func pageLink(path, rawQuery, marker string, every bool) string {
	params := queryInOrder(rawQuery)
	var names []string
	values := map[string][]string{}
	for _, p := range params {
		if p.name == "marker" {
			continue
		}
		if _, seen := values[p.name]; !seen {
			names = append(names, p.name)
		}
		if every {
			values[p.name] = append(values[p.name], p.value)
		} else {
			values[p.name] = []string{p.value}
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
