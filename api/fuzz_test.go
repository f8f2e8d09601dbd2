package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/api/apitest"
	"github.com/p2pglance/p2pglance/api/schema"
	"github.com/p2pglance/p2pglance/api/schema/schematest"
	"github.com/p2pglance/p2pglance/catalog"
)

// Fixture ids of the fuzz targets.
const (
	fuzzImageID = "11111111-2222-3333-4444-555555555555" // p1's, shared with p2 (pending)
	fuzzOtherID = "66666666-7777-8888-9999-000000000000" // p2's, private, active
)

// fuzzCallers are the identities a fuzz input may act as (noauth
// headers): an admin without a project, the fixture's owner, and a
// project the fixture is shared with.
var fuzzCallers = [][]string{
	nil,
	{"X-Project-Id", "p1", "X-Roles", "member,reader"},
	{"X-Project-Id", "p2", "X-Roles", "reader,member"},
}

// fuzzEnv is one server over an fsmBackend whose catalog every input
// starts from afresh.
type fuzzEnv struct {
	s *Server
	b *fsmBackend
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	b := newFSMBackend(tb)
	s, err := New(Config{Backend: b, MaxImageSize: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzEnv{s: s, b: b}
}

// reset rebuilds the fixture catalog: two images and a membership.
func (e *fuzzEnv) reset(tb testing.TB) {
	tb.Helper()
	e.b.reset()
	ctx := context.Background()
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	str := func(s string) *string { return &s }
	size := int64(10)
	for _, img := range []*catalog.Image{
		{ID: fuzzImageID, Name: str("fixture"), Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared,
			Owner: str("p1"), DiskFormat: str("raw"), ContainerFormat: str("bare"), CreatedAt: at, UpdatedAt: at,
			Tags: []string{"a", "b"}, Properties: map[string]string{"k": "v", "os_distro": "x"}},
		{ID: fuzzOtherID, Name: str("other"), Status: catalog.StatusActive, Visibility: catalog.VisibilityPrivate,
			Owner: str("p2"), DiskFormat: str("qcow2"), ContainerFormat: str("bare"), CreatedAt: at, UpdatedAt: at,
			Tags: []string{}, Size: &size, Checksum: str("0123456789abcdef0123456789abcdef"),
			Manifest: &catalog.Manifest{Size: 10}, Placement: []string{"n1"}},
	} {
		if _, err := e.b.CreateImage(ctx, img); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := e.b.PutMember(ctx, &catalog.Member{ImageID: fuzzImageID, MemberID: "p2", Status: catalog.MemberPending, CreatedAt: at, UpdatedAt: at}, true, 0); err != nil {
		tb.Fatal(err)
	}
}

// do serves one request; hdr pairs are added after the caller's headers.
func (e *fuzzEnv) do(path, method, body string, caller []string, hdr ...string) *httptest.ResponseRecorder {
	return apitest.Do(e.s, path, method, body, append(append([]string(nil), caller...), hdr...)...)
}

// checkAnswer is apitest.CheckAnswer.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	apitest.CheckAnswer(t, what, rec)
}

// jsonTarget is one endpoint that takes a JSON body.
type jsonTarget struct {
	method, path string
	hdr          []string
	// follow, for a 2xx answer, names the resource to read back (empty:
	// none); created is the answer's decoded body.
	follow func(created map[string]any) string
}

var jsonTargets = []jsonTarget{
	{method: "POST", path: "/v2/images", follow: func(c map[string]any) string { return fmt.Sprintf("/v2/images/%v", c["id"]) }},
	{method: "POST", path: "/v2/images/" + fuzzImageID + "/members", follow: func(c map[string]any) string {
		return fmt.Sprintf("/v2/images/%s/members/%v", fuzzImageID, c["member_id"])
	}},
	{method: "PUT", path: "/v2/images/" + fuzzImageID + "/members/p2", follow: func(map[string]any) string {
		return "/v2/images/" + fuzzImageID + "/members/p2"
	}},
	{method: "POST", path: "/v2/images/" + fuzzImageID + "/import"},
	{method: "POST", path: "/v2/images/" + fuzzOtherID + "/import"},
	{method: "POST", path: "/v2/images/" + fuzzImageID + "/locations"},
	{method: "POST", path: "/v2/tasks", follow: func(c map[string]any) string { return fmt.Sprintf("/v2/tasks/%v", c["id"]) }},
	{method: "POST", path: "/p2p/v1/prefetch"},
}

// FuzzJSONBodies posts hostile JSON bodies to every endpoint that takes
// one, as each kind of caller. Properties: no panic and no 5xx; every
// refusal is a 4xx in Glance's error format that commits nothing; what is
// accepted reads back, and a created image is a well-formed queued image
// of the caller's project that the image schema accepts.
func FuzzJSONBodies(f *testing.F) {
	seeds := map[int][]string{
		0: {`{"name": "n", "disk_format": "raw", "container_format": "bare", "tags": ["x"], "k": "v"}`,
			`{"id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "visibility": "community", "min_ram": 5, "protected": true}`,
			`{"status": "active"}`, `{"owner": "someone"}`, `{"locations": []}`, `{"name": "` + strings.Repeat("n", 256) + `"}`,
			`{"os_glance_x": "1"}`, `{"tags": ["a", "a"]}`, `{"visibility": "public"}`, `{"min_disk": -1}`, `[]`, `"x"`, `{`, "{\"name\": \"\xff\"}"},
		1: {`{"member": "p3"}`, `{"member": ""}`, `{"member": 5}`, `{}`, `[]`},
		2: {`{"status": "accepted"}`, `{"status": "bogus"}`, `{}`},
		3: {`{"method": {"name": "web-download", "uri": "http://example.com/x"}}`, `{"method": {"name": "glance-direct"}}`,
			`{"method": {"name": "web-download", "uri": "http://h/x"}, "stores": ["z1", "nope"]}`, `{"method": {"name": "copy-image"}, "all_stores": true}`},
		4: {`{"method": {"name": "copy-image"}, "all_stores": true}`, `{"method": {"name": "copy-image"}, "stores": ["z1"], "all_stores_must_succeed": false}`},
		5: {`{"url": "http://example.com/i.img", "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "00"}}`, `{"url": "file:///etc/passwd"}`},
		6: {`{"type": "import", "input": {"import_from": "http://example.com/x", "import_from_format": "raw", "image_properties": {"name": "t"}}}`, `{"type": "export"}`},
		7: {`{"image_id": "` + fuzzOtherID + `", "target": {"labels": {"a": "b"}}}`},
	}
	for target, bodies := range seeds {
		for caller := range fuzzCallers {
			for _, body := range bodies {
				f.Add(uint8(target), uint8(caller), []byte(body))
			}
		}
	}
	env := newFuzzEnv(f)
	imageSchema := map[string]any(nil)
	f.Fuzz(func(t *testing.T, target, caller uint8, body []byte) {
		if len(body) > maxJSONBody+16 {
			return
		}
		env.reset(t)
		jt := jsonTargets[int(target)%len(jsonTargets)]
		who := fuzzCallers[int(caller)%len(fuzzCallers)]
		before := env.b.index()
		rec := env.do(jt.path, jt.method, string(body), who, append([]string{"Content-Type", "application/json"}, jt.hdr...)...)
		what := fmt.Sprintf("%s %s %q as %v", jt.method, jt.path, body, who)
		checkAnswer(t, what, rec)
		if rec.Code >= 400 {
			if after := env.b.index(); after != before {
				t.Fatalf("%s: %d, but %d writes were committed", what, rec.Code, after-before)
			}
			return
		}
		if jt.follow == nil || rec.Code == http.StatusNoContent {
			return
		}
		var created map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
			t.Fatalf("%s: %d with a body that is not a JSON object: %s", what, rec.Code, rec.Body)
		}
		back := env.do(jt.follow(created), "GET", "", fuzzCallers[0])
		if back.Code != http.StatusOK {
			t.Fatalf("%s: created, but GET %s answers %d %s", what, jt.follow(created), back.Code, back.Body)
		}
		if jt.path != "/v2/images" {
			return
		}
		if !bytes.Equal(back.Body.Bytes(), rec.Body.Bytes()) {
			t.Fatalf("%s: the image read back differs:\n%s\n%s", what, rec.Body, back.Body)
		}
		if imageSchema == nil {
			imageSchema = schemaTestDoc(t, "image")
		}
		if errs := schematest.Check(imageSchema, created); len(errs) > 0 {
			t.Fatalf("%s: the created image fails the image schema: %v\n%s", what, errs, rec.Body)
		}
		id, _ := created["id"].(string)
		if created["status"] != "queued" || created["size"] != nil || created["checksum"] != nil ||
			(len(who) > 0 && created["owner"] != who[1]) || !uuidPattern.MatchString(id) || created["created_at"] != created["updated_at"] {
			t.Fatalf("%s: created image breaks an invariant: %s", what, rec.Body)
		}
	})
}

// readOnlyImageFields are the image JSON members no PATCH may change.
var readOnlyImageFields = []string{"id", "status", "created_at", "checksum", "size", "virtual_size", "os_hash_algo", "os_hash_value", "file", "self", "schema", "direct_url", "locations"}

// FuzzImagePatch sends hostile JSON-patch documents in both media types.
// Properties: no panic and no 5xx; a refusal is a Glance 4xx that leaves
// the image as it was; an accepted patch is answered with the image as
// stored, which the image schema accepts, without touching read-only
// attributes (nor the owner, for a non-admin); and every accepted
// document re-encodes to operations that parse the same.
func FuzzImagePatch(f *testing.F) {
	for _, doc := range []string{
		`[{"op": "replace", "path": "/name", "value": "new"}]`,
		`[{"op": "add", "path": "/tags/-", "value": "c"}]`,
		`[{"op": "add", "path": "/k2", "value": "v2"}, {"op": "remove", "path": "/k"}]`,
		`[{"op": "replace", "path": "/visibility", "value": "public"}]`,
		`[{"op": "replace", "path": "/owner", "value": "p9"}]`,
		`[{"op": "replace", "path": "/status", "value": "active"}]`,
		`[{"op": "replace", "path": "/min_ram", "value": 1024}, {"op": "replace", "path": "/protected", "value": true}]`,
		`[{"op": "add", "path": "/locations/-", "value": {"url": "http://example.com/x", "metadata": {}}}]`,
		`[{"op": "replace", "path": "/a~1b", "value": "x"}]`,
		`[{"op": "remove", "path": "/~"}]`,
		`[{"replace": "/name", "value": "v20"}]`,
		`[{"add": "/k", "value": "dup"}]`,
		`[{"op": "replace", "path": "/disk_format", "value": "qcow2"}]`,
		`[{"op": "replace", "path": "/os_hidden", "value": "yes"}]`,
		`[{"op": "add", "path": "/os_glance_import_task", "value": "t"}]`,
		`[]`, `{}`, `[1]`, `[{"op": "move", "from": "/name", "path": "/k"}]`,
	} {
		for caller := range fuzzCallers {
			f.Add(true, uint8(caller), []byte(doc))
			f.Add(false, uint8(caller), []byte(doc))
		}
	}
	env := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, v21 bool, caller uint8, body []byte) {
		if len(body) > maxJSONBody+16 {
			return
		}
		env.reset(t)
		ct := patchV20
		if v21 {
			ct = patchV21
		}
		who := fuzzCallers[int(caller)%len(fuzzCallers)]
		path := "/v2/images/" + fuzzImageID
		orig := env.do(path, "GET", "", fuzzCallers[0])
		before := env.b.index()
		rec := env.do(path, "PATCH", string(body), who, "Content-Type", ct)
		what := fmt.Sprintf("PATCH %s %q as %v", ct, body, who)
		checkAnswer(t, what, rec)
		now := env.do(path, "GET", "", fuzzCallers[0])
		if rec.Code >= 400 {
			if env.b.index() != before || !bytes.Equal(now.Body.Bytes(), orig.Body.Bytes()) {
				t.Fatalf("%s: %d, but the image changed:\n%s\n%s", what, rec.Code, orig.Body, now.Body)
			}
			return
		}
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), now.Body.Bytes()) {
			t.Fatalf("%s: %d, answer and stored image differ:\n%s\n%s", what, rec.Code, rec.Body, now.Body)
		}
		var was, is map[string]any
		if json.Unmarshal(orig.Body.Bytes(), &was) != nil || json.Unmarshal(now.Body.Bytes(), &is) != nil {
			t.Fatalf("%s: image JSON does not decode", what)
		}
		fields := readOnlyImageFields
		if len(who) > 0 {
			fields = append(fields, "owner")
		}
		for _, k := range fields {
			if !reflect.DeepEqual(was[k], is[k]) {
				t.Fatalf("%s: read-only %s changed from %v to %v", what, k, was[k], is[k])
			}
		}
		if errs := schematest.Check(schemaTestDoc(t, "image"), is); len(errs) > 0 {
			t.Fatalf("%s: the patched image fails the image schema: %v\n%s", what, errs, now.Body)
		}
		// Round trip: the operations, written back in the 2.1 form,
		// parse to the same operations.
		ops := parsePatchBody(t, ct, body)
		var again []map[string]any
		for _, op := range ops {
			ptr := "/" + strings.ReplaceAll(strings.ReplaceAll(op.path, "~", "~0"), "/", "~1")
			if op.pos != "" {
				ptr += "/" + strings.ReplaceAll(strings.ReplaceAll(op.pos, "~", "~0"), "/", "~1")
			}
			m := map[string]any{"op": op.op, "path": ptr}
			if op.op != "remove" {
				m["value"] = op.value
			}
			again = append(again, m)
		}
		re, _ := json.Marshal(again)
		if len(again) == 0 {
			re = []byte("[]")
		}
		ops2 := parsePatchBody(t, patchV21, re)
		if len(ops2) != len(ops) {
			t.Fatalf("%s: %d operations re-parse as %d", what, len(ops), len(ops2))
		}
		for i := range ops {
			if ops[i].op != ops2[i].op || ops[i].path != ops2[i].path || ops[i].pos != ops2[i].pos || !jsonEqual(ops[i].value, ops2[i].value) {
				t.Fatalf("%s: operation %d re-parses as %+v, was %+v", what, i, ops2[i], ops[i])
			}
		}
	})
}

// parsePatchBody runs the PATCH body parser on body, which must parse.
func parsePatchBody(t *testing.T, ct string, body []byte) []patchOp {
	t.Helper()
	req := httptest.NewRequest("PATCH", "/", bytes.NewReader(body))
	ops, err := parsePatch(req, ct)
	if err != nil {
		t.Fatalf("parse of %q (accepted by PATCH) fails: %v", body, err)
	}
	return ops
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// FuzzListQuery sends hostile list queries (filters, sort syntax,
// markers, limits). Properties: no panic and no 5xx; a refusal is a
// Glance 4xx; an answer is a page of at most limit images, each of which
// the caller may see, whose "first" and "next" links answer 200, the
// next page not repeating the first.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{
		"", "limit=1", "limit=-1", "limit=x", "limit=100000",
		"sort=name:asc,status", "sort=name:up", "sort=nosuch", "sort_key=name&sort_dir=asc", "sort_key=name&sort_dir=asc&sort_dir=desc",
		"sort=name&sort_key=id", "sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc",
		"name=in:fixture,\"other\"", "name=in:\"a,b", "name=in:\"a\"b", "name=eq:fixture", "name=gt:x", "status=in:queued,active",
		"visibility=all", "visibility=shared&member_status=all", "visibility=bogus", "member_status=pending", "member_status=x",
		"tag=a&tag=b", "os_hidden=TRUE", "os_hidden=maybe", "protected=True", "size_min=5&size_max=20", "size_min=x",
		"created_at=gte:2024-01-01T00:00:00Z", "updated_at=lt:2030-01-01", "created_at=gte:yesterday", "changes-since=2020",
		"marker=" + fuzzImageID, "marker=nosuch", "marker=" + fuzzOtherID, "owner=p1", "k=v", "id=in:" + fuzzImageID + "," + fuzzOtherID,
		"min_ram=0", "virtual_size=x", "checksum=0123456789abcdef0123456789abcdef", "limit=1&sort=created_at:asc",
	} {
		for caller := range fuzzCallers {
			f.Add(uint8(caller), q)
		}
	}
	env := newFuzzEnv(f)
	env.reset(f)
	// More images to page through: every visibility, two owners, a
	// membership of each status.
	ctx := context.Background()
	for i, vis := range []string{"public", "community", "shared", "private", "shared", "shared", "public"} {
		owner, name, size := []string{"p3", "p1"}[i%2], fmt.Sprintf("img-%d", i%3), int64(i*7)
		at := time.Date(2024, 1, 1, 0, 0, i%4, 0, time.UTC)
		id := fmt.Sprintf("%08d-0000-0000-0000-000000000000", i)
		img := &catalog.Image{ID: id, Name: &name, Status: catalog.StatusActive, Visibility: vis, Owner: &owner,
			Size: &size, CreatedAt: at, UpdatedAt: at, Tags: []string{"a"}, OSHidden: i == 6}
		if _, err := env.b.CreateImage(ctx, img); err != nil {
			f.Fatal(err)
		}
		if vis == "shared" {
			st := []string{catalog.MemberPending, catalog.MemberAccepted, catalog.MemberRejected}[i%3]
			if _, err := env.b.PutMember(ctx, &catalog.Member{ImageID: id, MemberID: "p2", Status: st}, true, 0); err != nil {
				f.Fatal(err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, caller uint8, query string) {
		if _, err := url.ParseQuery(query); err != nil || len(query) > 4096 {
			return
		}
		who := fuzzCallers[int(caller)%len(fuzzCallers)]
		rec := env.do("/v2/images?"+query, "GET", "", who)
		what := fmt.Sprintf("GET /v2/images?%s as %v", query, who)
		checkAnswer(t, what, rec)
		if rec.Code != http.StatusOK {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: %d, want 200 or 400", what, rec.Code)
			}
			return
		}
		page := decodePage(t, what, rec)
		limit := defaultLimit
		if v, ok := last(env.parse(query), "limit"); ok {
			limit, _ = strconv.Atoi(v)
			limit = min(limit, maxLimit)
		}
		if len(page.Images) > limit {
			t.Fatalf("%s: %d images on a page of %d", what, len(page.Images), limit)
		}
		seen := map[string]bool{}
		for _, img := range page.Images {
			id, _ := img["id"].(string)
			if got := env.do("/v2/images/"+id, "GET", "", who); got.Code != http.StatusOK {
				t.Fatalf("%s: listed %s, which the caller cannot GET (%d)", what, id, got.Code)
			}
			seen[id] = true
		}
		if first := env.do(page.First, "GET", "", who); first.Code != http.StatusOK {
			t.Fatalf("%s: first link %s answers %d %s", what, page.First, first.Code, first.Body)
		}
		if page.Next == "" {
			return
		}
		next := env.do(page.Next, "GET", "", who)
		if next.Code != http.StatusOK {
			t.Fatalf("%s: next link %s answers %d %s", what, page.Next, next.Code, next.Body)
		}
		for _, img := range decodePage(t, what, next).Images {
			if seen[img["id"].(string)] {
				t.Fatalf("%s: next page %s repeats %v", what, page.Next, img["id"])
			}
		}
	})
}

// parse is url.ParseQuery for a query the target already accepted.
func (e *fuzzEnv) parse(query string) url.Values {
	q, _ := url.ParseQuery(query)
	return q
}

type listPage struct {
	Images []map[string]any `json:"images"`
	First  string           `json:"first"`
	Next   string           `json:"next"`
	Schema string           `json:"schema"`
}

func decodePage(t *testing.T, what string, rec *httptest.ResponseRecorder) listPage {
	t.Helper()
	var p listPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Schema != "/v2/schemas/images" || !strings.HasPrefix(p.First, "/v2/images") {
		t.Fatalf("%s: not an image list: %v %s", what, err, rec.Body)
	}
	return p
}

// schemaTestDoc decodes the served schema document name.
func schemaTestDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	b, ok := schema.JSON(name)
	if !ok {
		t.Fatalf("schema.JSON(%q) missing", name)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("schema %q is not valid JSON: %v", name, err)
	}
	return doc
}
