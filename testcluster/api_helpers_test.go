package testcluster_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/testcluster"
)

// Media types and header values the conformance tests use.
const (
	patchV20Type = "application/openstack-images-v2.0-json-patch"
	patchV21Type = "application/openstack-images-v2.1-json-patch"
	octetStream  = "application/octet-stream"
)

// apiClient sends raw HTTP requests to one node's Glance API with a fixed
// identity (noauth headers).
type apiClient struct {
	base string       // e.g. http://127.0.0.1:40123
	hdr  []string     // identity headers, as name/value pairs
	hc   *http.Client // nil: testcluster.Client (which keeps no cookies)
}

// newAPIClient returns a client for node 0 of c acting as the noauth
// admin (no identity headers).
func newAPIClient(c *testcluster.Cluster) apiClient { return apiClient{base: c.URL(0)} }

// as returns a client acting as project with roles (default: Glance's
// member and reader, which noauth grants when X-Roles is absent).
func (c apiClient) as(project string, roles ...string) apiClient {
	h := []string{"X-Project-Id", project}
	if len(roles) > 0 {
		h = append(h, "X-Roles", strings.Join(roles, ","))
	}
	return apiClient{base: c.base, hdr: h, hc: c.hc}
}

// apiResp is a complete HTTP response.
type apiResp struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

// do sends a request. body is nil, a string, a []byte or an io.Reader (sent
// chunked). hdr are name/value pairs added after the identity headers;
// Accept defaults to application/json unless hdr sets it (an empty value
// sends no Accept header at all).
func (c apiClient) do(t testing.TB, method, path string, body any, hdr ...string) *apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		t.Fatalf("do: unsupported body type %T", body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if _, ok := body.(io.Reader); ok {
		req.ContentLength = -1 // chunked
	}
	req.Header.Set("Accept", "application/json")
	all := append(slices.Clone(c.hdr), hdr...)
	for i := 0; i+1 < len(all); i += 2 {
		if all[i+1] == "" {
			req.Header.Del(all[i])
			continue
		}
		req.Header.Set(all[i], all[i+1])
	}
	hc := c.hc
	if hc == nil {
		hc = testcluster.Client
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &apiResp{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: data}
}

// want fails the test unless the response has status.
func (r *apiResp) want(t testing.TB, status int) *apiResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body: %.600s", r.method, r.path, r.status, status, r.body)
	}
	return r
}

// obj decodes the body as a JSON object.
func (r *apiResp) obj(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want application/json", r.method, r.path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v; body: %.600s", r.method, r.path, err, r.body)
	}
	return m
}

// errMessage returns the "message" of a JSON error body.
func (r *apiResp) errMessage(t testing.TB) string {
	t.Helper()
	m := r.obj(t)
	msg, _ := m["message"].(string)
	return msg
}

// wantErr checks the status and that the JSON error message contains
// text.
func (r *apiResp) wantErr(t testing.TB, status int, text string) {
	t.Helper()
	r.want(t, status)
	if msg := r.errMessage(t); !strings.Contains(msg, text) {
		t.Fatalf("%s %s: message %q does not contain %q", r.method, r.path, msg, text)
	}
}

// create posts an image and returns it, failing unless the answer is 201.
func (c apiClient) create(t testing.TB, body string) map[string]any {
	t.Helper()
	return c.do(t, "POST", "/v2/images", body, "Content-Type", "application/json").want(t, http.StatusCreated).obj(t)
}

// show returns an image, failing unless the answer is 200.
func (c apiClient) show(t testing.TB, id string) map[string]any {
	t.Helper()
	return c.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusOK).obj(t)
}

// patch sends a v2.1 JSON patch.
func (c apiClient) patch(t testing.TB, id, body string) *apiResp {
	t.Helper()
	return c.do(t, "PATCH", "/v2/images/"+id, body, "Content-Type", patchV21Type)
}

// upload sends image data as application/octet-stream.
func (c apiClient) upload(t testing.TB, id string, data any, hdr ...string) *apiResp {
	t.Helper()
	return c.do(t, "PUT", "/v2/images/"+id+"/file", data, append([]string{"Content-Type", octetStream}, hdr...)...)
}

// list sends GET /v2/images?query and returns the page's image ids and
// the decoded body.
func (c apiClient) list(t testing.TB, query string) ([]string, map[string]any) {
	t.Helper()
	path := "/v2/images"
	if query != "" {
		path += "?" + query
	}
	m := c.do(t, "GET", path, nil).want(t, http.StatusOK).obj(t)
	return imageIDs(t, m), m
}

// listNames is list returning image names.
func (c apiClient) listNames(t testing.TB, query string) []string {
	t.Helper()
	_, m := c.list(t, query)
	var names []string
	for _, img := range m["images"].([]any) {
		n, _ := img.(map[string]any)["name"].(string)
		names = append(names, n)
	}
	return names
}

// listAll follows next links from GET /v2/images?query and returns every
// id in order plus the number of images on each page.
func (c apiClient) listAll(t testing.TB, query string, limit int) (ids []string, pages []int) {
	t.Helper()
	path := "/v2/images?" + query
	for range 1000 {
		m := c.do(t, "GET", path, nil).want(t, http.StatusOK).obj(t)
		page := imageIDs(t, m)
		ids = append(ids, page...)
		pages = append(pages, len(page))
		next, hasNext := m["next"].(string)
		if hasNext != (len(page) == limit) {
			t.Fatalf("GET %s: %d images with limit %d, next present=%v", path, len(page), limit, hasNext)
		}
		if !hasNext {
			return ids, pages
		}
		if !strings.HasPrefix(next, "/v2/images?") {
			t.Fatalf("next link %q is not root-relative /v2/images?...", next)
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatalf("next link %q: %v", next, err)
		}
		if got := u.Query().Get("marker"); got != page[len(page)-1] {
			t.Fatalf("next link %q: marker %q, want the page's last id %s", next, got, page[len(page)-1])
		}
		path = next
	}
	t.Fatal("listAll: too many pages")
	return nil, nil
}

func imageIDs(t testing.TB, m map[string]any) []string {
	t.Helper()
	list, ok := m["images"].([]any)
	if !ok {
		t.Fatalf("list body has no images array: %v", m)
	}
	ids := make([]string, 0, len(list))
	for _, v := range list {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	return ids
}

// jsonKeys returns the top-level keys of a JSON object in document order.
func jsonKeys(t testing.TB, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %.200s", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("JSON keys: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("JSON keys: %v", err)
		}
	}
	return keys
}

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkIDs fails unless got holds exactly the ids of want (any order).
func checkIDs(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !sameSet(got, want) {
		t.Fatalf("%s: got %d ids %v, want %d ids %v", what, len(got), got, len(want), want)
	}
}
