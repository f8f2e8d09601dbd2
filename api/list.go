package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// List limits from Glance's defaults.
const (
	defaultLimit = 25   // limit_param_default
	maxLimit     = 1000 // api_limit_max
)

// exactFilterAttrs are base attributes compared for equality.
var exactFilterAttrs = map[string]func(*catalog.Image) *string{
	"owner":         func(i *catalog.Image) *string { return i.Owner },
	"checksum":      func(i *catalog.Image) *string { return i.Checksum },
	"os_hash_value": func(i *catalog.Image) *string { return i.OSHashValue },
	"os_hash_algo":  func(i *catalog.Image) *string { return i.OSHashAlgo },
}

// inFilterAttrs accept an exact value or the in: operator.
var inFilterAttrs = map[string]func(*catalog.Image) *string{
	"name":             func(i *catalog.Image) *string { return i.Name },
	"id":               func(i *catalog.Image) *string { return &i.ID },
	"status":           func(i *catalog.Image) *string { return &i.Status },
	"container_format": func(i *catalog.Image) *string { return i.ContainerFormat },
	"disk_format":      func(i *catalog.Image) *string { return i.DiskFormat },
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Explanation: fmt.Sprintf(format, args...)}
}

// listPlan is a parsed GET /v2/images request.
type listPlan struct {
	query        catalog.ListQuery
	limit        int
	visibility   string // "" (default rules), or the visibility filter
	memberStatus string // member_status filter: accepted (default), pending, rejected, all
	matchers     []func(*catalog.Image) bool
	hidden       bool // os_hidden filter value
}

// parseList turns the query string into a plan, with Glance's 400s.
func parseList(a *Auth, q url.Values) (*listPlan, error) {
	p := &listPlan{limit: defaultLimit, memberStatus: catalog.MemberAccepted}
	if v, ok := last(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, badRequest("limit param must be an integer")
		}
		if n < 0 {
			return nil, badRequest("limit param must be positive")
		}
		p.limit = min(n, maxLimit)
	}
	p.query.Marker, _ = last(q, "marker")
	if err := p.parseSort(q); err != nil {
		return nil, err
	}
	for key, vals := range q {
		val := vals[len(vals)-1]
		switch key {
		case "limit", "marker", "sort", "sort_key", "sort_dir":
		case "changes-since":
			return nil, badRequest(`The "changes-since" filter is no longer available on v2.`)
		case "visibility":
			if !slices.Contains([]string{"public", "private", "shared", "community", "all"}, val) {
				return nil, badRequest("Invalid visibility value: %s", val)
			}
			p.visibility = val
		case "member_status":
			if !slices.Contains([]string{"accepted", "pending", "rejected", "all"}, val) {
				return nil, badRequest("Invalid status: %s", val)
			}
			p.memberStatus = val
		case "tag":
			tags := slices.Clone(vals)
			p.matchers = append(p.matchers, func(img *catalog.Image) bool {
				for _, t := range tags {
					if !img.HasTag(t) {
						return false
					}
				}
				return true
			})
		case "os_hidden", "protected":
			// Glance lower-cases os_hidden but takes protected as is.
			if key == "os_hidden" {
				val = strings.ToLower(val)
			}
			if val != "true" && val != "false" {
				return nil, badRequest("Invalid value '%s' for '%s' filter. Valid values are 'true' or 'false'.", val, key)
			}
			b := val == "true"
			if key == "os_hidden" {
				p.hidden = b
			} else {
				p.matchers = append(p.matchers, func(img *catalog.Image) bool { return img.Protected == b })
			}
		case "size_min", "size_max":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, badRequest("Unable to filter on a range with a non-numeric value.")
			}
			isMin := key == "size_min"
			p.matchers = append(p.matchers, func(img *catalog.Image) bool {
				if img.Size == nil {
					return false
				}
				if isMin {
					return *img.Size >= n
				}
				return *img.Size <= n
			})
		case "created_at", "updated_at":
			m, err := timeFilter(key, val)
			if err != nil {
				return nil, err
			}
			p.matchers = append(p.matchers, m)
		case "min_ram", "min_disk", "virtual_size", "size":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, badRequest("Invalid value for %s: %s", key, val)
			}
			p.matchers = append(p.matchers, intFilter(key, n))
		default:
			if get, ok := inFilterAttrs[key]; ok {
				if err := p.inFilter(key, val, get); err != nil {
					return nil, err
				}
				continue
			}
			if get, ok := exactFilterAttrs[key]; ok {
				want := val
				p.matchers = append(p.matchers, func(img *catalog.Image) bool { v := get(img); return v != nil && *v == want })
				if key == "owner" {
					p.query.IndexField, p.query.IndexValue = "owner", val
				}
				continue
			}
			prop, want := key, val
			p.matchers = append(p.matchers, func(img *catalog.Image) bool { v, ok := img.Properties[prop]; return ok && v == want })
		}
	}
	p.query.Limit = p.limit
	return p, nil
}

func last(q url.Values, key string) (string, bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// inFilter parses an exact value or "in:a,b,\"c,d\"" for key.
func (p *listPlan) inFilter(key, val string, get func(*catalog.Image) *string) error {
	var values []string
	if op, rest, ok := strings.Cut(val, ":"); ok {
		switch op {
		case "in":
			vs, err := splitQuoted(rest)
			if err != nil {
				return err
			}
			values = vs
		case "eq":
			values = []string{rest}
		default:
			return badRequest("Unable to filter on a unknown operator.")
		}
	} else {
		values = []string{val}
		if fieldIndexed(key) {
			p.query.IndexField, p.query.IndexValue = key, val
		}
	}
	p.matchers = append(p.matchers, func(img *catalog.Image) bool {
		v := get(img)
		return v != nil && slices.Contains(values, *v)
	})
	return nil
}

func fieldIndexed(key string) bool { return slices.Contains(catalog.FilterFields, key) }

// splitQuoted splits a comma list where double quotes protect commas.
func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && !inQuote && cur.Len() == 0 && !quoted:
			inQuote, quoted = true, true
		case c == '"' && inQuote:
			inQuote = false
			if i+1 < len(s) && s[i+1] != ',' {
				return nil, badRequest("Invalid filter value %s. There is no comma after closing quotation mark.", s)
			}
		case c == ',' && !inQuote:
			out = append(out, cur.String())
			cur.Reset()
			quoted = false
		default:
			if quoted && !inQuote {
				return nil, badRequest("Invalid filter value %s. There is no comma after closing quotation mark.", s)
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, badRequest("Invalid filter value %s. The quote is not closed.", s)
	}
	return append(out, cur.String()), nil
}

func intFilter(key string, n int64) func(*catalog.Image) bool {
	return func(img *catalog.Image) bool {
		switch key {
		case "min_ram":
			return img.MinRAM == n
		case "min_disk":
			return img.MinDisk == n
		case "size":
			return img.Size != nil && *img.Size == n
		}
		return img.VirtualSize != nil && *img.VirtualSize == n
	}
}

// timeFilter parses "[op:]ISO8601" for created_at/updated_at.
func timeFilter(key, val string) (func(*catalog.Image) bool, error) {
	op, ts := "eq", val
	if o, rest, ok := strings.Cut(val, ":"); ok && slices.Contains([]string{"gt", "gte", "lt", "lte", "eq", "neq"}, o) {
		op, ts = o, rest
	}
	t, err := parseISOTime(ts)
	if err != nil {
		return nil, badRequest("Unable to parse datetime '%s'.", ts)
	}
	return func(img *catalog.Image) bool {
		v := img.CreatedAt
		if key == "updated_at" {
			v = img.UpdatedAt
		}
		v = v.Truncate(time.Second)
		switch op {
		case "gt":
			return v.After(t)
		case "gte":
			return !v.Before(t)
		case "lt":
			return v.Before(t)
		case "lte":
			return !v.After(t)
		case "neq":
			return !v.Equal(t)
		}
		return v.Equal(t)
	}, nil
}

func parseISOTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: bad format", s)
}

// match builds the row filter: Glance's list visibility rules, then the
// request's filters. shared maps the images the caller is a member of.
func (p *listPlan) match(a *Auth, shared map[string]*catalog.Member) func(*catalog.Image) bool {
	matchers := p.matchers
	vis, hidden, memberStatus := p.visibility, p.hidden, p.memberStatus
	return func(img *catalog.Image) bool {
		if img.Status == catalog.StatusKilled || img.Status == catalog.StatusDeleted || img.OSHidden != hidden {
			return false
		}
		if !listVisible(a, img, vis, shared[img.ID], memberStatus) {
			return false
		}
		for _, m := range matchers {
			if !m(img) {
				return false
			}
		}
		return true
	}
}

// listVisible applies Glance's result-set rules for lists: the union of
// public and community images, the caller's own, and shared images the
// caller is a member of with the wanted member status; community images
// only with visibility=community|all unless owned.
func listVisible(a *Auth, img *catalog.Image, vis string, mem *catalog.Member, memberStatus string) bool {
	owned := (img.Owner == nil && a.Project == "") || ownedBy(a, img)
	if vis != "" && vis != "all" && img.Visibility != vis {
		return false
	}
	if img.Visibility == catalog.VisibilityCommunity && vis == "" && !owned {
		return false
	}
	if a.Admin || owned {
		return true
	}
	switch img.Visibility {
	case catalog.VisibilityPublic, catalog.VisibilityCommunity:
		return true
	case catalog.VisibilityShared:
		return mem != nil && (memberStatus == "all" || mem.Status == memberStatus)
	}
	return false
}

// listImages serves GET /v2/images.
// Like Glance, it ignores a request body.
func (ia *imageAPI) listImages(w http.ResponseWriter, r *http.Request) error {
	a := authFrom(r.Context())
	q := r.URL.Query()
	plan, err := parseList(a, q)
	if err != nil {
		return err
	}
	if err := roleRule(a, actGetImages, "reader"); err != nil {
		return err
	}
	var shared map[string]*catalog.Member
	if a.Project != "" && !a.Admin {
		if shared, err = ia.backend.Memberships(r.Context(), a.Project); err != nil {
			return err
		}
	}
	plan.query.Match = plan.match(a, shared)
	if plan.query.Marker != "" {
		m, err := ia.backend.Image(r.Context(), plan.query.Marker)
		if errors.Is(err, catalog.ErrNotFound) {
			// A marker just created through another node: look again
			// after a read barrier, as for any id.
			if err := ia.backend.Sync(r.Context()); err != nil {
				return err
			}
			m, err = ia.backend.Image(r.Context(), plan.query.Marker)
		}
		if err != nil || !allowed(actGetImage, subject{auth: a, img: m, member: shared[m.ID]}) {
			return badRequest("marker %s could not be found.", plan.query.Marker)
		}
	}
	var imgs []*catalog.Image
	if plan.limit > 0 {
		imgs, err = ia.backend.ListImages(r.Context(), plan.query)
		if err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString(`{"images": [`)
	view := ia.srv.imageView(r.Context())
	for i, img := range imgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(imageJSON(img, view))
	}
	b.WriteString(`], "first": `)
	b.WriteString(jsonString(PageLink("/v2/images", r.URL.RawQuery, "", true)))
	b.WriteString(`, "schema": "/v2/schemas/images"`)
	if plan.limit > 0 && len(imgs) == plan.limit {
		b.WriteString(`, "next": `)
		b.WriteString(jsonString(PageLink("/v2/images", r.URL.RawQuery, imgs[len(imgs)-1].ID, true)))
	}
	b.WriteString("}")
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write([]byte(b.String()))
	return err
}
