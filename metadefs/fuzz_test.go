package metadefs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/api/apitest"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm/fsmtest"
)

// fuzzNS is the fixture namespace (p1's, private) the fuzz targets write
// into.
const fuzzNS = "fuzz-ns"

// fuzzMaxBody is the largest body worth sending: the API's JSON body
// limit (1 MiB) and a little more.
const fuzzMaxBody = 1<<20 + 16

// fuzzCallers are the identities a fuzz input may act as (noauth
// headers): an admin without a project, the fixture's owner, and
// another project.
var fuzzCallers = [][]string{
	nil,
	{"X-Project-Id", "p1", "X-Roles", "member,reader"},
	{"X-Project-Id", "p2", "X-Roles", "reader,member"},
}

// fuzzEnv is one server over an fsmtest.Catalog whose catalog every input
// starts from afresh.
type fuzzEnv struct {
	s *api.Server
	b *fsmtest.Catalog
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	b := newFSMStore(tb)
	return &fuzzEnv{s: newServer(tb, b), b: b}
}

// reset rebuilds the fixture catalog: the namespace with an object, and
// the marker that keeps the default definitions from being loaded on
// every input.
func (e *fuzzEnv) reset(tb testing.TB) {
	tb.Helper()
	e.b.Reset()
	if _, err := e.b.PutDoc(context.Background(), &catalog.Doc{Kind: kindSeed, ID: seedID, Body: json.RawMessage(`{}`)}, true, 0); err != nil {
		tb.Fatal(err)
	}
	for _, st := range []struct{ path, body string }{
		{"/v2/metadefs/namespaces", `{"namespace": "` + fuzzNS + `", "visibility": "private", "owner": "p1"}`},
		{"/v2/metadefs/namespaces/" + fuzzNS + "/objects", `{"name": "obj", "properties": {"p": {"type": "string", "title": "P"}}}`},
	} {
		if rec := e.do(st.path, "POST", st.body, fuzzCallers[0], "Content-Type", "application/json"); rec.Code >= 300 {
			tb.Fatalf("fixture POST %s: %d %s", st.path, rec.Code, rec.Body)
		}
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
	// follow, for a 2xx answer, names the resource to read back (empty:
	// none); created is the answer's decoded body.
	follow func(created map[string]any) string
}

var jsonTargets = []jsonTarget{
	{method: "POST", path: "/v2/metadefs/namespaces", follow: func(c map[string]any) string {
		return fmt.Sprintf("/v2/metadefs/namespaces/%v", c["namespace"])
	}},
	{method: "PUT", path: "/v2/metadefs/namespaces/" + fuzzNS, follow: func(c map[string]any) string {
		return fmt.Sprintf("/v2/metadefs/namespaces/%v", c["namespace"])
	}},
	{method: "POST", path: "/v2/metadefs/namespaces/" + fuzzNS + "/objects", follow: func(c map[string]any) string {
		return fmt.Sprintf("/v2/metadefs/namespaces/%s/objects/%v", fuzzNS, c["name"])
	}},
	{method: "PUT", path: "/v2/metadefs/namespaces/" + fuzzNS + "/objects/obj"},
	{method: "POST", path: "/v2/metadefs/namespaces/" + fuzzNS + "/properties", follow: func(c map[string]any) string {
		return fmt.Sprintf("/v2/metadefs/namespaces/%s/properties/%v", fuzzNS, c["name"])
	}},
	{method: "POST", path: "/v2/metadefs/namespaces/" + fuzzNS + "/tags"},
	{method: "POST", path: "/v2/metadefs/namespaces/" + fuzzNS + "/resource_types"},
}

// FuzzBodies posts hostile JSON bodies to every metadefs endpoint that
// takes one, as each kind of caller. Properties: no panic and no 5xx;
// every refusal is a 4xx in Glance's error format that commits nothing;
// what is accepted reads back.
func FuzzBodies(f *testing.F) {
	seeds := map[int][]string{
		0: {`{"namespace": "new-ns", "display_name": "N", "protected": true, "properties": {"p": {"type": "integer", "title": "P", "minimum": 1}}}`, `{"namespace": ""}`},
		1: {`{"namespace": "fuzz-ns-2", "visibility": "public"}`, `{"namespace": "` + fuzzNS + `", "display_name": "d"}`},
		2: {`{"name": "o2", "required": ["p"], "properties": {"p": {"type": "array", "items": {"type": "string", "enum": ["a"]}}}}`},
		3: {`{"name": "obj", "description": "d"}`},
		4: {`{"name": "pr", "type": "string", "title": "Pr", "maxLength": 5, "pattern": "^a"}`, `{"name": "pr", "type": "nosuch", "title": "t"}`},
		5: {`{"tags": [{"name": "t1"}, {"name": "t2"}]}`, `{"tags": [{"name": "t1"}, {"name": "t1"}]}`},
		6: {`{"name": "OS::Glance::Image", "prefix": "x_"}`},
	}
	for target, bodies := range seeds {
		for caller := range fuzzCallers {
			for _, body := range bodies {
				f.Add(uint8(target), uint8(caller), []byte(body))
			}
		}
	}
	env := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, target, caller uint8, body []byte) {
		if len(body) > fuzzMaxBody {
			return
		}
		env.reset(t)
		jt := jsonTargets[int(target)%len(jsonTargets)]
		who := fuzzCallers[int(caller)%len(fuzzCallers)]
		before := env.b.Changes()
		rec := env.do(jt.path, jt.method, string(body), who, "Content-Type", "application/json")
		what := fmt.Sprintf("%s %s %q as %v", jt.method, jt.path, body, who)
		checkAnswer(t, what, rec)
		if rec.Code >= 400 {
			if after := env.b.Changes(); after != before {
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
	})
}
