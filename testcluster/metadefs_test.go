package testcluster_test

// Metadata definitions (metadefs) API through real HTTP against real
// nodes: namespaces, objects, properties, tags, resource types, schemas,
// the default definitions, policy and visibility.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/testcluster"
)

// mdSend sends a request with a JSON body.
func (c apiClient) mdSend(t testing.TB, method, path, body string, hdr ...string) *apiResp {
	t.Helper()
	return c.do(t, method, path, body, append([]string{"Content-Type", "application/json"}, hdr...)...)
}

// mdNames returns the "name" (or key) of each item of a list member.
func mdNames(t testing.TB, m map[string]any, key, field string) []string {
	t.Helper()
	var out []string
	switch v := m[key].(type) {
	case []any:
		for _, item := range v {
			out = append(out, item.(map[string]any)[field].(string))
		}
	case map[string]any:
		for k := range v {
			out = append(out, k)
		}
		slices.Sort(out)
	default:
		t.Fatalf("no %s in %v", key, m)
	}
	return out
}

func TestMetadefDefaultsAndSchemas(t *testing.T) {
	c := newAPICluster(t)
	rts := mdNames(t, c.do(t, "GET", "/v2/metadefs/resource_types", nil).want(t, http.StatusOK).obj(t), "resource_types", "name")
	for _, want := range []string{"OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor", "OS::Nova::Server", "OS::Nova::Aggregate", "OS::Nova::Instance"} {
		if !slices.Contains(rts, want) {
			t.Fatalf("resource types %v lack %s", rts, want)
		}
	}
	list := c.do(t, "GET", "/v2/metadefs/namespaces?limit=100", nil).want(t, http.StatusOK).obj(t)
	names := mdNames(t, list, "namespaces", "namespace")
	for _, want := range []string{"OS::Compute::Hypervisor", "OS::Compute::Libvirt", "OS::Compute::Watchdog"} {
		if !slices.Contains(names, want) {
			t.Fatalf("namespaces %v lack %s", names, want)
		}
	}
	if list["schema"] != "/v2/schemas/metadefs/namespaces" || list["first"] != "/v2/metadefs/namespaces?limit=100" {
		t.Fatalf("list links: first %v schema %v", list["first"], list["schema"])
	}
	// Readers see the public defaults too.
	if got := mdNames(t, c.as("p1").do(t, "GET", "/v2/metadefs/namespaces?limit=100", nil).want(t, http.StatusOK).obj(t), "namespaces", "namespace"); !slices.Equal(got, names) {
		t.Fatalf("reader sees %v, admin %v", got, names)
	}

	// ?resource_type= applies the association's prefix.
	ns := c.do(t, "GET", "/v2/metadefs/namespaces/OS::Compute::Libvirt?resource_type=OS::Nova::Flavor", nil).want(t, http.StatusOK).obj(t)
	if _, ok := ns["properties"].(map[string]any)["hw:boot_menu"]; !ok {
		t.Fatalf("flavor view of OS::Compute::Libvirt: properties %v", ns["properties"])
	}
	if ns["self"] != "/v2/metadefs/namespaces/OS::Compute::Libvirt" || ns["schema"] != "/v2/schemas/metadefs/namespace" || ns["owner"] != "admin" || ns["protected"] != true {
		t.Fatalf("namespace: %v", ns)
	}
	prop := c.do(t, "GET", "/v2/metadefs/namespaces/OS::Compute::Libvirt/properties/hw_serial_port_count?resource_type=OS::Glance::Image", nil).want(t, http.StatusOK).obj(t)
	if prop["name"] != "serial_port_count" || prop["type"] != "integer" {
		t.Fatalf("prefixed property: %v", prop)
	}
	// Defaults are protected.
	c.do(t, "DELETE", "/v2/metadefs/namespaces/OS::Compute::Watchdog", nil).wantErr(t, http.StatusForbidden, "is protected")
	c.do(t, "DELETE", "/v2/metadefs/namespaces/OS::Compute::Watchdog/properties/watchdog_action", nil).wantErr(t, http.StatusForbidden, "is protected")

	for _, name := range []string{"namespace", "namespaces", "object", "objects", "property", "properties", "tag", "tags", "resource_type", "resource_types"} {
		m := c.do(t, "GET", "/v2/schemas/metadefs/"+name, nil).want(t, http.StatusOK).obj(t)
		if _, ok := m["properties"].(map[string]any); !ok || m["name"] == nil {
			t.Fatalf("schema %s: %v", name, m)
		}
	}
	c.do(t, "GET", "/v2/schemas/metadefs/nothing", nil).want(t, http.StatusNotFound)
	c.do(t, "POST", "/v2/schemas/metadefs/namespace", nil).want(t, http.StatusMethodNotAllowed)
}

func TestMetadefNamespaceCRUD(t *testing.T) {
	c := newAPICluster(t)
	const base = "/v2/metadefs/namespaces"
	r := c.mdSend(t, "POST", base, `{"namespace": "Test::One", "display_name": "One", "description": "first",
		"visibility": "public", "resource_type_associations": [{"name": "Test::Type", "prefix": "one_"}],
		"properties": {"size": {"type": "integer", "title": "Size", "minimum": 1}},
		"objects": [{"name": "Obj", "properties": {"color": {"type": "string", "title": "Color", "enum": ["red", "blue"]}}, "required": ["color"]}],
		"tags": [{"name": "alpha"}, {"name": "beta"}]}`).want(t, http.StatusCreated)
	if loc := r.header.Get("Location"); loc != c.base+base+"/Test::One" {
		t.Fatalf("Location %q", loc)
	}
	created := r.obj(t)
	if created["namespace"] != "Test::One" || created["visibility"] != "public" || created["protected"] != false ||
		!glanceTimeFormat.MatchString(created["created_at"].(string)) || created["self"] != base+"/Test::One" {
		t.Fatalf("created: %v", created)
	}
	if _, ok := created["owner"]; ok {
		t.Fatalf("noauth admin without project made an owned namespace: %v", created["owner"])
	}
	if keys := jsonKeys(t, r.body); !slices.Equal(keys[:6], []string{"namespace", "display_name", "description", "visibility", "protected", "created_at"}) || keys[len(keys)-1] != "schema" {
		t.Fatalf("key order %v", keys)
	}
	c.mdSend(t, "POST", base, `{"namespace": "Test::One"}`).wantErr(t, http.StatusConflict, "already exists")
	c.mdSend(t, "POST", base, `{"display_name": "x"}`).wantErr(t, http.StatusBadRequest, "'namespace' is a required property")
	c.mdSend(t, "POST", base, `{"namespace": "x", "created_at": "now"}`).wantErr(t, http.StatusForbidden, "read-only")
	c.do(t, "GET", base+"/Test::None", nil).want(t, http.StatusNotFound)
	c.do(t, "DELETE", base+"/Test::None", nil).want(t, http.StatusNotFound)

	got := c.do(t, "GET", base+"/Test::One", nil).want(t, http.StatusOK).obj(t)
	obj := got["objects"].([]any)[0].(map[string]any)
	if obj["self"] != base+"/Test::One/objects/Obj" || obj["required"].([]any)[0] != "color" {
		t.Fatalf("object in namespace: %v", obj)
	}
	if tags := mdNames(t, got, "tags", "name"); !slices.Equal(tags, []string{"alpha", "beta"}) {
		t.Fatalf("tags %v", tags)
	}
	prefixed := c.do(t, "GET", base+"/Test::One?resource_type=Test::Type", nil).want(t, http.StatusOK).obj(t)
	pobj := prefixed["objects"].([]any)[0].(map[string]any)
	if _, ok := prefixed["properties"].(map[string]any)["one_size"]; !ok || pobj["required"].([]any)[0] != "one_color" {
		t.Fatalf("prefixed namespace: %v", prefixed)
	}
	if rts := mdNames(t, c.do(t, "GET", "/v2/metadefs/resource_types", nil).want(t, http.StatusOK).obj(t), "resource_types", "name"); !slices.Contains(rts, "Test::Type") {
		t.Fatalf("association did not create its resource type: %v", rts)
	}

	// PUT replaces the namespace's attributes (absent ones reset) and may
	// rename it; its content stays.
	up := c.mdSend(t, "PUT", base+"/Test::One", `{"namespace": "Test::Uno", "description": "renamed", "protected": true}`).want(t, http.StatusOK).obj(t)
	if up["namespace"] != "Test::Uno" || up["visibility"] != "private" || up["protected"] != true || up["display_name"] != nil {
		t.Fatalf("updated: %v", up)
	}
	c.do(t, "GET", base+"/Test::One", nil).want(t, http.StatusNotFound)
	if got := c.do(t, "GET", base+"/Test::Uno/objects/Obj", nil).want(t, http.StatusOK).obj(t); got["self"] != base+"/Test::Uno/objects/Obj" {
		t.Fatalf("object after rename: %v", got)
	}
	// Protected: nothing in it may be deleted.
	for _, p := range []string{"", "/objects", "/properties", "/tags", "/objects/Obj", "/properties/size", "/tags/alpha", "/resource_types/Test::Type"} {
		c.do(t, "DELETE", base+"/Test::Uno"+p, nil).wantErr(t, http.StatusForbidden, "protected")
	}
	c.mdSend(t, "POST", base, `{"namespace": "Test::Two"}`).want(t, http.StatusCreated)
	c.mdSend(t, "PUT", base+"/Test::Uno", `{"namespace": "Test::Two"}`).want(t, http.StatusConflict)
	c.mdSend(t, "PUT", base+"/Test::Uno", `{"namespace": "Test::Uno", "protected": false}`).want(t, http.StatusOK)
	for _, p := range []string{"/objects", "/properties", "/tags"} {
		c.do(t, "DELETE", base+"/Test::Uno"+p, nil).want(t, http.StatusNoContent)
	}
	empty := c.do(t, "GET", base+"/Test::Uno", nil).want(t, http.StatusOK).obj(t)
	for _, k := range []string{"objects", "properties", "tags"} {
		if _, ok := empty[k]; ok {
			t.Fatalf("%s left after deleting them all: %v", k, empty)
		}
	}
	c.do(t, "DELETE", base+"/Test::Uno", nil).want(t, http.StatusNoContent)
	c.do(t, "GET", base+"/Test::Uno", nil).want(t, http.StatusNotFound)
	c.do(t, "PATCH", base+"/Test::Two", nil).want(t, http.StatusMethodNotAllowed)
}

func TestMetadefListPagination(t *testing.T) {
	c := newAPICluster(t)
	for _, n := range []string{"Page::C", "Page::A", "Page::E", "Page::B", "Page::D"} {
		c.mdSend(t, "POST", "/v2/metadefs/namespaces", `{"namespace": "`+n+`", "resource_type_associations": [{"name": "Page::Type"}]}`).want(t, http.StatusCreated)
	}
	c.mdSend(t, "POST", "/v2/metadefs/namespaces", `{"namespace": "Page::Public", "visibility": "public"}`).want(t, http.StatusCreated)
	path := "/v2/metadefs/namespaces?resource_types=Page::Type&sort_key=namespace&sort_dir=asc&limit=2"
	var all []string
	var pages []int
	for range 10 {
		m := c.do(t, "GET", path, nil).want(t, http.StatusOK).obj(t)
		page := mdNames(t, m, "namespaces", "namespace")
		all = append(all, page...)
		pages = append(pages, len(page))
		next, ok := m["next"].(string)
		if !ok {
			break
		}
		u, err := url.Parse(next)
		if err != nil || !strings.HasPrefix(next, "/v2/metadefs/namespaces?") || u.Query().Get("marker") != page[len(page)-1] {
			t.Fatalf("next link %q after page %v", next, page)
		}
		path = next
	}
	if !slices.Equal(all, []string{"Page::A", "Page::B", "Page::C", "Page::D", "Page::E"}) || !slices.Equal(pages, []int{2, 2, 1}) {
		t.Fatalf("pages %v: %v", pages, all)
	}
	desc := mdNames(t, c.do(t, "GET", "/v2/metadefs/namespaces?resource_types=Page::Type&sort_key=namespace&limit=3", nil).want(t, http.StatusOK).obj(t), "namespaces", "namespace")
	if !slices.Equal(desc, []string{"Page::E", "Page::D", "Page::C"}) {
		t.Fatalf("default sort_dir desc: %v", desc)
	}
	pub := mdNames(t, c.do(t, "GET", "/v2/metadefs/namespaces?visibility=private&limit=100", nil).want(t, http.StatusOK).obj(t), "namespaces", "namespace")
	if len(pub) != 5 || slices.Contains(pub, "Page::Public") {
		t.Fatalf("visibility=private: %v", pub)
	}
	for _, q := range []string{"limit=x", "limit=-1", "sort_dir=up", "visibility=shared", "sort_key=nope"} {
		c.do(t, "GET", "/v2/metadefs/namespaces?"+q, nil).want(t, http.StatusBadRequest)
	}
	c.do(t, "GET", "/v2/metadefs/namespaces?marker=Page::Nope", nil).want(t, http.StatusNotFound)
}

func TestMetadefObjectsPropertiesTags(t *testing.T) {
	c := newAPICluster(t)
	ns := "/v2/metadefs/namespaces/Test::Parts"
	c.mdSend(t, "POST", "/v2/metadefs/namespaces", `{"namespace": "Test::Parts"}`).want(t, http.StatusCreated)

	// Objects.
	o := c.mdSend(t, "POST", ns+"/objects", `{"name": "Limits", "description": "d", "properties": {"max": {"type": "integer", "title": "Max"}}}`).want(t, http.StatusCreated).obj(t)
	if o["self"] != ns+"/objects/Limits" || o["schema"] != "/v2/schemas/metadefs/object" || !glanceTimeFormat.MatchString(o["updated_at"].(string)) {
		t.Fatalf("object: %v", o)
	}
	c.mdSend(t, "POST", ns+"/objects", `{"name": "Limits"}`).wantErr(t, http.StatusConflict, "already exists")
	c.mdSend(t, "POST", ns+"/objects", `{"name": "Bad", "properties": {"p": {"title": "P"}}}`).wantErr(t, http.StatusBadRequest, "'type' is a required property")
	c.mdSend(t, "POST", "/v2/metadefs/namespaces/Test::Nope/objects", `{"name": "X"}`).want(t, http.StatusNotFound)
	c.mdSend(t, "PUT", ns+"/objects/Limits", `{"name": "Caps", "required": ["max"]}`).want(t, http.StatusOK)
	c.do(t, "GET", ns+"/objects/Limits", nil).wantErr(t, http.StatusNotFound, "name=Limits was not found")
	caps := c.do(t, "GET", ns+"/objects/Caps", nil).want(t, http.StatusOK).obj(t)
	if caps["description"] != nil || caps["properties"] != nil || caps["required"].([]any)[0] != "max" {
		t.Fatalf("PUT replaces the object: %v", caps)
	}
	objs := c.do(t, "GET", ns+"/objects", nil).want(t, http.StatusOK).obj(t)
	if names := mdNames(t, objs, "objects", "name"); !slices.Equal(names, []string{"Caps"}) {
		t.Fatalf("objects %v", names)
	}
	c.do(t, "DELETE", ns+"/objects/Caps", nil).want(t, http.StatusNoContent)
	c.do(t, "DELETE", ns+"/objects/Caps", nil).want(t, http.StatusNotFound)

	// Properties.
	p := c.mdSend(t, "POST", ns+"/properties", `{"name": "speed", "title": "Speed", "type": "string", "enum": ["slow", "fast"], "default": "slow"}`).want(t, http.StatusCreated)
	if keys := jsonKeys(t, p.body); !slices.Equal(keys, []string{"name", "type", "title", "default", "enum"}) {
		t.Fatalf("property keys %v", keys)
	}
	c.mdSend(t, "POST", ns+"/properties", `{"name": "speed", "title": "Speed", "type": "string"}`).want(t, http.StatusConflict)
	c.mdSend(t, "POST", ns+"/properties", `{"name": "x", "title": "X", "type": "string", "bogus": 1}`).wantErr(t, http.StatusBadRequest, "Additional properties are not allowed")
	c.mdSend(t, "POST", ns+"/properties", `{"name": "x", "title": "X", "type": "string", "created_at": "x"}`).want(t, http.StatusForbidden)
	c.mdSend(t, "PUT", ns+"/properties/speed", `{"name": "pace", "title": "Pace", "type": "integer", "minimum": 0}`).want(t, http.StatusOK)
	c.do(t, "GET", ns+"/properties/speed", nil).want(t, http.StatusNotFound)
	if pace := c.do(t, "GET", ns+"/properties/pace", nil).want(t, http.StatusOK).obj(t); pace["type"] != "integer" || pace["minimum"] != 0.0 || pace["enum"] != nil {
		t.Fatalf("property after PUT: %v", pace)
	}
	if props := mdNames(t, c.do(t, "GET", ns+"/properties", nil).want(t, http.StatusOK).obj(t), "properties", ""); !slices.Equal(props, []string{"pace"}) {
		t.Fatalf("properties %v", props)
	}
	c.do(t, "DELETE", ns+"/properties/pace", nil).want(t, http.StatusNoContent)
	c.do(t, "DELETE", ns+"/properties/pace", nil).want(t, http.StatusNotFound)

	// Tags.
	r := c.mdSend(t, "POST", ns+"/tags", `{"tags": [{"name": "a"}, {"name": "b"}]}`).want(t, http.StatusCreated).obj(t)
	if names := mdNames(t, r, "tags", "name"); !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("created tags %v", names)
	}
	c.mdSend(t, "POST", ns+"/tags", `{"tags": [{"name": "c"}]}`, "X-Openstack-Append", "true").want(t, http.StatusCreated)
	c.mdSend(t, "POST", ns+"/tags", `{"tags": [{"name": "A"}]}`, "X-Openstack-Append", "true").wantErr(t, http.StatusConflict, "case insensitive")
	tagNames := func(q string) []string {
		return mdNames(t, c.do(t, "GET", ns+"/tags"+q, nil).want(t, http.StatusOK).obj(t), "tags", "name")
	}
	if got := tagNames("?sort_key=name&sort_dir=asc"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("tags %v", got)
	}
	if got := tagNames("?sort_key=name&sort_dir=asc&limit=1&marker=a"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("tags page %v", got)
	}
	// Without the append header, the list replaces the tags.
	c.mdSend(t, "POST", ns+"/tags", `{"tags": [{"name": "x"}, {"name": "y"}]}`).want(t, http.StatusCreated)
	if got := tagNames("?sort_key=name&sort_dir=asc"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("replaced tags %v", got)
	}
	one := c.do(t, "POST", ns+"/tags/z", nil).want(t, http.StatusCreated).obj(t)
	if one["name"] != "z" || !glanceTimeFormat.MatchString(one["created_at"].(string)) {
		t.Fatalf("tag: %v", one)
	}
	c.do(t, "POST", ns+"/tags/Z", nil).want(t, http.StatusConflict)
	c.mdSend(t, "PUT", ns+"/tags/z", `{"name": "zz"}`).want(t, http.StatusOK)
	c.do(t, "GET", ns+"/tags/zz", nil).want(t, http.StatusOK)
	c.do(t, "GET", ns+"/tags/z", nil).want(t, http.StatusNotFound)
	c.do(t, "DELETE", ns+"/tags/zz", nil).want(t, http.StatusNoContent)
	c.do(t, "DELETE", ns+"/tags/zz", nil).want(t, http.StatusNotFound)

	// Resource type associations.
	a := c.mdSend(t, "POST", ns+"/resource_types", `{"name": "OS::Nova::Flavor", "prefix": "parts:"}`).want(t, http.StatusCreated).obj(t)
	if a["name"] != "OS::Nova::Flavor" || a["prefix"] != "parts:" || !glanceTimeFormat.MatchString(a["created_at"].(string)) {
		t.Fatalf("association: %v", a)
	}
	c.mdSend(t, "POST", ns+"/resource_types", `{"name": "OS::Nova::Flavor"}`).want(t, http.StatusConflict)
	c.mdSend(t, "POST", ns+"/resource_types", `{"prefix": "x"}`).want(t, http.StatusBadRequest)
	if got := mdNames(t, c.do(t, "GET", ns+"/resource_types", nil).want(t, http.StatusOK).obj(t), "resource_type_associations", "name"); !slices.Equal(got, []string{"OS::Nova::Flavor"}) {
		t.Fatalf("associations %v", got)
	}
	c.do(t, "DELETE", ns+"/resource_types/OS::Nova::Flavor", nil).want(t, http.StatusNoContent)
	c.do(t, "DELETE", ns+"/resource_types/OS::Nova::Flavor", nil).want(t, http.StatusNotFound)
}

func TestMetadefPolicyAndVisibility(t *testing.T) {
	c := newAPICluster(t)
	base := "/v2/metadefs/namespaces"
	c.mdSend(t, "POST", base, `{"namespace": "Vis::Public", "visibility": "public"}`).want(t, http.StatusCreated)
	c.mdSend(t, "POST", base, `{"namespace": "Vis::P1", "owner": "p1"}`).want(t, http.StatusCreated)
	// An admin of a project owns what it creates.
	own := c.as("p9", "admin").mdSend(t, "POST", base, `{"namespace": "Vis::P9"}`).want(t, http.StatusCreated).obj(t)
	if own["owner"] != "p9" || own["visibility"] != "private" {
		t.Fatalf("admin-created namespace: %v", own)
	}

	p1, p2 := c.as("p1"), c.as("p2")
	p1.do(t, "GET", base+"/Vis::P1", nil).want(t, http.StatusOK)
	p2.do(t, "GET", base+"/Vis::P1", nil).want(t, http.StatusNotFound)
	p2.do(t, "GET", base+"/Vis::P1/properties", nil).want(t, http.StatusNotFound)
	p2.do(t, "GET", base+"/Vis::Public", nil).want(t, http.StatusOK)
	listed := func(cl apiClient) []string {
		return mdNames(t, cl.do(t, "GET", base+"?limit=100", nil).want(t, http.StatusOK).obj(t), "namespaces", "namespace")
	}
	if l := listed(p1); !slices.Contains(l, "Vis::P1") || slices.Contains(l, "Vis::P9") {
		t.Fatalf("p1 lists %v", l)
	}
	if l := listed(p2); slices.Contains(l, "Vis::P1") || !slices.Contains(l, "Vis::Public") {
		t.Fatalf("p2 lists %v", l)
	}

	// Writes are admin-only: 403 where the caller can see the namespace,
	// 404 where it cannot.
	p1.mdSend(t, "POST", base, `{"namespace": "Vis::Mine"}`).wantErr(t, http.StatusForbidden, "add_metadef_namespace")
	p1.mdSend(t, "POST", base+"/Vis::P1/objects", `{"name": "o"}`).wantErr(t, http.StatusForbidden, "add_metadef_object")
	p1.mdSend(t, "PUT", base+"/Vis::P1", `{"namespace": "Vis::P1"}`).want(t, http.StatusForbidden)
	p1.do(t, "DELETE", base+"/Vis::P1", nil).want(t, http.StatusForbidden)
	p1.do(t, "POST", base+"/Vis::Public/tags/t", nil).want(t, http.StatusForbidden)
	p2.do(t, "POST", base+"/Vis::P1/tags/t", nil).want(t, http.StatusNotFound)
	p2.do(t, "DELETE", base+"/Vis::P1", nil).want(t, http.StatusNotFound)
	// Without the reader role nothing is readable.
	c.as("p1", "member").do(t, "GET", base, nil).want(t, http.StatusForbidden)
	c.as("p1", "member").do(t, "GET", base+"/Vis::P1", nil).want(t, http.StatusNotFound)
}

func TestMetadefAnyNodeServes(t *testing.T) {
	cl := testcluster.New(t, 2, testcluster.WithReplicas(1), testcluster.WithVoters(1))
	n0, n1 := newAPIClient(cl), apiClient{base: cl.URL(1)}
	// Node 1 (its writes go to the leader) sees the defaults.
	if names := mdNames(t, n1.do(t, "GET", "/v2/metadefs/namespaces?limit=100", nil).want(t, http.StatusOK).obj(t), "namespaces", "namespace"); !slices.Contains(names, "OS::Compute::Libvirt") {
		t.Fatalf("node 1 namespaces %v", names)
	}
	n0.mdSend(t, "POST", "/v2/metadefs/namespaces", `{"namespace": "Two::Nodes", "visibility": "public"}`).want(t, http.StatusCreated)
	n1.mdSend(t, "POST", "/v2/metadefs/namespaces/Two::Nodes/objects", `{"name": "o"}`).want(t, http.StatusCreated)
	n1.do(t, "POST", "/v2/metadefs/namespaces/Two::Nodes/tags/t", nil).want(t, http.StatusCreated)
	got := n0.do(t, "GET", "/v2/metadefs/namespaces/Two::Nodes", nil).want(t, http.StatusOK).obj(t)
	if objs := mdNames(t, got, "objects", "name"); !slices.Equal(objs, []string{"o"}) {
		t.Fatalf("node 0 sees objects %v", objs)
	}
	n1.do(t, "DELETE", "/v2/metadefs/namespaces/Two::Nodes", nil).want(t, http.StatusNoContent)
	n0.do(t, "GET", "/v2/metadefs/namespaces/Two::Nodes", nil).want(t, http.StatusNotFound)
	// Both nodes answer the same list.
	var body [2]json.RawMessage
	for i, n := range []apiClient{n0, n1} {
		body[i] = n.do(t, "GET", "/v2/metadefs/resource_types", nil).want(t, http.StatusOK).body
	}
	if string(body[0]) != string(body[1]) {
		t.Fatalf("resource types differ:\n%s\n%s", body[0], body[1])
	}
}
