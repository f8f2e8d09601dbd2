package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// docBackend is memBackend with documents kept in a map and the FSM's
// create / replace preconditions.
type docBackend struct {
	*memBackend
	dmu       sync.Mutex
	docs      map[[2]string]*catalog.Doc
	conflicts int // the next n replacing PutDoc calls fail with ErrConflict
	puts      int
	rev       uint64
}

func newDocBackend() *docBackend {
	return &docBackend{memBackend: &memBackend{images: map[string]*catalog.Image{}}, docs: map[[2]string]*catalog.Doc{}}
}

func (b *docBackend) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	b.dmu.Lock()
	defer b.dmu.Unlock()
	if d, ok := b.docs[[2]string{kind, id}]; ok {
		return d, nil
	}
	return nil, catalog.ErrNotFound
}

func (b *docBackend) Docs(_ context.Context, kind string) ([]*catalog.Doc, error) {
	b.dmu.Lock()
	defer b.dmu.Unlock()
	var out []*catalog.Doc
	for k, d := range b.docs {
		if k[0] == kind {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *catalog.Doc) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (b *docBackend) PutDoc(_ context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	b.dmu.Lock()
	defer b.dmu.Unlock()
	b.puts++
	k := [2]string{d.Kind, d.ID}
	cur, ok := b.docs[k]
	switch {
	case create && ok:
		return nil, catalog.ErrExists
	case !create && !ok:
		return nil, catalog.ErrNotFound
	case !create && b.conflicts > 0:
		b.conflicts--
		return nil, catalog.ErrConflict
	case !create && expect != 0 && cur.Revision != expect:
		return nil, catalog.ErrConflict
	}
	cp := *d
	b.rev++
	cp.Revision = b.rev
	b.docs[k] = &cp
	return &cp, nil
}

func (b *docBackend) DeleteDoc(_ context.Context, kind, id string) error {
	b.dmu.Lock()
	defer b.dmu.Unlock()
	k := [2]string{kind, id}
	if _, ok := b.docs[k]; !ok {
		return catalog.ErrNotFound
	}
	delete(b.docs, k)
	return nil
}

func newMetadefServer(t *testing.T) (*Server, *docBackend) {
	t.Helper()
	b := newDocBackend()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func TestMetadefDefaultsAreValid(t *testing.T) {
	rts, nss, err := mdDefaults(time.Now())
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
		if ns.Visibility != mdPublic || !ns.Protected || ns.Owner == nil || *ns.Owner != mdDefaultOwner {
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

func TestMetadefSeedOnce(t *testing.T) {
	ctx := context.Background()
	_, b := newMetadefServer(t)
	if err := SeedMetadefs(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Doc(ctx, mdKindNamespace, "OS::Compute::Libvirt"); err != nil {
		t.Fatalf("default namespace missing: %v", err)
	}
	n := len(b.docs)
	// Deleted defaults do not come back, and a second seed writes nothing.
	if err := b.DeleteDoc(ctx, mdKindNamespace, "OS::Compute::Libvirt"); err != nil {
		t.Fatal(err)
	}
	puts := b.puts
	if err := SeedMetadefs(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.puts != puts || len(b.docs) != n-1 {
		t.Fatalf("second seed wrote %d documents; %d documents, want %d", b.puts-puts, len(b.docs), n-1)
	}
	// A seed interrupted before its record completes the set.
	_, b2 := newMetadefServer(t)
	_, nss, _ := mdDefaults(time.Now())
	d, _ := mdDoc(nss[0])
	if _, err := b2.PutDoc(ctx, d, true, 0); err != nil {
		t.Fatal(err)
	}
	if err := SeedMetadefs(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if len(b2.docs) != n {
		t.Fatalf("seed after a partial one: %d documents, want %d", len(b2.docs), n)
	}
}

func TestMetadefJSONShapes(t *testing.T) {
	props := mdProps{{Name: "b", Type: "string", Title: "B <x>"}, {Name: "a", Type: "integer", Title: "A", Minimum: json.RawMessage("0")}}
	b, err := mdMarshal(props)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(pySpaced(b)), `{"b": {"type": "string", "title": "B <x>"}, "a": {"type": "integer", "title": "A", "minimum": 0}}`; got != want {
		t.Fatalf("properties JSON:\n got %s\nwant %s", got, want)
	}
	var back mdProps
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[0].Name != "b" || back[1].Name != "a" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if got := string(pySpaced([]byte(`{"a":"x, y: z\"","b":[1,2]}`))); got != `{"a": "x, y: z\"", "b": [1, 2]}` {
		t.Fatalf("pySpaced: %s", got)
	}
	for name, body := range mdSchemaDocs {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
	}
}

func TestMetadefHandlers(t *testing.T) {
	s, b := newMetadefServer(t)
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
		rec := memDo(t, s, st.method, st.path, st.body, append([]string{"Accept", "application/json"}, st.hdr...)...)
		if rec.Code != st.want {
			t.Fatalf("%s %s %s: %d %s, want %d", st.method, st.path, st.body, rec.Code, rec.Body, st.want)
		}
	}
	// A namespace that exists is refused before anything is written:
	// the new resource type it names is not created.
	rec409 := memDo(t, s, "POST", "/v2/metadefs/namespaces", `{"namespace": "My::NS", "resource_type_associations": [{"name": "New::Type"}]}`)
	if rec409.Code != http.StatusConflict {
		t.Fatalf("existing namespace with a new resource type: %d %s", rec409.Code, rec409.Body)
	}
	if rec := memDo(t, s, "GET", "/v2/metadefs/resource_types", ""); strings.Contains(rec.Body.String(), "New::Type") {
		t.Fatalf("a refused namespace create left its resource type: %s", rec.Body)
	}
	// A lost race is re-applied to fresh state; too many are a 409.
	b.conflicts = 2
	if rec := memDo(t, s, "POST", nsURL+"/tags/t2", ""); rec.Code != http.StatusCreated {
		t.Fatalf("tag after 2 conflicts: %d %s", rec.Code, rec.Body)
	}
	b.conflicts = rewriteRetries + 1
	if rec := memDo(t, s, "POST", nsURL+"/tags/t3", ""); rec.Code != http.StatusConflict {
		t.Fatalf("tag after endless conflicts: %d %s", rec.Code, rec.Body)
	}
	b.conflicts = 0
	rec := memDo(t, s, "GET", nsURL, "")
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
