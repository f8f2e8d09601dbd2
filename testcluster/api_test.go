package testcluster_test

// Conformance tests of the core Glance Image API v2 (versions, schemas,
// images CRUD, list, PATCH, data, errors) through real HTTP against a real
// single node, checked against ../shared/docs/glance-api-v2.md.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/testcluster"
)

// newAPICluster starts the single real node the conformance tests use.
func newAPICluster(t *testing.T) apiClient {
	t.Helper()
	return newAPIClient(testcluster.New(t, 1, testcluster.WithReplicas(1), testcluster.WithVoters(1)))
}

var (
	reqIDPattern     = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	glanceTimeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
)

func TestAPIVersionsSchemasAndErrors(t *testing.T) {
	c := newAPICluster(t)

	t.Run("versions", func(t *testing.T) {
		want := []string{"v2.18", "v2.17", "v2.16", "v2.15", "v2.14", "v2.13", "v2.12", "v2.11", "v2.10",
			"v2.9", "v2.8", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0"}
		for _, tc := range []struct {
			path   string
			status int
		}{
			{"/versions", http.StatusOK},
			{"/", http.StatusMultipleChoices},
			{"/v1/images", http.StatusMultipleChoices},
			{"/v3", http.StatusMultipleChoices},
			{"/v2.19/images", http.StatusMultipleChoices},
			{"/foo", http.StatusMultipleChoices},
		} {
			r := c.do(t, "GET", tc.path, nil).want(t, tc.status)
			m := r.obj(t)
			vs, _ := m["versions"].([]any)
			var ids []string
			for i, v := range vs {
				e := v.(map[string]any)
				ids = append(ids, e["id"].(string))
				status := "SUPPORTED"
				if i == 0 {
					status = "CURRENT"
				}
				if e["status"] != status {
					t.Fatalf("GET %s: %s has status %v, want %s", tc.path, e["id"], e["status"], status)
				}
				links := e["links"].([]any)
				l := links[0].(map[string]any)
				if len(links) != 1 || l["rel"] != "self" || l["href"] != c.base+"/v2/" {
					t.Fatalf("GET %s: %s links %v, want self %s/v2/", tc.path, e["id"], links, c.base)
				}
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("GET %s: versions %v, want %v", tc.path, ids, want)
			}
			// The first entry's keys, in order (jsonKeys stops after it).
			firstEntry := strings.TrimPrefix(string(r.body), `{"versions": [`)
			if k := jsonKeys(t, []byte(firstEntry)); !slices.Equal(k, []string{"id", "status", "links"}) {
				t.Fatalf("version entry keys %v, want id, status, links", k)
			}
		}
	})

	t.Run("version prefixes", func(t *testing.T) {
		id := c.create(t, `{"name": "prefixed"}`)["id"].(string)
		want, _ := c.list(t, "")
		for _, prefix := range []string{"/v2.5", "/v2.0", "/v2.18"} {
			got := c.do(t, "GET", prefix+"/images", nil).want(t, http.StatusOK).obj(t)
			if ids := imageIDs(t, got); !slices.Equal(ids, want) || !slices.Contains(ids, id) {
				t.Fatalf("GET %s/images: ids %v, /v2/images has %v", prefix, ids, want)
			}
			// Links stay unversioned.
			if got["first"] != "/v2/images" || got["schema"] != "/v2/schemas/images" {
				t.Fatalf("GET %s/images: first %v schema %v", prefix, got["first"], got["schema"])
			}
			if img := c.do(t, "GET", prefix+"/images/"+id, nil).want(t, http.StatusOK).obj(t); img["self"] != "/v2/images/"+id {
				t.Fatalf("GET %s/images/%s: self %v", prefix, id, img["self"])
			}
		}
	})

	t.Run("schemas", func(t *testing.T) {
		img := c.do(t, "GET", "/v2/schemas/image", nil).want(t, http.StatusOK).obj(t)
		if img["name"] != "image" {
			t.Fatalf("image schema name %v", img["name"])
		}
		if ap, _ := img["additionalProperties"].(map[string]any); ap["type"] != "string" {
			t.Fatalf("image schema additionalProperties %v, want {type: string}", img["additionalProperties"])
		}
		props := img["properties"].(map[string]any)
		for _, k := range []string{"id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
			"os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format",
			"created_at", "updated_at", "tags", "direct_url", "min_ram", "min_disk", "self", "file", "stores",
			"schema", "locations"} {
			if _, ok := props[k]; !ok {
				t.Fatalf("image schema lacks property %s", k)
			}
		}
		imgs := c.do(t, "GET", "/v2/schemas/images", nil).want(t, http.StatusOK).obj(t)
		if imgs["name"] != "images" {
			t.Fatalf("images schema name %v", imgs["name"])
		}
		p := imgs["properties"].(map[string]any)
		if items := p["images"].(map[string]any)["items"].(map[string]any); items["name"] != "image" {
			t.Fatalf("images schema items %v", items["name"])
		}
		c.do(t, "POST", "/v2/schemas/image", nil).want(t, http.StatusMethodNotAllowed)
		c.do(t, "GET", "/v2/schemas/nope", nil).want(t, http.StatusNotFound)
	})

	t.Run("method not allowed", func(t *testing.T) {
		id := c.create(t, `{"name": "m"}`)["id"].(string)
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "/v2/images", "GET, POST"},
			{"DELETE", "/v2/images", "GET, POST"},
			{"HEAD", "/v2/images", "GET, POST"},
			{"POST", "/v2/images/" + id, "GET, PATCH, DELETE"},
			{"PUT", "/v2/images/" + id, "GET, PATCH, DELETE"},
			{"DELETE", "/v2/images/" + id + "/file", "GET, PUT"},
			{"POST", "/v2/schemas/image", "GET"},
		} {
			r := c.do(t, tc.method, tc.path, nil).want(t, http.StatusMethodNotAllowed)
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Fatalf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
			}
		}
		c.do(t, "GET", "/v2/nothing", nil).want(t, http.StatusNotFound)
		c.do(t, "GET", "/v2/images/"+id+"/nothing", nil).want(t, http.StatusNotFound)
		c.do(t, "FROB", "/v2/nothing", nil).want(t, http.StatusNotImplemented)
	})

	t.Run("error body by Accept", func(t *testing.T) {
		const id = "00000000-0000-0000-0000-000000000000"
		path := "/v2/images/" + id
		r := c.do(t, "GET", path, nil).want(t, http.StatusNotFound)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("JSON error Content-Type %q", ct)
		}
		m := r.obj(t)
		wantMsg := "No image found with ID " + id + "<br /><br />\n\n\n"
		if m["message"] != wantMsg || m["code"] != "404 Not Found" || m["title"] != "Not Found" || len(m) != 3 {
			t.Fatalf("JSON error body %q", r.body)
		}
		if k := jsonKeys(t, r.body); !slices.Equal(k, []string{"message", "code", "title"}) {
			t.Fatalf("JSON error keys %v", k)
		}

		r = c.do(t, "GET", path, nil, "Accept", "*/*").want(t, http.StatusNotFound)
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=UTF-8" {
			t.Fatalf("HTML error Content-Type %q", ct)
		}
		if b := string(r.body); !strings.HasPrefix(b, "<html>\n <head>\n  <title>404 Not Found</title>") ||
			!strings.Contains(b, "<h1>404 Not Found</h1>\n  No image found with ID "+id) {
			t.Fatalf("HTML error body %q", b)
		}

		r = c.do(t, "GET", path, nil, "Accept", "").want(t, http.StatusNotFound)
		if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
			t.Fatalf("plain error Content-Type %q", ct)
		}
		if b := string(r.body); !strings.HasPrefix(b, "404 Not Found\n\nNo image found with ID "+id) {
			t.Fatalf("plain error body %q", b)
		}
	})

	t.Run("request id", func(t *testing.T) {
		for _, path := range []string{"/v2/images", "/v2/schemas/image", "/v2/images/nope", "/v2/nothing"} {
			r := c.do(t, "GET", path, nil)
			if id := r.header.Get("X-Openstack-Request-Id"); !reqIDPattern.MatchString(id) {
				t.Fatalf("GET %s: x-openstack-request-id %q", path, id)
			}
		}
		r := c.do(t, "PUT", "/v2/images", nil)
		if id := r.header.Get("X-Openstack-Request-Id"); !reqIDPattern.MatchString(id) {
			t.Fatalf("405: x-openstack-request-id %q", id)
		}
		r = c.do(t, "GET", "/v2/images", nil, "X-Openstack-Request-Id", "req-mine-123")
		if id := r.header.Get("X-Openstack-Request-Id"); id != "req-mine-123" {
			t.Fatalf("echoed request id %q, want req-mine-123", id)
		}
		r = c.do(t, "GET", "/v2/images", nil, "X-Openstack-Request-Id", "mine-456")
		if id := r.header.Get("X-Openstack-Request-Id"); id != "req-mine-456" {
			t.Fatalf("echoed request id %q, want req-mine-456", id)
		}
		c.do(t, "GET", "/v2/images", nil, "X-Openstack-Request-Id", "req-"+strings.Repeat("x", 61)).
			want(t, http.StatusRequestHeaderFieldsTooLarge)
		if id := c.do(t, "GET", "/versions", nil).header.Get("X-Openstack-Request-Id"); id != "" {
			t.Fatalf("versions answer has request id %q", id)
		}
	})
}

// baseImageKeys are the keys of an image entity after its custom
// properties, in Glance's order (no locations, direct_url or stores in our
// configuration).
var baseImageKeys = []string{"name", "disk_format", "container_format", "visibility", "size", "virtual_size",
	"status", "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden", "os_hash_algo",
	"os_hash_value", "id", "created_at", "updated_at", "tags", "self", "file", "schema"}

func TestAPICreateShowDelete(t *testing.T) {
	c := newAPICluster(t)
	p1, p2 := c.as("p1"), c.as("p2")
	padm := c.as("padm", "admin", "member", "reader") // an admin acting in a project

	t.Run("create defaults", func(t *testing.T) {
		r := c.do(t, "POST", "/v2/images", `{"name": "defaults"}`, "Content-Type", "application/json").want(t, http.StatusCreated)
		img := r.obj(t)
		id, _ := img["id"].(string)
		if !uuidRe.MatchString(id) {
			t.Fatalf("id %q is not a UUID", id)
		}
		if loc := r.header.Get("Location"); loc != c.base+"/v2/images/"+id {
			t.Fatalf("Location %q, want %s/v2/images/%s", loc, c.base, id)
		}
		want := map[string]any{
			"name": "defaults", "disk_format": nil, "container_format": nil, "visibility": "shared",
			"size": nil, "virtual_size": nil, "status": "queued", "checksum": nil, "protected": false,
			"min_ram": 0.0, "min_disk": 0.0, "owner": nil, "os_hidden": false, "os_hash_algo": nil,
			"os_hash_value": nil, "id": id, "tags": []any{}, "self": "/v2/images/" + id,
			"file": "/v2/images/" + id + "/file", "schema": "/v2/schemas/image",
		}
		for k, v := range want {
			if got, ok := img[k]; !ok || !jsonEqual(got, v) {
				t.Fatalf("created image %s = %#v, want %#v", k, got, v)
			}
		}
		for _, k := range []string{"created_at", "updated_at"} {
			if s, _ := img[k].(string); !glanceTimeFormat.MatchString(s) {
				t.Fatalf("%s %q is not YYYY-MM-DDTHH:MM:SSZ", k, img[k])
			}
		}
		if keys := jsonKeys(t, r.body); !slices.Equal(keys, baseImageKeys) {
			t.Fatalf("image keys %v, want %v", keys, baseImageKeys)
		}
		// Python json.dumps separators.
		if !strings.HasPrefix(string(r.body), `{"name": "defaults", "disk_format": null, `) {
			t.Fatalf("body not in json.dumps style: %.80s", r.body)
		}
		if got := c.show(t, id); !jsonEqual(got, img) {
			t.Fatalf("GET after create %v, want %v", got, img)
		}
	})

	t.Run("create owner is the project", func(t *testing.T) {
		if img := p1.create(t, `{"name": "mine"}`); img["owner"] != "p1" {
			t.Fatalf("owner %v, want p1", img["owner"])
		}
		if img := p1.create(t, `{"name": "mine2", "owner": "p1"}`); img["owner"] != "p1" {
			t.Fatalf("owner %v, want p1", img["owner"])
		}
		if img := padm.create(t, `{"name": "theirs", "owner": "someone"}`); img["owner"] != "someone" {
			t.Fatalf("admin-set owner %v, want someone", img["owner"])
		}
		p1.do(t, "POST", "/v2/images", `{"name": "x", "owner": "p2"}`, "Content-Type", "application/json").
			wantErr(t, http.StatusForbidden, "You are not permitted to create images owned by 'p2'")
	})

	t.Run("create with all writable attributes and key order", func(t *testing.T) {
		r := p1.do(t, "POST", "/v2/images", `{"zeta": "z", "name": "full", "alpha": "a", "disk_format": "qcow2",
			"container_format": "bare", "visibility": "private", "protected": true, "os_hidden": true,
			"min_ram": 512, "min_disk": 2, "tags": ["t1", "t2", "t1"]}`, "Content-Type", "application/json").want(t, http.StatusCreated)
		img := r.obj(t)
		keys := jsonKeys(t, r.body)
		if !sameSet(keys[:2], []string{"alpha", "zeta"}) || !slices.Equal(keys[2:], baseImageKeys) {
			t.Fatalf("image keys %v, want the custom properties then %v", keys, baseImageKeys)
		}
		for k, v := range map[string]any{"zeta": "z", "alpha": "a", "disk_format": "qcow2", "container_format": "bare",
			"visibility": "private", "protected": true, "os_hidden": true, "min_ram": 512.0, "min_disk": 2.0} {
			if !jsonEqual(img[k], v) {
				t.Fatalf("%s = %v, want %v", k, img[k], v)
			}
		}
		if tags := toStrings(img["tags"]); !sameSet(tags, []string{"t1", "t2"}) {
			t.Fatalf("tags %v, want the set t1, t2", tags)
		}
		// Make it deletable for the tests that count images.
		p1.patch(t, img["id"].(string), `[{"op": "replace", "path": "/protected", "value": false}]`).want(t, http.StatusOK)
	})

	t.Run("create with client id", func(t *testing.T) {
		const id = "0b3e4f1c-6d1a-4a3e-9b7e-2f4a5c6d7e8f"
		r := c.do(t, "POST", "/v2/images", `{"id": "`+id+`", "name": "mine"}`, "Content-Type", "application/json").want(t, http.StatusCreated)
		if img := r.obj(t); img["id"] != id {
			t.Fatalf("id %v, want %s", img["id"], id)
		}
		c.do(t, "POST", "/v2/images", `{"id": "`+id+`"}`, "Content-Type", "application/json").want(t, http.StatusConflict)
		c.do(t, "POST", "/v2/images", `{"id": "not-a-uuid"}`, "Content-Type", "application/json").want(t, http.StatusBadRequest)
		c.do(t, "POST", "/v2/images", `{"id": 12}`, "Content-Type", "application/json").want(t, http.StatusBadRequest)
		// A deleted image's id can never be reused.
		c.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
		c.do(t, "POST", "/v2/images", `{"id": "`+id+`"}`, "Content-Type", "application/json").want(t, http.StatusConflict)
	})

	t.Run("create refusals", func(t *testing.T) {
		before, _ := c.list(t, "limit=1000&visibility=all")
		for _, tc := range []struct {
			body   string
			status int
			msg    string
		}{
			{`{"status": "active"}`, http.StatusForbidden, "Attribute 'status' is read-only."},
			{`{"size": 1}`, http.StatusForbidden, "Attribute 'size' is read-only."},
			{`{"virtual_size": 1}`, http.StatusForbidden, "Attribute 'virtual_size' is read-only."},
			{`{"checksum": "x"}`, http.StatusForbidden, "Attribute 'checksum' is read-only."},
			{`{"created_at": "2020-01-01T00:00:00Z"}`, http.StatusForbidden, "Attribute 'created_at' is read-only."},
			{`{"updated_at": "2020-01-01T00:00:00Z"}`, http.StatusForbidden, "Attribute 'updated_at' is read-only."},
			{`{"self": "/v2/images/x"}`, http.StatusForbidden, "Attribute 'self' is read-only."},
			{`{"file": "x"}`, http.StatusForbidden, "Attribute 'file' is read-only."},
			{`{"schema": "x"}`, http.StatusForbidden, "Attribute 'schema' is read-only."},
			{`{"direct_url": "x"}`, http.StatusForbidden, "Attribute 'direct_url' is read-only."},
			{`{"stores": "x"}`, http.StatusForbidden, "Attribute 'stores' is read-only."},
			{`{"os_glance_foo": "x"}`, http.StatusForbidden, "Attribute 'os_glance_foo' is reserved."},
			{`{"location": "x"}`, http.StatusForbidden, "Attribute 'location' is reserved."},
			{`{"locations": []}`, http.StatusForbidden, "reserved"},
			{`{"deleted": false}`, http.StatusForbidden, "Attribute 'deleted' is reserved."},
			{`{"deleted_at": "x"}`, http.StatusForbidden, "Attribute 'deleted_at' is reserved."},
			{`{"foo": 1}`, http.StatusBadRequest, ""},
			{`{"foo": true}`, http.StatusBadRequest, ""},
			{`{"foo": null}`, http.StatusBadRequest, ""},
			{`{"foo": {"a": "b"}}`, http.StatusBadRequest, ""},
			{`{"disk_format": "floppy"}`, http.StatusBadRequest, ""},
			{`{"container_format": "box"}`, http.StatusBadRequest, ""},
			{`{"visibility": "everyone"}`, http.StatusBadRequest, ""},
			{`{"visibility": null}`, http.StatusBadRequest, ""},
			{`{"min_ram": -1}`, http.StatusBadRequest, ""},
			{`{"min_ram": "5"}`, http.StatusBadRequest, ""},
			{`{"min_disk": 1.5}`, http.StatusBadRequest, ""},
			{`{"min_disk": 2147483648}`, http.StatusBadRequest, ""},
			{`{"protected": "yes"}`, http.StatusBadRequest, ""},
			{`{"protected": null}`, http.StatusBadRequest, ""},
			{`{"os_hidden": null}`, http.StatusBadRequest, ""},
			{`{"min_ram": null}`, http.StatusBadRequest, ""},
			{`{"tags": null}`, http.StatusBadRequest, ""},
			{`{"tags": [null]}`, http.StatusBadRequest, ""},
			{`{"tags": ["` + strings.Repeat("t", 256) + `"]}`, http.StatusBadRequest, ""},
			{manyProps(129), http.StatusRequestEntityTooLarge, ""},
			{manyTags(129), http.StatusRequestEntityTooLarge, ""},
			{`{"owner": 5}`, http.StatusBadRequest, ""},
			{`{"tags": "a"}`, http.StatusBadRequest, ""},
			{`{"tags": [1]}`, http.StatusBadRequest, ""},
			{`{"name": 5}`, http.StatusBadRequest, ""},
			{`{"name": "` + strings.Repeat("n", 256) + `"}`, http.StatusBadRequest, ""},
			{`{"` + strings.Repeat("k", 256) + `": "v"}`, http.StatusBadRequest, ""},
			{`{"name": "x"`, http.StatusBadRequest, "Malformed JSON in request body."},
			{`not json`, http.StatusBadRequest, "Malformed JSON in request body."},
			{`"a string"`, http.StatusBadRequest, "Unexpected body type. Expected list/dict."},
			{`42`, http.StatusBadRequest, "Unexpected body type. Expected list/dict."},
			{`null`, http.StatusBadRequest, "Unexpected body type. Expected list/dict."},
			{`[]`, http.StatusBadRequest, ""},
			{``, http.StatusBadRequest, "Body expected in request."},
		} {
			r := c.do(t, "POST", "/v2/images", tc.body, "Content-Type", "application/json")
			r.wantErr(t, tc.status, tc.msg)
		}
		p1.do(t, "POST", "/v2/images", `{"visibility": "public"}`, "Content-Type", "application/json").
			want(t, http.StatusForbidden)
		if img := p1.create(t, `{"name": "comm", "visibility": "community"}`); img["visibility"] != "community" {
			t.Fatalf("visibility %v, want community", img["visibility"])
		}
		if img := padm.create(t, `{"name": "pub", "visibility": "public"}`); img["visibility"] != "public" {
			t.Fatalf("visibility %v, want public", img["visibility"])
		}
		// os_hash_algo/os_hash_value are ignored rather than refused.
		if img := c.create(t, `{"os_hash_algo": "md5", "os_hash_value": "x"}`); img["os_hash_algo"] != nil || img["os_hash_value"] != nil {
			t.Fatalf("os_hash_* taken from the client: %v %v", img["os_hash_algo"], img["os_hash_value"])
		}
		c.create(t, manyProps(128))
		c.create(t, manyTags(128))
		after, _ := c.list(t, "limit=1000&visibility=all")
		if len(after) != len(before)+5 {
			t.Fatalf("%d images after the refused creates, want %d (only the 5 accepted ones)", len(after), len(before)+5)
		}
	})

	t.Run("show visibility", func(t *testing.T) {
		shared := p1.create(t, `{"name": "p1-shared"}`)["id"].(string)
		private := p1.create(t, `{"name": "p1-private", "visibility": "private"}`)["id"].(string)
		community := p1.create(t, `{"name": "p1-community", "visibility": "community"}`)["id"].(string)
		public := padm.create(t, `{"name": "padm-public", "visibility": "public"}`)["id"].(string)
		padmShared := padm.create(t, `{"name": "padm-shared"}`)["id"].(string)
		ownerless := c.create(t, `{"name": "ownerless"}`)["id"].(string)
		for _, id := range []string{shared, private, community} {
			p1.show(t, id)
			c.show(t, id)
			padm.show(t, id)
			c.as("p3", "admin").show(t, id)
		}
		for _, id := range []string{shared, private} {
			p2.do(t, "GET", "/v2/images/"+id, nil).wantErr(t, http.StatusNotFound, "No image found with ID "+id)
			c.as("p2", "reader").do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusNotFound)
		}
		p1.do(t, "GET", "/v2/images/"+padmShared, nil).want(t, http.StatusNotFound)
		for _, id := range []string{community, public, ownerless} {
			p2.show(t, id)
			c.as("p2", "reader").show(t, id)
		}
		for _, id := range []string{"00000000-0000-0000-0000-000000000000", "nope", strings.Repeat("a", 40)} {
			c.do(t, "GET", "/v2/images/"+id, nil).wantErr(t, http.StatusNotFound, "No image found with ID "+id)
		}
		c.do(t, "GET", "/v2/images/"+shared, "body", "Content-Type", "application/json").
			wantErr(t, http.StatusBadRequest, "A body is not expected with this request.")
	})

	t.Run("delete", func(t *testing.T) {
		id := p1.create(t, `{"name": "doomed"}`)["id"].(string)
		r := p1.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Fatalf("DELETE body %q", r.body)
		}
		p1.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusNotFound)
		c.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusNotFound)
		p1.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNotFound)
		if ids, _ := c.list(t, "limit=1000"); slices.Contains(ids, id) {
			t.Fatal("deleted image still listed")
		}

		prot := p1.create(t, `{"name": "protected", "protected": true}`)["id"].(string)
		p1.do(t, "DELETE", "/v2/images/"+prot, nil).wantErr(t, http.StatusForbidden, "Image "+prot+" is protected and cannot be deleted.")
		c.do(t, "DELETE", "/v2/images/"+prot, nil).want(t, http.StatusForbidden)
		p1.show(t, prot)
		p1.patch(t, prot, `[{"op": "replace", "path": "/protected", "value": false}]`).want(t, http.StatusOK)
		p1.do(t, "DELETE", "/v2/images/"+prot, nil).want(t, http.StatusNoContent)

		public := padm.create(t, `{"name": "public", "visibility": "public"}`)["id"].(string)
		community := padm.create(t, `{"name": "community", "visibility": "community"}`)["id"].(string)
		for _, id := range []string{public, community} {
			p2.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusForbidden)
			p2.show(t, id)
		}
		ownerless := c.create(t, `{"name": "ownerless", "visibility": "public"}`)["id"].(string)
		p2.do(t, "DELETE", "/v2/images/"+ownerless, nil).want(t, http.StatusForbidden)
		c.as("padm", "reader").do(t, "DELETE", "/v2/images/"+public, nil).want(t, http.StatusForbidden)

		private := p1.create(t, `{"name": "private", "visibility": "private"}`)["id"].(string)
		p2.do(t, "DELETE", "/v2/images/"+private, nil).wantErr(t, http.StatusNotFound, "No image found with ID "+private)
		p1.show(t, private)
		c.do(t, "DELETE", "/v2/images/"+private, "x", "Content-Type", "application/json").want(t, http.StatusBadRequest)
		c.do(t, "DELETE", "/v2/images/"+private, nil).want(t, http.StatusNoContent) // admin deletes anyone's
	})
}

// manyProps is a create body with n custom properties.
func manyProps(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"p%d": "v"`, i))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// manyTags is a create body with n tags.
func manyTags(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"t%d"`, i))
	}
	return `{"tags": [` + strings.Join(parts, ", ") + "]}"
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

// toStrings converts a decoded JSON array of strings.
func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func TestAPIList(t *testing.T) {
	cluster := testcluster.New(t, 1, testcluster.WithReplicas(1), testcluster.WithVoters(1))
	c := newAPIClient(cluster)
	bulk, p1, p2 := c.as("pbulk"), c.as("p1"), c.as("p2")
	padm := c.as("padm", "admin")

	// 26 images of project pbulk: bulk-00 ... bulk-25.
	byName := map[string]string{}
	var bulkIDs []string
	for i := range 26 {
		// The qcow2 ones are in an ova container: a few bytes of "x"
		// are uploaded to some, and Glance inspects (and would refuse
		// as not qcow2) data in bare containers only.
		format, container := "raw", "bare"
		if i%2 == 1 {
			format, container = "qcow2", "ova"
		}
		tags := []string{`"bulk"`}
		if i%2 == 0 {
			tags = append(tags, `"two"`)
		}
		if i%3 == 0 {
			tags = append(tags, `"three"`)
		}
		distro := "debian"
		if i < 5 {
			distro = "ubuntu"
		}
		name := fmt.Sprintf("bulk-%02d", i)
		img := bulk.create(t, fmt.Sprintf(`{"name": %q, "disk_format": %q, "container_format": %q, "tags": [%s], "os_distro": %q, "protected": %v, "min_ram": %d}`,
			name, format, container, strings.Join(tags, ", "), distro, i == 0, i))
		byName[name] = img["id"].(string)
		bulkIDs = append(bulkIDs, img["id"].(string))
	}
	for i, n := range []int{10, 20, 30} {
		id := byName[fmt.Sprintf("bulk-%02d", i+1)]
		bulk.upload(t, id, strings.Repeat("x", n)).want(t, http.StatusNoContent)
	}
	for _, tc := range []struct {
		who  apiClient
		body string
	}{
		{p1, `{"name": "p1-private", "visibility": "private"}`},
		{p1, `{"name": "p1-shared"}`},
		{p1, `{"name": "p1-community", "visibility": "community"}`},
		{p1, `{"name": "p1-hidden", "os_hidden": true}`},
		{p2, `{"name": "p2-shared"}`},
		{p2, `{"name": "p2-community", "visibility": "community"}`},
		{padm, `{"name": "public", "visibility": "public"}`},
		{c, `{"name": "ownerless"}`},
		{p2, `{"name": "killed"}`},
	} {
		img := tc.who.create(t, tc.body)
		byName[img["name"].(string)] = img["id"].(string)
	}
	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if byName[n] == "" {
				t.Fatalf("no image named %s", n)
			}
			out = append(out, byName[n])
		}
		return out
	}
	// No API call kills an image (v2 uploads fail back to queued): make
	// one through the node, queued -> saving -> killed.
	for _, status := range []string{catalog.StatusSaving, catalog.StatusKilled} {
		img, err := cluster.Node(0).Image(context.Background(), byName["killed"])
		if err != nil {
			t.Fatal(err)
		}
		next := img.Clone()
		next.Status = status
		if _, err := cluster.Node(0).UpdateImage(context.Background(), next, img.Revision); err != nil {
			t.Fatalf("set status %s: %v", status, err)
		}
	}
	// What the noauth admin lists by default: everything but community
	// images (not owned by it), the hidden one and the killed one.
	adminAll := append(slices.Clone(bulkIDs), ids("p1-private", "p1-shared", "p2-shared", "public", "ownerless")...)

	t.Run("default limit and links", func(t *testing.T) {
		got, m := c.list(t, "")
		if len(got) != 25 {
			t.Fatalf("default page has %d images, want 25", len(got))
		}
		if m["first"] != "/v2/images" || m["schema"] != "/v2/schemas/images" {
			t.Fatalf("first %v schema %v", m["first"], m["schema"])
		}
		next, _ := m["next"].(string)
		if next != "/v2/images?marker="+got[24] {
			t.Fatalf("next %q, want /v2/images?marker=%s", next, got[24])
		}
		r := c.do(t, "GET", "/v2/images", nil)
		if k := jsonKeys(t, r.body); !slices.Equal(k, []string{"images", "first", "schema", "next"}) {
			t.Fatalf("list keys %v, want images, first, schema, next", k)
		}
		_, m = c.list(t, "limit=5&name=bulk-01&marker="+byName["bulk-00"])
		first, _ := m["first"].(string)
		u, _ := url.Parse(first)
		if u.Path != "/v2/images" || u.Query().Get("marker") != "" || u.Query().Get("limit") != "5" || u.Query().Get("name") != "bulk-01" {
			t.Fatalf("first link %q should keep the params but the marker", first)
		}
		if _, ok := m["next"]; ok {
			t.Fatal("next present on a page that is not full")
		}
		// Links are url-encoded with + for spaces, and keep the client's
		// order of parameters (Glance echoes them), the marker last.
		_, m = c.list(t, "name=a%20b&limit=1")
		if m["first"] != "/v2/images?name=a+b&limit=1" {
			t.Fatalf("first link %v, want /v2/images?name=a+b&limit=1", m["first"])
		}
		page, m := c.list(t, "sort_dir=asc&limit=2&marker="+byName["bulk-00"]+"&sort_key=name")
		if want := "/v2/images?sort_dir=asc&limit=2&sort_key=name"; m["first"] != want || len(page) != 2 || m["next"] != want+"&marker="+page[1] {
			t.Fatalf("first link %v next %v, want %s and that &marker=%v", m["first"], m["next"], want, page)
		}
		// A repeated parameter keeps every value, where it first appeared.
		if _, m = c.list(t, "tag=a&limit=1&tag=b"); m["first"] != "/v2/images?tag=a&tag=b&limit=1" {
			t.Fatalf("first link %v, want /v2/images?tag=a&tag=b&limit=1", m["first"])
		}
		// Killed images are never listed, but can still be shown.
		c.show(t, byName["killed"])
	})

	t.Run("pagination", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			limit int
			pages []int
		}{
			{"limit=7", 7, []int{7, 7, 7, 7, 3}},
			{"limit=7&sort_dir=asc", 7, []int{7, 7, 7, 7, 3}},
			{"limit=31&sort_key=name&sort_dir=asc", 31, []int{31, 0}},
			{"limit=31&sort_key=name&sort_dir=desc", 31, []int{31, 0}},
			{"limit=4&sort=size:asc,name:desc", 4, []int{4, 4, 4, 4, 4, 4, 4, 3}},
			{"limit=3&sort=size:desc,name:desc", 3, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1}},
			{"limit=10&sort_key=status&sort_key=disk_format&sort_dir=asc", 10, []int{10, 10, 10, 1}},
			{"limit=10&sort_key=updated_at", 10, []int{10, 10, 10, 1}},
			{"limit=10&sort_key=id&sort_dir=asc", 10, []int{10, 10, 10, 1}},
			{"limit=1000", 1000, []int{31}},
			{"limit=5000", 1000, []int{31}},
		} {
			got, pages := c.listAll(t, tc.query, tc.limit)
			checkIDs(t, tc.query, got, adminAll)
			if len(got) != len(adminAll) {
				t.Fatalf("%s: %d ids, some listed twice", tc.query, len(got))
			}
			if !slices.Equal(pages, tc.pages) {
				t.Fatalf("%s: page sizes %v, want %v", tc.query, pages, tc.pages)
			}
		}
		// limit 0 answers an empty page.
		if got, _ := c.list(t, "limit=0"); len(got) != 0 {
			t.Fatalf("limit=0 listed %d images", len(got))
		}
		// Pagination as a project sees its own view.
		got, _ := p1.listAll(t, "limit=1", 1)
		checkIDs(t, "p1 limit=1", got, ids("p1-private", "p1-shared", "p1-community", "public"))
	})

	t.Run("sorting", func(t *testing.T) {
		names := c.listNames(t, "owner=pbulk&sort_key=name&sort_dir=asc&limit=100")
		if len(names) != 26 || !slices.IsSorted(names) {
			t.Fatalf("sort_key=name asc: %v", names)
		}
		desc := c.listNames(t, "owner=pbulk&sort_key=name&sort_dir=desc&limit=100")
		slices.Reverse(desc)
		if !slices.Equal(desc, names) {
			t.Fatalf("sort_key=name desc: %v", desc)
		}
		if got := c.listNames(t, "owner=pbulk&sort=name&limit=100"); got[0] != "bulk-25" {
			t.Fatalf("sort=name (default desc) starts with %s", got[0])
		}
		// disk_format asc (qcow2 < raw), then name desc.
		var want []string
		for i := 25; i >= 0; i-- {
			if i%2 == 1 {
				want = append(want, fmt.Sprintf("bulk-%02d", i))
			}
		}
		for i := 25; i >= 0; i-- {
			if i%2 == 0 {
				want = append(want, fmt.Sprintf("bulk-%02d", i))
			}
		}
		for _, q := range []string{
			"sort_key=disk_format&sort_key=name&sort_dir=asc&sort_dir=desc",
			"sort=disk_format:asc,name:desc",
			"sort=disk_format:asc,name",
		} {
			if got := c.listNames(t, "owner=pbulk&limit=100&"+q); !slices.Equal(got, want) {
				t.Fatalf("%s: %v, want %v", q, got, want)
			}
		}
		// One dir applies to every key.
		if got := c.listNames(t, "owner=pbulk&limit=100&sort_key=disk_format&sort_key=name&sort_dir=asc"); got[0] != "bulk-01" || got[13] != "bulk-00" {
			t.Fatalf("two keys, one dir asc: %v", got)
		}
		// size desc: nulls sort as smallest, so the uploaded images come last
		// in asc order and first in desc order.
		got := c.listNames(t, "owner=pbulk&limit=100&sort=size:desc,name:asc")
		if !slices.Equal(got[:3], []string{"bulk-03", "bulk-02", "bulk-01"}) && !slices.Equal(got[23:], []string{"bulk-03", "bulk-02", "bulk-01"}) {
			t.Fatalf("sort=size:desc,name:asc: %v", got)
		}
		got = c.listNames(t, "owner=pbulk&limit=100&sort=name:asc,size:desc")
		if !slices.IsSorted(got) {
			t.Fatalf("sort=name:asc,size:desc: %v", got)
		}
		for _, q := range []string{
			"sort_key=nope", "sort_key=owner", "sort_dir=up", "sort_key=name&sort_dir=sideways",
			"sort=nope:asc", "sort=name:up", "sort=name:asc&sort_key=name", "sort=name&sort_dir=asc",
			"sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc",
		} {
			c.do(t, "GET", "/v2/images?"+q, nil).want(t, http.StatusBadRequest)
		}
	})

	t.Run("filters", func(t *testing.T) {
		// Only the noauth admin's view matters here except where noted.
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"name=bulk-03", ids("bulk-03")},
			{"name=eq:bulk-03", ids("bulk-03")},
			{"name=in:bulk-01,bulk-02", ids("bulk-01", "bulk-02")},
			{`name=in:"bulk-01","bulk-04"`, ids("bulk-01", "bulk-04")},
			{"name=nothing", nil},
			{"id=" + byName["bulk-05"], ids("bulk-05")},
			{"id=in:" + byName["bulk-05"] + "," + byName["public"], ids("bulk-05", "public")},
			{"status=active", ids("bulk-01", "bulk-02", "bulk-03")},
			{"status=in:active,killed", ids("bulk-01", "bulk-02", "bulk-03")},
			{"status=killed", nil},
			{"visibility=public", ids("public")},
			{"visibility=private", ids("p1-private")},
			{"visibility=community", ids("p1-community", "p2-community")},
			{"owner=p1", ids("p1-private", "p1-shared")},
			{"owner=p2&visibility=all", ids("p2-shared", "p2-community")},
			{"tag=three&tag=two", ids("bulk-00", "bulk-06", "bulk-12", "bulk-18", "bulk-24")},
			{"tag=three&tag=bulk&name=in:bulk-00,bulk-01,bulk-03", ids("bulk-00", "bulk-03")},
			{"tag=nope", nil},
			{"disk_format=qcow2&tag=three", ids("bulk-03", "bulk-09", "bulk-15", "bulk-21")},
			{"disk_format=in:qcow2,raw&name=in:bulk-00,bulk-01,p1-shared", ids("bulk-00", "bulk-01")},
			{"container_format=bare&name=in:bulk-00,p1-shared", ids("bulk-00")},
			{"container_format=ovf", nil},
			{"size_min=15", ids("bulk-02", "bulk-03")},
			{"size_max=20", ids("bulk-01", "bulk-02")},
			{"size_min=20&size_max=20", ids("bulk-02")},
			{"size=20", ids("bulk-02")},
			{"size=21", nil},
			{"protected=true", ids("bulk-00")},
			{"protected=false&owner=p1", ids("p1-private", "p1-shared")},
			{"os_hidden=true", ids("p1-hidden")},
			{"os_hidden=TRUE", ids("p1-hidden")},
			{"os_hidden=False&owner=p1", ids("p1-private", "p1-shared")},
			{"os_hidden=false&owner=p1", ids("p1-private", "p1-shared")},
			{"os_distro=ubuntu", ids("bulk-00", "bulk-01", "bulk-02", "bulk-03", "bulk-04")},
			{"os_distro=ubuntu&tag=two", ids("bulk-00", "bulk-02", "bulk-04")},
			{"min_ram=7", ids("bulk-07")},
			{"created_at=gt:2000-01-01T00:00:00Z&owner=pbulk", bulkIDs},
			{"created_at=gte:2000-01-01T00:00:00Z&owner=pbulk", bulkIDs},
			{"created_at=lt:2000-01-01T00:00:00Z", nil},
			{"created_at=lte:2000-01-01T00:00:00Z", nil},
			{"created_at=gt:2999-01-01T00:00:00Z", nil},
			{"created_at=lt:2999-01-01T00:00:00Z&owner=pbulk", bulkIDs},
			{"created_at=neq:2000-01-01T00:00:00Z&owner=pbulk", bulkIDs},
			{"updated_at=gt:2000-01-01T00:00:00Z&owner=pbulk", bulkIDs},
		} {
			got, _ := c.list(t, "limit=1000&"+tc.query)
			checkIDs(t, tc.query, got, tc.want)
		}
		// created_at=eq: with an image's own timestamp finds it.
		img := c.show(t, byName["bulk-07"])
		for _, q := range []string{"created_at=" + img["created_at"].(string), "created_at=eq:" + img["created_at"].(string)} {
			if got, _ := c.list(t, "limit=1000&"+q); !slices.Contains(got, byName["bulk-07"]) {
				t.Fatalf("%s does not list bulk-07", q)
			}
		}
		for _, q := range []string{
			"name=foo:bar", "name=gt:x", `name=in:"a`, `name=in:"a"b`, "status=lt:active",
			"visibility=everyone", "member_status=maybe", "size_min=big", "size_max=1.5", "size=big",
			"protected=maybe", "protected=True", "protected=1", "os_hidden=yes", "os_hidden=1", "created_at=gt:yesterday", "created_at=nope",
			"updated_at=lt:2020-13-45T00:00:00Z", "changes-since=2020-01-01T00:00:00Z",
			"limit=abc", "limit=-1", "limit=1.5", "marker=00000000-0000-0000-0000-000000000000",
			"marker=nope",
		} {
			c.do(t, "GET", "/v2/images?"+q, nil).want(t, http.StatusBadRequest)
		}
		// A marker outside the filtered set still positions the page.
		for _, q := range []string{
			"owner=pbulk&sort_key=name&sort_dir=desc&marker=" + byName["ownerless"],
			"owner=pbulk&marker=" + byName["p2-shared"],
			"owner=pbulk&sort=name:desc,size:asc&marker=" + byName["ownerless"],
			"tag=bulk&marker=" + byName["killed"],
		} {
			got, _ := c.list(t, "limit=1000&"+q)
			checkIDs(t, q, got, bulkIDs)
		}
		// A marker the caller cannot see is unknown to it.
		p2.do(t, "GET", "/v2/images?marker="+byName["p1-shared"], nil).want(t, http.StatusBadRequest)
		p1.do(t, "GET", "/v2/images?marker="+byName["p1-shared"], nil).want(t, http.StatusOK)
		p2.do(t, "GET", "/v2/images?marker="+byName["public"], nil).want(t, http.StatusOK)
	})

	t.Run("visibility", func(t *testing.T) {
		for _, tc := range []struct {
			who   apiClient
			query string
			want  []string
		}{
			{p1, "", ids("p1-private", "p1-shared", "p1-community", "public")},
			{p1, "visibility=community", ids("p1-community", "p2-community")},
			{p1, "visibility=all", ids("p1-private", "p1-shared", "p1-community", "p2-community", "public")},
			{p1, "visibility=shared", ids("p1-shared")},
			{p1, "visibility=private", ids("p1-private")},
			{p1, "visibility=public", ids("public")},
			{p1, "os_hidden=true", ids("p1-hidden")},
			{p1, "owner=p2", nil},
			{p2, "", ids("p2-shared", "p2-community", "public")},
			{c.as("p3"), "", ids("public")},
			{c.as("p3"), "visibility=community", ids("p1-community", "p2-community")},
			{c.as("p3", "reader"), "", ids("public")},
			{padm, "", adminAll},
			{padm, "visibility=community", ids("p1-community", "p2-community")},
			{c, "", adminAll},
			{c, "visibility=all", append(slices.Clone(adminAll), ids("p1-community", "p2-community")...)},
			{c, "visibility=shared", append(slices.Clone(bulkIDs), ids("p1-shared", "p2-shared", "ownerless")...)},
			{c, "member_status=all", adminAll},
		} {
			got, _ := tc.who.list(t, "limit=1000&"+tc.query)
			checkIDs(t, fmt.Sprintf("%v %s", tc.who.hdr, tc.query), got, tc.want)
		}
	})

	t.Run("deleted images are not listed", func(t *testing.T) {
		id := p1.create(t, `{"name": "gone"}`)["id"].(string)
		p1.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
		if got, _ := c.list(t, "limit=1000&visibility=all"); slices.Contains(got, id) {
			t.Fatal("deleted image listed")
		}
		c.do(t, "GET", "/v2/images?marker="+id, nil).want(t, http.StatusBadRequest)
	})

	t.Run("tie-breakers", func(t *testing.T) {
		// Glance appends created_at and id to the sort keys, in the
		// direction of the only sort dir given, else desc.
		tie := c.as("ptie")
		older := tie.create(t, `{"name": "dup"}`)["id"].(string)
		newer := tie.create(t, `{"name": "dup"}`)["id"].(string)
		other := tie.create(t, `{"name": "other"}`)["id"].(string)
		oldFirst, newFirst := []string{older, newer, other}, []string{newer, older, other}
		idAsc, idDesc := oldFirst, newFirst
		if older > newer {
			idAsc, idDesc = newFirst, oldFirst
		}
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"sort_key=name&sort_dir=asc", oldFirst},
			{"sort=name:asc", oldFirst},
			{"sort_key=name&sort_key=size&sort_dir=asc", oldFirst},
			{"sort_key=name&sort_key=size&sort_dir=asc&sort_dir=asc", newFirst},
			{"sort=name:asc,size:asc", newFirst},
			{"sort=name:asc,size:desc", newFirst},
			{"sort=name:asc,size:desc,created_at:asc", oldFirst},
			{"sort=name:asc,size:asc,created_at:desc", newFirst},
			{"sort=name:asc,created_at:asc", oldFirst},
			{"sort_key=name&sort_key=created_at&sort_dir=asc&sort_dir=desc", newFirst},
			{"sort=name:asc,id:asc", idAsc},
			{"sort=name:asc,id:desc", idDesc},
			{"sort_key=name&sort_key=id&sort_dir=asc", idAsc},
			{"sort=%20name%20:%20asc%20,size", newFirst},
			{"sort=name:", []string{other, newer, older}},
		} {
			got, _ := c.list(t, "owner=ptie&"+tc.query)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s: order %v, want %v", tc.query, got, tc.want)
			}
			paged, _ := c.listAll(t, "owner=ptie&limit=1&"+tc.query, 1)
			if !slices.Equal(paged, tc.want) {
				t.Fatalf("%s paged by 1: order %v, want %v", tc.query, paged, tc.want)
			}
		}
	})

	t.Run("values with colons", func(t *testing.T) {
		colon := c.as("pcolon").create(t, `{"name": "a:b"}`)["id"].(string)
		for _, q := range []string{"name=eq:a:b", `name=in:"a:b",x`, "name=in:a:b"} {
			got, _ := c.list(t, "owner=pcolon&"+q)
			checkIDs(t, q, got, []string{colon})
		}
		c.do(t, "GET", "/v2/images?name=a:b", nil).want(t, http.StatusBadRequest)
	})
}

func TestAPIPatch(t *testing.T) {
	c := newAPICluster(t)
	p1, p2 := c.as("p1"), c.as("p2")
	padm := c.as("padm", "admin")
	id := p1.create(t, `{"name": "orig", "os_distro": "ubuntu"}`)["id"].(string)

	// refused sends a PATCH that must fail with status and checks that the
	// image did not change at all.
	refused := func(t *testing.T, who apiClient, ctype, body string, status int, msg string) {
		t.Helper()
		before := c.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusOK).body
		r := who.do(t, "PATCH", "/v2/images/"+id, body, "Content-Type", ctype)
		r.wantErr(t, status, msg)
		after := c.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusOK).body
		if string(before) != string(after) {
			t.Fatalf("refused PATCH %s changed the image:\nbefore %s\nafter  %s", body, before, after)
		}
	}

	t.Run("v2.1 add replace remove", func(t *testing.T) {
		before := p1.show(t, id)
		r := p1.patch(t, id, `[
			{"op": "replace", "path": "/name", "value": "renamed"},
			{"op": "add", "path": "/min_ram", "value": 512},
			{"op": "replace", "path": "/min_disk", "value": 3},
			{"op": "add", "path": "/os_version", "value": "22.04"},
			{"op": "replace", "path": "/os_distro", "value": "debian"},
			{"op": "add", "path": "/disk_format", "value": "qcow2"},
			{"op": "replace", "path": "/container_format", "value": "bare"},
			{"op": "replace", "path": "/protected", "value": true},
			{"op": "replace", "path": "/os_hidden", "value": true},
			{"op": "replace", "path": "/visibility", "value": "private"},
			{"op": "add", "path": "/a~1b~0c", "value": "escaped"}]`).want(t, http.StatusOK)
		img := r.obj(t)
		for k, v := range map[string]any{"name": "renamed", "min_ram": 512.0, "min_disk": 3.0, "os_version": "22.04",
			"os_distro": "debian", "disk_format": "qcow2", "container_format": "bare", "protected": true,
			"os_hidden": true, "visibility": "private", "a/b~c": "escaped", "status": "queued", "owner": "p1",
			"created_at": before["created_at"]} {
			if !jsonEqual(img[k], v) {
				t.Fatalf("after PATCH %s = %v, want %v", k, img[k], v)
			}
		}
		if got := p1.show(t, id); !jsonEqual(got, img) {
			t.Fatalf("GET after PATCH %v differs from the PATCH answer %v", got, img)
		}
		keys := jsonKeys(t, r.body)
		if !sameSet(keys[:3], []string{"a/b~c", "os_distro", "os_version"}) || !slices.Equal(keys[3:], baseImageKeys) {
			t.Fatalf("PATCH answer keys %v", keys)
		}
		img = p1.patch(t, id, `[{"op": "remove", "path": "/os_version"}, {"op": "remove", "path": "/a~1b~0c"},
			{"op": "replace", "path": "/name", "value": null}, {"op": "replace", "path": "/protected", "value": false},
			{"op": "replace", "path": "/os_hidden", "value": false}, {"op": "replace", "path": "/visibility", "value": "shared"}]`).want(t, http.StatusOK).obj(t)
		if _, ok := img["os_version"]; ok {
			t.Fatal("os_version still present after remove")
		}
		if _, ok := img["a/b~c"]; ok {
			t.Fatal("a/b~c still present after remove")
		}
		if img["name"] != nil {
			t.Fatalf("name %v after replace with null", img["name"])
		}
		// An empty patch is a no-op that answers the image.
		p1.patch(t, id, `[]`).want(t, http.StatusOK)
	})

	t.Run("v2.0 media type", func(t *testing.T) {
		img := p1.do(t, "PATCH", "/v2/images/"+id, `[{"replace": "/name", "value": "v20"}, {"add": "/v20prop", "value": "x"}]`,
			"Content-Type", patchV20Type).want(t, http.StatusOK).obj(t)
		if img["name"] != "v20" || img["v20prop"] != "x" {
			t.Fatalf("v2.0 patch: name %v v20prop %v", img["name"], img["v20prop"])
		}
		refused(t, p1, patchV20Type, `[{"add": "/v20prop", "value": "y"}]`, http.StatusConflict, "Property v20prop already present.")
		refused(t, p1, patchV20Type, `[{"add": "/name", "value": "y"}]`, http.StatusConflict, "Property name already present.")
		refused(t, p1, patchV20Type, `[{"add": "/min_ram", "value": 1}]`, http.StatusConflict, "Property min_ram already present.")
		refused(t, p1, patchV20Type, `[{"op": "replace", "path": "/name", "value": "y"}]`, http.StatusBadRequest, "")
		refused(t, p1, patchV20Type, `[{"add": "/a", "replace": "/b", "value": "y"}]`, http.StatusBadRequest, "")
		img = p1.do(t, "PATCH", "/v2/images/"+id, `[{"remove": "/v20prop"}]`, "Content-Type", patchV20Type).want(t, http.StatusOK).obj(t)
		if _, ok := img["v20prop"]; ok {
			t.Fatal("v20prop still present after v2.0 remove")
		}
		// v2.1 add of an existing custom property overwrites it.
		img = p1.patch(t, id, `[{"op": "add", "path": "/os_distro", "value": "arch"}]`).want(t, http.StatusOK).obj(t)
		if img["os_distro"] != "arch" {
			t.Fatalf("os_distro %v after v2.1 add", img["os_distro"])
		}
	})

	t.Run("content type", func(t *testing.T) {
		p1.do(t, "PATCH", "/v2/images/"+id, `[{"op": "replace", "path": "/name", "value": "with charset"}]`,
			"Content-Type", patchV21Type+"; charset=UTF-8").want(t, http.StatusOK)
		for _, ct := range []string{"application/json", "", "application/json-patch+json", "text/plain"} {
			r := p1.do(t, "PATCH", "/v2/images/"+id, `[{"op": "replace", "path": "/name", "value": "x"}]`, "Content-Type", ct)
			r.want(t, http.StatusUnsupportedMediaType)
			if got := r.header.Get("Accept-Patch"); got != patchV20Type+", "+patchV21Type {
				t.Fatalf("Content-Type %q: Accept-Patch %q", ct, got)
			}
		}
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		for _, tc := range []struct {
			body   string
			status int
			msg    string
		}{
			{`[{"op": "replace", "path": "/missing", "value": "x"}]`, http.StatusConflict, "Property missing does not exist."},
			{`[{"op": "remove", "path": "/missing"}]`, http.StatusConflict, "Property missing does not exist."},
			{`[{"op": "remove", "path": "/name"}]`, http.StatusForbidden, "Property name may not be removed."},
			{`[{"op": "remove", "path": "/min_ram"}]`, http.StatusForbidden, "Property min_ram may not be removed."},
			{`[{"op": "remove", "path": "/tags"}]`, http.StatusForbidden, "may not be removed"},
			{`[{"op": "replace", "path": "/status", "value": "active"}]`, http.StatusForbidden, "Attribute 'status' is read-only."},
			{`[{"op": "remove", "path": "/status"}]`, http.StatusForbidden, "Attribute 'status' is read-only."},
			{`[{"op": "replace", "path": "/id", "value": "x"}]`, http.StatusForbidden, "Attribute 'id' is read-only."},
			{`[{"op": "replace", "path": "/size", "value": 5}]`, http.StatusForbidden, "Attribute 'size' is read-only."},
			{`[{"op": "replace", "path": "/checksum", "value": "x"}]`, http.StatusForbidden, "Attribute 'checksum' is read-only."},
			{`[{"op": "replace", "path": "/created_at", "value": "x"}]`, http.StatusForbidden, "Attribute 'created_at' is read-only."},
			{`[{"op": "replace", "path": "/updated_at", "value": "x"}]`, http.StatusForbidden, "Attribute 'updated_at' is read-only."},
			{`[{"op": "replace", "path": "/self", "value": "x"}]`, http.StatusForbidden, "Attribute 'self' is read-only."},
			{`[{"op": "replace", "path": "/os_hash_value", "value": "x"}]`, http.StatusForbidden, "Attribute 'os_hash_value' is read-only."},
			{`[{"op": "add", "path": "/os_glance_x", "value": "x"}]`, http.StatusForbidden, "Attribute 'os_glance_x' is reserved."},
			{`[{"op": "add", "path": "/deleted", "value": "x"}]`, http.StatusForbidden, "Attribute 'deleted' is reserved."},
			{`[{"op": "add", "path": "/location", "value": "x"}]`, http.StatusForbidden, "Attribute 'location' is reserved."},
			{`[{"op": "replace", "path": "/locations", "value": []}]`, http.StatusForbidden, ""},
			{`[{"op": "replace", "path": "name", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/name/", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/a//b", "value": "x"}]`, http.StatusBadRequest, ""}, // Glance takes "//name" as "/name"
			{`[{"op": "add", "path": "/a~2b", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "add", "path": "/tags/-", "value": "x"}]`, http.StatusBadRequest, "Invalid JSON pointer for this resource: '/tags/-'"},
			{`[{"op": "add", "path": "/a/b", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": 5, "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "test", "path": "/name", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "move", "from": "/name", "path": "/x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "copy", "from": "/name", "path": "/x"}]`, http.StatusBadRequest, ""},
			{`[{"path": "/name", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "value": "x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/name"}]`, http.StatusBadRequest, ""},
			{`[{"op": "add", "path": "/x"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/min_ram", "value": -1}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/min_disk", "value": "1"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/visibility", "value": "nobody"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/disk_format", "value": "floppy"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/protected", "value": "true"}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/protected", "value": null}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/os_hidden", "value": null}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/min_disk", "value": null}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/name", "value": "` + strings.Repeat("n", 256) + `"}]`, http.StatusBadRequest, ""},
			{`[{"op": "add", "path": "/` + strings.Repeat("k", 256) + `", "value": "v"}]`, http.StatusBadRequest, ""},
			{`[{"op": "add", "path": "/custom", "value": 1}]`, http.StatusBadRequest, ""},
			{`[{"op": "add", "path": "/custom", "value": null}]`, http.StatusBadRequest, ""},
			{`[{"op": "replace", "path": "/tags", "value": "a"}]`, http.StatusBadRequest, ""},
			{`{"op": "replace", "path": "/name", "value": "x"}`, http.StatusBadRequest, ""},
			{`["replace"]`, http.StatusBadRequest, ""},
			{`[{"op": "replace"`, http.StatusBadRequest, ""},
			{`"x"`, http.StatusBadRequest, ""},
			{``, http.StatusBadRequest, ""},
			// A valid change followed by a refused one saves neither.
			{`[{"op": "replace", "path": "/name", "value": "half"}, {"op": "replace", "path": "/missing", "value": "x"}]`, http.StatusConflict, "Property missing does not exist."},
			{`[{"op": "add", "path": "/new", "value": "half"}, {"op": "replace", "path": "/status", "value": "active"}]`, http.StatusForbidden, "read-only"},
			{`[{"op": "replace", "path": "/owner", "value": "p2"}]`, http.StatusForbidden, ""},
			{`[{"op": "replace", "path": "/owner", "value": "p1"}]`, http.StatusForbidden, ""},
			{`[{"op": "replace", "path": "/visibility", "value": "public"}]`, http.StatusForbidden, ""},
		} {
			refused(t, p1, patchV21Type, tc.body, tc.status, tc.msg)
		}
		// Another project: invisible (404), or visible but not its own (403).
		refused(t, p2, patchV21Type, `[{"op": "replace", "path": "/name", "value": "x"}]`, http.StatusNotFound, "No image found with ID "+id)
		refused(t, c.as("p1", "reader"), patchV21Type, `[{"op": "replace", "path": "/name", "value": "x"}]`, http.StatusForbidden, "")
		c.do(t, "PATCH", "/v2/images/00000000-0000-0000-0000-000000000000", `[]`, "Content-Type", patchV21Type).
			want(t, http.StatusNotFound)
	})

	t.Run("tags", func(t *testing.T) {
		img := p1.patch(t, id, `[{"op": "replace", "path": "/tags", "value": ["b", "a", "b"]}]`).want(t, http.StatusOK).obj(t)
		if tags := toStrings(img["tags"]); !sameSet(tags, []string{"a", "b"}) {
			t.Fatalf("tags %v, want the set a, b", tags)
		}
		img = p1.patch(t, id, `[{"op": "add", "path": "/tags", "value": ["c"]}]`).want(t, http.StatusOK).obj(t)
		if tags := toStrings(img["tags"]); !sameSet(tags, []string{"c"}) {
			t.Fatalf("tags %v after add /tags, want [c]", tags)
		}
		img = p1.patch(t, id, `[{"op": "replace", "path": "/tags", "value": []}]`).want(t, http.StatusOK).obj(t)
		if tags := img["tags"].([]any); len(tags) != 0 {
			t.Fatalf("tags %v, want []", tags)
		}
	})

	t.Run("owner and visibility", func(t *testing.T) {
		own := p1.create(t, `{"name": "own"}`)["id"].(string)
		img := p1.patch(t, own, `[{"op": "replace", "path": "/visibility", "value": "community"}]`).want(t, http.StatusOK).obj(t)
		if img["visibility"] != "community" {
			t.Fatalf("visibility %v", img["visibility"])
		}
		img = padm.patch(t, own, `[{"op": "replace", "path": "/visibility", "value": "public"}, {"op": "replace", "path": "/owner", "value": "p9"}]`).
			want(t, http.StatusOK).obj(t)
		if img["visibility"] != "public" || img["owner"] != "p9" {
			t.Fatalf("admin PATCH: visibility %v owner %v", img["visibility"], img["owner"])
		}
		// Now someone else's public image: visible to p1, but not its own.
		p1.patch(t, own, `[{"op": "replace", "path": "/name", "value": "x"}]`).want(t, http.StatusForbidden)
		c.as("p9").patch(t, own, `[{"op": "replace", "path": "/name", "value": "p9's"}]`).want(t, http.StatusOK)
		ownerless := c.create(t, `{"name": "ownerless", "visibility": "public"}`)["id"].(string)
		p2.patch(t, ownerless, `[{"op": "replace", "path": "/name", "value": "x"}]`).want(t, http.StatusForbidden)
		if got := p2.show(t, ownerless); got["name"] != "ownerless" {
			t.Fatalf("name %v after a refused PATCH", got["name"])
		}
	})

	t.Run("formats of an active image", func(t *testing.T) {
		act := p1.create(t, `{"name": "active", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		p1.upload(t, act, "some data").want(t, http.StatusNoContent)
		before := p1.show(t, act)
		for _, body := range []string{
			`[{"op": "replace", "path": "/disk_format", "value": "qcow2"}]`,
			`[{"op": "replace", "path": "/container_format", "value": "ovf"}]`,
			`[{"op": "replace", "path": "/disk_format", "value": "raw"}]`,
		} {
			p1.patch(t, act, body).want(t, http.StatusForbidden)
		}
		if after := p1.show(t, act); !jsonEqual(after, before) {
			t.Fatalf("refused format PATCH changed the image: %v", after)
		}
		img := p1.patch(t, act, `[{"op": "replace", "path": "/name", "value": "still editable"}]`).want(t, http.StatusOK).obj(t)
		if img["status"] != "active" || img["size"] != 9.0 {
			t.Fatalf("PATCH of an active image: status %v size %v", img["status"], img["size"])
		}
	})
}

func TestAPIImageData(t *testing.T) {
	c := newAPICluster(t)
	p1, p2 := c.as("p1"), c.as("p2")
	data := randomBytes(7, 100_000)
	md5sum, sha := md5.Sum(data), sha512.Sum512(data)
	wantMD5, wantSHA := hex.EncodeToString(md5sum[:]), hex.EncodeToString(sha[:])
	size := len(data)

	id := p1.create(t, `{"name": "data", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)

	t.Run("upload refusals", func(t *testing.T) {
		for _, ct := range []string{"", "application/json", "text/plain"} {
			p1.do(t, "PUT", "/v2/images/"+id+"/file", data, "Content-Type", ct).want(t, http.StatusUnsupportedMediaType)
		}
		noFormats := p1.create(t, `{"name": "no formats"}`)["id"].(string)
		p1.upload(t, noFormats, data).wantErr(t, http.StatusBadRequest, "Properties disk_format, container_format must be set prior to saving data.")
		oneFormat := p1.create(t, `{"name": "one format", "disk_format": "raw"}`)["id"].(string)
		p1.upload(t, oneFormat, data).wantErr(t, http.StatusBadRequest, "Property container_format must be set prior to saving data.")
		p1.upload(t, id, data, "X-Openstack-Image-Size", "lots").want(t, http.StatusBadRequest)
		p2.upload(t, id, data).want(t, http.StatusNotFound)
		c.as("p1", "reader").upload(t, id, data).want(t, http.StatusForbidden)
		c.upload(t, "00000000-0000-0000-0000-000000000000", data).want(t, http.StatusNotFound)
		for _, img := range []map[string]any{p1.show(t, id), p1.show(t, noFormats), p1.show(t, oneFormat)} {
			if img["status"] != "queued" || img["size"] != nil {
				t.Fatalf("image %v after refused uploads: status %v size %v", img["name"], img["status"], img["size"])
			}
		}
	})

	t.Run("download before upload", func(t *testing.T) {
		r := p1.do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Fatalf("204 download has a body of %d bytes", len(r.body))
		}
		// RFC 9110 forbids Content-Length on a 204; Glance sends none.
		if v, ok := r.header["Content-Length"]; ok {
			t.Fatalf("204 download carries Content-Length %v", v)
		}
	})

	t.Run("size mismatch", func(t *testing.T) {
		p1.upload(t, id, data, "X-Openstack-Image-Size", strconv.Itoa(size-1)).want(t, http.StatusBadRequest)
		img := p1.show(t, id)
		if img["status"] != "queued" || img["size"] != nil || img["checksum"] != nil {
			t.Fatalf("after size mismatch: status %v size %v checksum %v", img["status"], img["size"], img["checksum"])
		}
	})

	t.Run("upload", func(t *testing.T) {
		r := p1.upload(t, id, data, "X-Openstack-Image-Size", strconv.Itoa(size)).want(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Fatalf("upload answer has a body: %q", r.body)
		}
		img := p1.show(t, id)
		for k, v := range map[string]any{"status": "active", "size": float64(size), "checksum": wantMD5,
			"os_hash_algo": "sha512", "os_hash_value": wantSHA} {
			if !jsonEqual(img[k], v) {
				t.Fatalf("after upload %s = %v, want %v", k, img[k], v)
			}
		}
		p1.upload(t, id, data).want(t, http.StatusConflict)
		c.upload(t, id, data).want(t, http.StatusConflict)
		if again := p1.show(t, id); !jsonEqual(again, img) {
			t.Fatalf("refused re-upload changed the image: %v", again)
		}
		// A chunked upload without any size.
		chunked := p1.create(t, `{"name": "chunked", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		p1.upload(t, chunked, io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:]))).want(t, http.StatusNoContent)
		if img := p1.show(t, chunked); img["checksum"] != wantMD5 || img["size"] != float64(size) {
			t.Fatalf("chunked upload: checksum %v size %v", img["checksum"], img["size"])
		}
		// Empty data makes an active image of size 0.
		empty := p1.create(t, `{"name": "empty", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		p1.upload(t, empty, []byte{}).want(t, http.StatusNoContent)
		if img := p1.show(t, empty); img["status"] != "active" || img["size"] != 0.0 || img["checksum"] != "d41d8cd98f00b204e9800998ecf8427e" {
			t.Fatalf("empty upload: status %v size %v checksum %v", img["status"], img["size"], img["checksum"])
		}
		r = p1.do(t, "GET", "/v2/images/"+empty+"/file", nil).want(t, http.StatusOK)
		if len(r.body) != 0 || r.header.Get("Content-Length") != "0" || r.header.Get("Content-MD5") != "d41d8cd98f00b204e9800998ecf8427e" {
			t.Fatalf("empty download: %d bytes, Content-Length %q, Content-MD5 %q", len(r.body), r.header.Get("Content-Length"), r.header.Get("Content-MD5"))
		}
	})

	t.Run("download", func(t *testing.T) {
		r := p1.do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusOK)
		if !bytes.Equal(r.body, data) {
			t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(r.body), size)
		}
		for k, v := range map[string]string{"Content-Type": octetStream, "Content-Length": strconv.Itoa(size), "Content-MD5": wantMD5} {
			if got := r.header.Get(k); got != v {
				t.Fatalf("download %s %q, want %q", k, got, v)
			}
		}
		if !reqIDPattern.MatchString(r.header.Get("X-Openstack-Request-Id")) {
			t.Fatalf("download request id %q", r.header.Get("X-Openstack-Request-Id"))
		}
		// Through a version prefix, by the admin and by another project
		// once the image is public.
		c.do(t, "GET", "/v2.9/images/"+id+"/file", nil).want(t, http.StatusOK)
		p2.do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusNotFound)
		c.as("p1", "reader").do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusForbidden)
		c.do(t, "GET", "/v2/images/"+id+"/file", "x", "Content-Type", "application/json").want(t, http.StatusBadRequest)

		// Another project may download a public or community image, but not
		// upload to it.
		padm := c.as("padm", "admin")
		for _, vis := range []string{"public", "community"} {
			other := padm.create(t, `{"name": "`+vis+`", "visibility": "`+vis+`", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
			p2.upload(t, other, data).want(t, http.StatusForbidden)
			padm.upload(t, other, data[:10]).want(t, http.StatusNoContent)
			if r := p2.do(t, "GET", "/v2/images/"+other+"/file", nil).want(t, http.StatusOK); !bytes.Equal(r.body, data[:10]) {
				t.Fatalf("p2 download of %s image: %q", vis, r.body)
			}
			c.as("p2", "reader").do(t, "GET", "/v2/images/"+other+"/file", nil).want(t, http.StatusForbidden)
		}
	})

	t.Run("ranges", func(t *testing.T) {
		for _, tc := range []struct {
			hdr, value string
			from, to   int // inclusive
		}{
			{"Range", "bytes=10-19", 10, 19},
			{"Range", "bytes=0-0", 0, 0},
			{"Range", "bytes=-5", size - 5, size - 1},
			{"Range", fmt.Sprintf("bytes=-%d", size+10), 0, size - 1},
			{"Range", "bytes=99990-", 99990, size - 1},
			{"Range", fmt.Sprintf("bytes=%d-%d", size-3, size+1000), size - 3, size - 1},
			{"Range", fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size - 1},
			{"Content-Range", "bytes 100-199/*", 100, 199},
		} {
			r := p1.do(t, "GET", "/v2/images/"+id+"/file", nil, tc.hdr, tc.value).want(t, http.StatusPartialContent)
			if !bytes.Equal(r.body, data[tc.from:tc.to+1]) {
				t.Fatalf("%s %s: got %d bytes, not data[%d:%d]", tc.hdr, tc.value, len(r.body), tc.from, tc.to+1)
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to, size)
			if got := r.header.Get("Content-Range"); got != wantCR {
				t.Fatalf("%s %s: Content-Range %q, want %q", tc.hdr, tc.value, got, wantCR)
			}
			if got := r.header.Get("Content-Length"); got != strconv.Itoa(tc.to-tc.from+1) {
				t.Fatalf("%s %s: Content-Length %q", tc.hdr, tc.value, got)
			}
			if got := r.header.Get("Content-MD5"); got != wantMD5 {
				t.Fatalf("%s %s: Content-MD5 %q, want the whole image's %s", tc.hdr, tc.value, got, wantMD5)
			}
		}
		p1.do(t, "GET", "/v2/images/"+id+"/file", nil, "Range", "bytes=0-1,5-6").want(t, http.StatusBadRequest)
		for _, v := range []string{
			fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+5, size+10), "bytes=abc", "bytes=5-2", "items=0-5",
		} {
			p1.do(t, "GET", "/v2/images/"+id+"/file", nil, "Range", v).want(t, http.StatusRequestedRangeNotSatisfiable)
		}
	})

	t.Run("delete removes data", func(t *testing.T) {
		p1.do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
		p1.do(t, "GET", "/v2/images/"+id+"/file", nil).want(t, http.StatusNotFound)
		p1.upload(t, id, data).want(t, http.StatusNotFound)
	})
}
