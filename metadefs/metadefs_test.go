package metadefs

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	rts, nss, err := defaults(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor", "OS::Nova::Server", "OS::Nova::Aggregate", "OS::Nova::Instance"} {
		if !slices.Contains(rts, want) {
			t.Errorf("default resource types lack %s", want)
		}
	}
	var names []string
	for _, ns := range nss {
		names = append(names, ns.Namespace)
		if ns.Visibility != public || !ns.Protected || ns.Owner == nil || *ns.Owner != defaultOwner {
			t.Errorf("%s: visibility %s protected %v owner %v", ns.Namespace, ns.Visibility, ns.Protected, ns.Owner)
		}
		for _, a := range ns.Associations {
			if !slices.Contains(rts, a.Name) {
				t.Errorf("%s: association with %s, not a default resource type", ns.Namespace, a.Name)
			}
		}
	}
	for _, want := range []string{"OS::Compute::Hypervisor", "OS::Compute::Libvirt", "OS::Compute::Watchdog"} {
		if !slices.Contains(names, want) {
			t.Errorf("default namespaces lack %s", want)
		}
	}
}

func TestSeedOnce(t *testing.T) {
	ctx := context.Background()
	b := newDocStore()
	if err := Seed(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Doc(ctx, kindNamespace, "OS::Compute::Libvirt"); err != nil {
		t.Fatalf("default namespace missing: %v", err)
	}
	n := len(b.docs)
	// Deleted defaults do not come back, and a second seed writes nothing.
	if err := b.DeleteDoc(ctx, kindNamespace, "OS::Compute::Libvirt"); err != nil {
		t.Fatal(err)
	}
	puts := b.puts
	if err := Seed(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.puts != puts || len(b.docs) != n-1 {
		t.Fatalf("second seed wrote %d documents; %d documents, want %d", b.puts-puts, len(b.docs), n-1)
	}
	// A seed interrupted before its record completes the set.
	b2 := newDocStore()
	_, nss, _ := defaults(time.Now())
	d, _ := encodeNamespace(nss[0])
	if _, err := b2.PutDoc(ctx, d, true, 0); err != nil {
		t.Fatal(err)
	}
	if err := Seed(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if len(b2.docs) != n {
		t.Fatalf("seed after a partial one: %d documents, want %d", len(b2.docs), n)
	}
}

func TestJSONShapes(t *testing.T) {
	props := properties{{Name: "b", Type: "string", Title: "B <x>"}, {Name: "a", Type: "integer", Title: "A", Minimum: json.RawMessage("0")}}
	b, err := marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(pySpaced(b)), `{"b": {"type": "string", "title": "B <x>"}, "a": {"type": "integer", "title": "A", "minimum": 0}}`; got != want {
		t.Fatalf("properties JSON:\n got %s\nwant %s", got, want)
	}
	var back properties
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[0].Name != "b" || back[1].Name != "a" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if got := string(pySpaced([]byte(`{"a":"x, y: z\"","b":[1,2]}`))); got != `{"a": "x, y: z\"", "b": [1, 2]}` {
		t.Fatalf("pySpaced: %s", got)
	}
	for name, body := range schemaDocs {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		// json.dumps's layout, keys in Glance's order.
		if strings.Contains(string(body), `":"`) || !strings.HasPrefix(string(body), `{"name": "`) {
			t.Errorf("schema %s: not json.dumps layout: %.60s", name, body)
		}
	}
}

func TestHandlers(t *testing.T) {
	b := newDocStore()
	s := newServer(t, b)
	nsURL := "/v2/metadefs/namespaces/My::NS"
	steps := []struct {
		method, path, body string
		hdr                []string
		want               int
	}{
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "My::NS", "properties": {"p": {"type": "string", "title": "P"}}}`, nil, http.StatusCreated},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "My::NS"}`, nil, http.StatusConflict},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "x", "bogus": 1}`, nil, http.StatusBadRequest},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "x", "self": "/x"}`, nil, http.StatusForbidden},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "x", "visibility": "shared"}`, nil, http.StatusBadRequest},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "x", "properties": {"p": {"type": "string"}}}`, nil, http.StatusBadRequest},
		{"POST", "/v2/metadefs/namespaces", `{"namespace": "x"}`, []string{"X-Project-Id", "p1"}, http.StatusForbidden},
		{"POST", nsURL + "/properties", `{"name": "q", "type": "number", "title": "Q", "minimum": 1.5}`, nil, http.StatusCreated},
		{"POST", nsURL + "/properties", `{"name": "q", "type": "number", "title": "Q"}`, nil, http.StatusConflict},
		{"POST", nsURL + "/properties", `{"name": "r", "type": "float", "title": "R"}`, nil, http.StatusBadRequest},
		{"GET", nsURL + "/properties/q", "", nil, http.StatusOK},
		{"GET", nsURL + "/properties/zz", "", nil, http.StatusNotFound},
		{"POST", nsURL + "/tags/t1", "", nil, http.StatusCreated},
		{"POST", nsURL + "/tags/T1", "", nil, http.StatusConflict},
		{"PATCH", nsURL, "", nil, http.StatusMethodNotAllowed},
		{"GET", "/v2/schemas/metadefs/namespace", "", nil, http.StatusOK},
		{"GET", "/v2/schemas/metadefs/bogus", "", nil, http.StatusNotFound},
	}
	for _, st := range steps {
		rec := serve(t, s, st.method, st.path, st.body, append([]string{"Accept", "application/json"}, st.hdr...)...)
		if rec.Code != st.want {
			t.Fatalf("%s %s %s: %d %s, want %d", st.method, st.path, st.body, rec.Code, rec.Body, st.want)
		}
	}
	// A namespace that exists is refused before anything is written:
	// the new resource type it names is not created.
	rec409 := serve(t, s, "POST", "/v2/metadefs/namespaces", `{"namespace": "My::NS", "resource_type_associations": [{"name": "New::Type"}]}`)
	if rec409.Code != http.StatusConflict {
		t.Fatalf("existing namespace with a new resource type: %d %s", rec409.Code, rec409.Body)
	}
	if rec := serve(t, s, "GET", "/v2/metadefs/resource_types", ""); strings.Contains(rec.Body.String(), "New::Type") {
		t.Fatalf("a refused namespace create left its resource type: %s", rec.Body)
	}
	// A lost race is re-applied to fresh state; too many are a 409.
	b.conflicts = 2
	if rec := serve(t, s, "POST", nsURL+"/tags/t2", ""); rec.Code != http.StatusCreated {
		t.Fatalf("tag after 2 conflicts: %d %s", rec.Code, rec.Body)
	}
	b.conflicts = rewriteRetries + 1
	if rec := serve(t, s, "POST", nsURL+"/tags/t3", ""); rec.Code != http.StatusConflict {
		t.Fatalf("tag after endless conflicts: %d %s", rec.Code, rec.Body)
	}
	b.conflicts = 0
	rec := serve(t, s, "GET", nsURL, "")
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if tags := got["tags"].([]any); len(tags) != 2 {
		t.Fatalf("tags %v, want t1 and t2", tags)
	}
	if props := got["properties"].(map[string]any); len(props) != 2 || props["q"].(map[string]any)["minimum"] != 1.5 {
		t.Fatalf("properties %v", props)
	}
}
