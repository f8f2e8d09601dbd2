package testcluster_test

// The bad-input sweep: every route of the API gets malformed JSON, JSON
// of the wrong type, wrong media types, bodies where none is allowed,
// over-long strings, non-UTF-8 bytes, bad UUIDs, bad sort and filter
// syntax, bad JSON-patch documents and oversize bodies, headers and URLs.
// Each answer must be Glance's status with a JSON error message (the
// request asks for application/json), and the catalog, as the API shows
// it, must not change. Expected statuses and messages come from Glance's
// source (glance/common/wsgi.py, glance/api/v2/*.py); where we are
// stricter than Glance the case says so.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// ctJSON is the Content-Type of JSON request bodies.
var ctJSON = []string{"Content-Type", "application/json"}

// allowed lists every route with Glance's Allow header. {q} is the
// queued image, {act} the active one, {ns} the metadefs namespace.
var allowed = []struct{ path, allow string }{
	{"/v2/images", "GET, POST"},
	{"/v2/images/{q}", "GET, PATCH, DELETE"},
	{"/v2/images/{q}/file", "GET, PUT"},
	{"/v2/images/{q}/stage", "PUT"},
	{"/v2/images/{q}/import", "POST"},
	{"/v2/images/{q}/tasks", "GET"},
	{"/v2/images/{q}/tags/t1", "PUT, DELETE"},
	{"/v2/images/{act}/actions/deactivate", "POST"},
	{"/v2/images/{act}/actions/reactivate", "POST"},
	{"/v2/images/{q}/members", "GET, POST"},
	{"/v2/images/{q}/members/p2", "GET, PUT, DELETE"},
	{"/v2/schemas/image", "GET"},
	{"/v2/schemas/images", "GET"},
	{"/v2/schemas/member", "GET"},
	{"/v2/schemas/members", "GET"},
	{"/v2/schemas/task", "GET"},
	{"/v2/schemas/tasks", "GET"},
	{"/v2/schemas/metadefs/namespace", "GET"},
	{"/v2/schemas/metadefs/tags", "GET"},
	{"/v2/tasks", "GET, POST"},
	{"/v2/tasks/" + zeroUUID, "GET, DELETE"},
	{"/v2/info/import", "GET"},
	{"/v2/info/stores", "GET"},
	{"/v2/info/stores/detail", "GET"},
	{"/v2/info/usage", "GET"},
	{"/v2/metadefs/resource_types", "GET"},
	{"/v2/metadefs/namespaces", "GET, POST"},
	{"{ns}", "GET, PUT, DELETE"},
	{"{ns}/resource_types", "GET, POST"},
	{"{ns}/resource_types/OS::Glance::Image", "DELETE"},
	{"{ns}/properties", "GET, POST, DELETE"},
	{"{ns}/properties/prop", "GET, PUT, DELETE"},
	{"{ns}/objects", "GET, POST, DELETE"},
	{"{ns}/objects/obj", "GET, PUT, DELETE"},
	{"{ns}/tags", "GET, POST, DELETE"},
	{"{ns}/tags/tag", "GET, POST, PUT, DELETE"},
}

// optionalRoutes exist only once the cache, locations and stores APIs are
// in; the sweep covers those the router knows.
var optionalRoutes = []struct{ path, allow string }{
	{"/v2/cache", "GET, DELETE"},
	{"/v2/cache/{act}", "DELETE, PUT"},
	{"/v2/cache/clean", "POST"},
	{"/v2/cache/prune", "POST"},
	{"/v2/cache/nodes/{act}", "GET"},
	{"/v2/stores/default/{act}", "DELETE"},
	// Glance's catch-all says "POST" although GET is served too.
	{"/v2/images/{q}/locations", "GET, POST"},
}

// path fills the placeholders of a route.
func (f *badFixture) path(p string) string {
	return strings.NewReplacer("{q}", f.q, "{act}", f.act, "{ns}", f.ns).Replace(p)
}

// routeKnown reports whether the router has a route for path (Glance's
// catch-all answers 405 to an unknown method on a known path).
func (f *badFixture) routeKnown(t *testing.T, path string) bool {
	return f.adm.do(t, "PROPFIND", path, nil).status == http.StatusMethodNotAllowed
}

func TestBadInputSweep(t *testing.T) {
	f := newBadFixture(t, 1)
	p := f.path

	t.Run("methods", func(t *testing.T) {
		routes := slices.Clone(allowed)
		for _, rt := range optionalRoutes {
			if f.routeKnown(t, p(rt.path)) {
				routes = append(routes, rt)
			}
		}
		var cases []badCase
		for _, rt := range routes {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "PROPFIND"} {
				if slices.Contains(strings.Split(rt.allow, ", "), m) {
					continue
				}
				msg := "The method " + m + " is not allowed for this resource."
				if m == "HEAD" {
					msg = ""
				}
				cases = append(cases, badCase{name: "405", method: m, path: p(rt.path), status: 405, msg: msg, want: []string{"Allow", rt.allow}})
			}
		}
		cases = append(cases,
			badCase{name: "task delete", method: "DELETE", path: "/v2/tasks/" + zeroUUID, status: 405, msg: "This operation is currently not permitted on Glance Tasks.", want: []string{"Allow", "GET"}},
			badCase{name: "unknown method, unknown path", method: "PROPFIND", path: "/v2/nothing", status: 501, msg: "The request method PROPFIND is not implemented for this server."},
			badCase{name: "unknown method, unknown image path", method: "FROB", path: p("/v2/images/{q}/nothing"), status: 501, msg: "FROB"},
			badCase{name: "unknown path", method: "GET", path: "/v2/nothing", status: 404, msg: "The resource could not be found."},
			badCase{name: "unknown sub-resource", method: "POST", path: p("/v2/images/{q}/actions/explode"), status: 404},
		)
		t.Logf("%d routes, %d requests", len(routes), len(cases))
		f.run(t, 0, cases)
	})

	t.Run("bodies where none is allowed", func(t *testing.T) {
		// Glance's body_reject routes (glance/api/v2/router.py), plus the
		// ones where Glance would parse the body and fail (400 or 500):
		// we refuse a body on every GET and DELETE but the lists.
		var cases []badCase
		for _, mp := range [][2]string{
			{"GET", "/v2/images/{q}"}, {"DELETE", "/v2/images/{q}"}, {"GET", "/v2/images/{q}/tasks"},
			{"GET", "/v2/images/{act}/file"}, {"PUT", "/v2/images/{q}/tags/new"}, {"DELETE", "/v2/images/{q}/tags/t1"},
			{"POST", "/v2/images/{act}/actions/deactivate"}, {"POST", "/v2/images/{act}/actions/reactivate"},
			{"GET", "/v2/images/{q}/members"}, {"GET", "/v2/images/{q}/members/p2"}, {"DELETE", "/v2/images/{q}/members/p2"},
			{"GET", "/v2/schemas/image"}, {"GET", "/v2/schemas/members"}, {"GET", "/v2/schemas/metadefs/namespace"},
			{"GET", "/v2/info/import"}, {"GET", "/v2/info/stores"}, {"GET", "/v2/info/stores/detail"},
			{"GET", "/v2/metadefs/resource_types"}, {"GET", "{ns}"}, {"DELETE", "{ns}"},
			{"GET", "{ns}/resource_types"}, {"DELETE", "{ns}/resource_types/OS::Glance::Image"},
			{"GET", "{ns}/properties"}, {"GET", "{ns}/objects/obj"}, {"DELETE", "{ns}/objects/obj"},
			{"GET", "{ns}/tags/tag"}, {"POST", "{ns}/tags/new"}, {"DELETE", "{ns}/tags/tag"},
			// Stricter than Glance (which would answer 500 to a JSON body).
			{"GET", "/v2/schemas/task"}, {"GET", "/v2/tasks/" + zeroUUID}, {"GET", "/v2/info/usage"},
			{"GET", "{ns}/properties/prop"}, {"DELETE", "{ns}/properties/prop"},
			{"DELETE", "{ns}/properties"}, {"DELETE", "{ns}/objects"}, {"DELETE", "{ns}/tags"},
		} {
			cases = append(cases, badCase{name: "body", method: mp[0], path: p(mp[1]), body: `{}`, hdr: ctJSON, status: 400, msg: msgBodyNotAllowed})
		}
		// A chunked body counts on POST and PUT (Glance's has_body).
		cases = append(cases,
			badCase{name: "chunked body", method: "POST", path: p("/v2/images/{act}/actions/deactivate"), body: strings.NewReader("{}"), status: 400, msg: msgBodyNotAllowed},
			badCase{name: "chunked body", method: "PUT", path: p("/v2/images/{q}/tags/new"), body: strings.NewReader("x"), status: 400, msg: msgBodyNotAllowed},
			badCase{name: "malformed body", method: "DELETE", path: p("/v2/images/{q}"), body: `{`, status: 400, msg: msgBodyNotAllowed},
		)
		f.run(t, 0, cases)

		// Glance ignores a body on the lists, and a chunked one on GET.
		for _, path := range []string{"/v2/images", "/v2/tasks", "/v2/metadefs/namespaces", p("{ns}/objects"), p("{ns}/tags")} {
			f.adm.do(t, "GET", path, `{"ignored": true}`, ctJSON...).want(t, http.StatusOK)
		}
		f.adm.do(t, "GET", p("/v2/images/{q}"), strings.NewReader("ignored"), ctJSON...).want(t, http.StatusOK)
	})

	t.Run("JSON bodies", func(t *testing.T) {
		patchCT := []string{"Content-Type", patchV21Type}
		routes := []struct {
			method, path string
			hdr          []string
		}{
			{"POST", "/v2/images", ctJSON},
			{"PATCH", p("/v2/images/{q}"), patchCT},
			{"POST", p("/v2/images/{q}/members"), ctJSON},
			{"PUT", p("/v2/images/{q}/members/p2"), ctJSON},
			{"POST", p("/v2/images/{q}/import"), ctJSON},
			{"POST", "/v2/tasks", ctJSON},
			{"POST", "/v2/metadefs/namespaces", ctJSON},
			{"PUT", p("{ns}"), ctJSON},
			{"POST", p("{ns}/resource_types"), ctJSON},
			{"POST", p("{ns}/properties"), ctJSON},
			{"PUT", p("{ns}/properties/prop"), ctJSON},
			{"POST", p("{ns}/objects"), ctJSON},
			{"PUT", p("{ns}/objects/obj"), ctJSON},
			{"POST", p("{ns}/tags"), ctJSON},
			{"PUT", p("{ns}/tags/tag"), ctJSON},
		}
		huge := jsonBody(1 << 20)
		var cases []badCase
		for _, rt := range routes {
			add := func(name string, body any, status int, msg string, hdr ...string) {
				if hdr == nil {
					hdr = rt.hdr
				}
				cases = append(cases, badCase{name: name, method: rt.method, path: rt.path, body: body, hdr: hdr, status: status, msg: msg})
			}
			add("malformed", `{"name": `, 400, msgMalformed)
			add("malformed", `{"name": "x",}`, 400, msgMalformed)
			add("malformed", `[{"op": "add"]`, 400, msgMalformed)
			add("trailing data", `{} {}`, 400, msgMalformed)
			add("non-UTF-8 byte", []byte("{\"name\": \"\xff\"}"), 400, msgMalformed)
			add("scalar", `"x"`, 400, msgScalar)
			add("scalar", `42`, 400, msgScalar)
			add("scalar", `null`, 400, msgScalar)
			add("scalar", `true`, 400, msgScalar)
			add("no body", nil, 400, msgNoBody)
			add("empty body", ``, 400, msgNoBody)
			add("over 1 MiB", huge, 413, "")
			add("over 1 MiB, chunked", strings.NewReader(huge), 413, "")
			if rt.method != "PATCH" {
				// Glance reads JSON whatever the Content-Type says.
				add("malformed, text/plain", `{"name": `, 400, msgMalformed, "Content-Type", "text/plain")
				add("malformed, no Content-Type", `{"name": `, 400, msgMalformed, "Content-Type", "")
			}
		}
		f.run(t, 0, cases)
	})

	t.Run("image create", func(t *testing.T) {
		long := strings.Repeat("n", 256)
		var cases []badCase
		for _, tc := range []struct {
			body   string
			status int
			msg    string
		}{
			{`[]`, 400, "is not of type 'object'"},
			{`[{"name": "x"}]`, 400, "is not of type 'object'"},
			{`{"id": "not-a-uuid"}`, 400, "does not match"},
			{`{"id": "` + zeroUUID + `x"}`, 400, "does not match"},
			{`{"id": 5}`, 400, "is not of type 'string'"},
			{`{"id": "` + f.q + `"}`, 409, "already exists"},
			{`{"name": "` + long + `"}`, 400, "is too long"},
			{`{"name": 5}`, 400, "is not of type 'string'"},
			{`{"` + long + `": "v"}`, 400, "Custom property should not be greater than 255 characters."},
			{`{"os_distro": "` + strings.Repeat("v", 65536) + `"}`, 400, "longer than 65535 bytes"},
			{`{"os_distro": 1}`, 400, "is not of type 'string'"},
			{`{"kernel_id": "not-a-uuid"}`, 400, "does not match"},
			{`{"cinder_encryption_key_deletion_policy": "sometimes"}`, 400, "is not one of"},
			{`{"tags": ["` + long + `"]}`, 400, "is too long"},
			{`{"tags": "t"}`, 400, ""},
			{`{"visibility": "everyone"}`, 400, "is not one of"},
			{`{"disk_format": "floppy"}`, 400, "is not one of"},
			{`{"min_ram": -1}`, 400, "less than the minimum"},
			{`{"min_disk": 1e40}`, 400, ""},
			{`{"protected": "yes"}`, 400, "is not of type 'boolean'"},
			{`{"status": "active"}`, 403, "Attribute 'status' is read-only."},
			{`{"self": "x"}`, 403, "Attribute 'self' is read-only."},
			{`{"os_glance_import_task": "x"}`, 403, "Attribute 'os_glance_import_task' is reserved."},
			{`{"locations": []}`, 403, "is reserved"},
			{manyProps(129), 413, ""},
			{manyTags(129), 413, ""},
		} {
			cases = append(cases, badCase{name: "create", method: "POST", path: "/v2/images", body: tc.body, hdr: ctJSON, status: tc.status, msg: tc.msg})
		}
		f.run(t, 0, cases)
	})

	t.Run("image patch", func(t *testing.T) {
		const ops = "It must be one of the following: add, remove, replace."
		v21 := func(name, body string, status int, msg string) badCase {
			return badCase{name: name, method: "PATCH", path: p("/v2/images/{q}"), body: body, hdr: []string{"Content-Type", patchV21Type}, status: status, msg: msg}
		}
		v20 := func(name, body string, status int, msg string) badCase {
			c := v21(name, body, status, msg)
			c.hdr = []string{"Content-Type", patchV20Type}
			return c
		}
		acceptPatch := []string{"Accept-Patch", patchV20Type + ", " + patchV21Type}
		cases := []badCase{
			v21("object body", `{"op": "replace", "path": "/name", "value": "x"}`, 400, "Request body must be a JSON array of operation objects."),
			v21("scalar op", `["replace"]`, 400, "Operations must be JSON objects."),
			v21("null op", `[null]`, 400, "Operations must be JSON objects."),
			v21("no op", `[{"path": "/name", "value": "x"}]`, 400, "Unable to find `op` in JSON Schema change. "+ops),
			v21("null op", `[{"op": null, "path": "/name", "value": "x"}]`, 400, "Unable to find `op` in JSON Schema change."),
			v21("move", `[{"op": "move", "from": "/name", "path": "/x"}]`, 400, "Invalid operation: `move`. "+ops),
			v21("test", `[{"op": "test", "path": "/name", "value": "x"}]`, 400, "Invalid operation: `test`."),
			v21("op type", `[{"op": 5, "path": "/name", "value": "x"}]`, 400, "Invalid operation: `5`."),
			v21("no path", `[{"op": "replace", "value": "x"}]`, 400, "Unable to find 'path' in JSON Schema change"),
			v21("relative path", `[{"op": "replace", "path": "name", "value": "x"}]`, 400, "Pointer `name` does not start with \"/\"."),
			v21("adjacent slashes", `[{"op": "add", "path": "/a//b", "value": "x"}]`, 400, "Pointer `/a//b` contains adjacent \"/\"."),
			v21("adjacent slashes", `[{"op": "add", "path": "/a/ /b", "value": "x"}]`, 400, "contains adjacent \"/\"."),
			v21("trailing slash", `[{"op": "replace", "path": "/name/", "value": "x"}]`, 400, "Pointer `/name/` end with \"/\"."),
			v21("bad escape", `[{"op": "add", "path": "/a~2b", "value": "x"}]`, 400, "Pointer `/a~2b` contains \"~\" not part of a recognized escape sequence."),
			v21("trailing tilde", `[{"op": "add", "path": "/a~", "value": "x"}]`, 400, "not part of a recognized escape sequence"),
			v21("deep path", `[{"op": "add", "path": "/tags/-", "value": "x"}]`, 400, "Invalid JSON pointer for this resource: '/tags/-'"),
			v21("deep path", `[{"op": "add", "path": "/a/b", "value": "x"}]`, 400, "Invalid JSON pointer for this resource: '/a/b'"),
			v21("deep locations replace", `[{"op": "replace", "path": "/locations/0", "value": "x"}]`, 400, "Invalid JSON pointer for this resource: '/locations/0'"),
			v21("no value", `[{"op": "replace", "path": "/name"}]`, 400, "Operation \"replace\" requires a member named \"value\"."),
			v21("no value", `[{"op": "add", "path": "/x"}]`, 400, "Operation \"add\" requires a member named \"value\"."),
			v21("read-only", `[{"op": "replace", "path": "/status", "value": "active"}]`, 403, "Attribute 'status' is read-only."),
			v21("read-only remove", `[{"op": "remove", "path": "/checksum"}]`, 403, "Attribute 'checksum' is read-only."),
			v21("reserved", `[{"op": "add", "path": "/os_glance_x", "value": "x"}]`, 403, "Attribute 'os_glance_x' is reserved."),
			v21("escaped reserved", `[{"op": "add", "path": "/os_glance~1x", "value": "x"}]`, 403, "Attribute 'os_glance/x' is reserved."),
			v21("base remove", `[{"op": "remove", "path": "/name"}]`, 403, "Property name may not be removed."),
			v21("missing custom", `[{"op": "replace", "path": "/nope", "value": "x"}]`, 409, "Property nope does not exist."),
			v21("locations", `[{"op": "replace", "path": "/locations", "value": []}]`, 403, ""),
			v21("locations add", `[{"op": "add", "path": "/locations/-", "value": {"url": "http://x", "metadata": {}}}]`, 403, ""),
			v21("long name", `[{"op": "replace", "path": "/name", "value": "`+strings.Repeat("n", 256)+`"}]`, 400, "is too long"),
			// Stricter: Glance checks the key length on create only.
			v21("long key", `[{"op": "add", "path": "/`+strings.Repeat("k", 256)+`", "value": "v"}]`, 400, "Custom property should not be greater than 255 characters."),
			v21("custom type", `[{"op": "add", "path": "/custom", "value": 1}]`, 400, "is not of type 'string'"),
			v21("bad enum", `[{"op": "replace", "path": "/visibility", "value": "everyone"}]`, 400, "is not one of"),
			v21("bad kernel id", `[{"op": "add", "path": "/kernel_id", "value": "x"}]`, 400, "does not match"),
			v21("second op refused", `[{"op": "replace", "path": "/name", "value": "half"}, {"op": "move", "path": "/x"}]`, 400, "Invalid operation"),
			v21("second op conflicts", `[{"op": "replace", "path": "/name", "value": "half"}, {"op": "remove", "path": "/nope"}]`, 409, "Property nope does not exist."),
			v20("two ops", `[{"add": "/a", "replace": "/b", "value": "x"}]`, 400, "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\"."),
			v20("no op", `[{"value": "x"}]`, 400, "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\"."),
			v20("add existing", `[{"add": "/os_distro", "value": "y"}]`, 409, "Property os_distro already present."),
			// Glance checks the body before it looks the image up.
			{name: "read-only, unknown image", method: "PATCH", path: "/v2/images/" + zeroUUID, body: `[{"op": "replace", "path": "/status", "value": "active"}]`, hdr: []string{"Content-Type", patchV21Type}, status: 403, msg: "read-only"},
			{name: "bad op, unknown image", method: "PATCH", path: "/v2/images/" + zeroUUID, body: `[{"op": "move", "path": "/x"}]`, hdr: []string{"Content-Type", patchV21Type}, status: 400, msg: "Invalid operation"},
			{name: "unknown image", method: "PATCH", path: "/v2/images/" + zeroUUID, body: `[]`, hdr: []string{"Content-Type", patchV21Type}, status: 404, msg: "No image found with ID " + zeroUUID},
		}
		for _, ct := range []string{"application/json", "application/json-patch+json", "text/plain", ""} {
			cases = append(cases, badCase{name: "patch media type " + ct, method: "PATCH", path: p("/v2/images/{q}"), body: `[]`, hdr: []string{"Content-Type", ct},
				status: 415, msg: "Image PATCH expects Content-Type one of: " + patchV20Type + ", " + patchV21Type, want: acceptPatch})
		}
		f.run(t, 0, cases)
	})

	t.Run("image data and tags", func(t *testing.T) {
		data := randomBytes(5, 1000)
		octet := []string{"Content-Type", octetStream}
		cases := []badCase{
			{name: "upload text/plain", method: "PUT", path: p("/v2/images/{q}/file"), body: data, hdr: []string{"Content-Type", "text/plain"}, status: 415, msg: "Invalid content type text/plain"},
			{name: "upload JSON", method: "PUT", path: p("/v2/images/{q}/file"), body: data, hdr: []string{"Content-Type", "application/json; charset=UTF-8"}, status: 415, msg: "Invalid content type application/json"},
			{name: "upload no type", method: "PUT", path: p("/v2/images/{q}/file"), body: data, hdr: []string{"Content-Type", ""}, status: 415, msg: "Invalid content type None"},
			{name: "upload bad size", method: "PUT", path: p("/v2/images/{q}/file"), body: data, hdr: append([]string{"X-Openstack-Image-Size", "lots"}, octet...), status: 400, msg: "Invalid or missing image size in request headers."},
			{name: "upload over the cap", method: "PUT", path: p("/v2/images/{q}/file"), body: randomBytes(6, badMaxImage+1), hdr: octet, status: 413, msg: ""},
			{name: "upload over the cap, chunked", method: "PUT", path: p("/v2/images/{q}/file"), body: strings.NewReader(strings.Repeat("x", badMaxImage+1)), hdr: octet, status: 413, msg: "", touches: true},
			{name: "upload announced over the cap", method: "PUT", path: p("/v2/images/{q}/file"), body: data, hdr: append([]string{"X-Openstack-Image-Size", fmt.Sprint(badMaxImage + 1)}, octet...), status: 413, msg: ""},
			{name: "upload to an active image", method: "PUT", path: p("/v2/images/{act}/file"), body: data, hdr: octet, status: 409, msg: ""},
			{name: "upload to an unknown image", method: "PUT", path: "/v2/images/" + zeroUUID + "/file", body: data, hdr: octet, status: 404, msg: "No image found with ID"},
			{name: "stage text/plain", method: "PUT", path: p("/v2/images/{q}/stage"), body: data, hdr: []string{"Content-Type", "text/plain"}, status: 415, msg: "Invalid content type text/plain"},
			{name: "stage bad size", method: "PUT", path: p("/v2/images/{q}/stage"), body: data, hdr: append([]string{"X-Openstack-Image-Size", "-x"}, octet...), status: 400, msg: "Invalid or missing image size in request headers."},
			{name: "stage over the cap", method: "PUT", path: p("/v2/images/{q}/stage"), body: randomBytes(6, badMaxImage+1), hdr: octet, status: 413, msg: ""},
			{name: "stage an active image", method: "PUT", path: p("/v2/images/{act}/stage"), body: data, hdr: octet, status: 409, msg: ""},
			{name: "multiple ranges", method: "GET", path: p("/v2/images/{act}/file"), hdr: []string{"Range", "bytes=0-1,3-4"}, status: 400, msg: "Requests with multiple ranges are not supported in Glance."},
			{name: "bad range", method: "GET", path: p("/v2/images/{act}/file"), hdr: []string{"Range", "bytes=x-y"}, status: 416},
			{name: "range past the end", method: "GET", path: p("/v2/images/{act}/file"), hdr: []string{"Range", "bytes=5000-"}, status: 416},
			{name: "tag too long", method: "PUT", path: p("/v2/images/{q}/tags/") + strings.Repeat("t", 256), status: 400, msg: "is too long"},
			{name: "absent tag", method: "DELETE", path: p("/v2/images/{q}/tags/absent"), status: 404},
			{name: "tag on unknown image", method: "PUT", path: "/v2/images/" + zeroUUID + "/tags/x", status: 404, msg: "No image found with ID"},
			{name: "deactivate queued", method: "POST", path: p("/v2/images/{q}/actions/deactivate"), status: 403, msg: "Not allowed to deactivate image in status 'queued'"},
			{name: "reactivate queued", method: "POST", path: p("/v2/images/{q}/actions/reactivate"), status: 403, msg: "Not allowed to reactivate image in status 'queued'"},
			{name: "image id too long", method: "GET", path: "/v2/images/" + strings.Repeat("a", 300), status: 404, msg: "No image found with ID"},
		}
		f.run(t, 0, cases)
	})

	t.Run("members", func(t *testing.T) {
		post := func(name, body string, status int, msg string) badCase {
			return badCase{name: name, method: "POST", path: p("/v2/images/{q}/members"), body: body, hdr: ctJSON, status: status, msg: msg}
		}
		put := func(name, body string, status int, msg string) badCase {
			return badCase{name: name, method: "PUT", path: p("/v2/images/{q}/members/p2"), body: body, hdr: ctJSON, status: status, msg: msg}
		}
		f.run(t, 0, []badCase{
			post("list", `[]`, 400, `Expected a member in the form: {"member": "image_id"}`),
			post("no member", `{}`, 400, "Member to be added not specified"),
			post("other key", `{"members": "p3"}`, 400, "Member to be added not specified"),
			post("empty member", `{"member": ""}`, 400, "Member can't be empty"),
			post("member too long", `{"member": "`+strings.Repeat("m", 256)+`"}`, 400, "is too long"), // stricter: Glance's column is 255
			post("duplicate", `{"member": "p2"}`, 409, "already exists"),
			put("list", `[]`, 400, `Expected a status in the form: {"status": "status"}`),
			put("no status", `{}`, 400, "Status not specified"),
			put("bad status", `{"status": "maybe"}`, 400, `Status must be "pending", "accepted" or "rejected".`),
			put("status type", `{"status": 1}`, 400, `Status must be "pending", "accepted" or "rejected".`),
			{name: "unknown member", method: "GET", path: p("/v2/images/{q}/members/nobody"), status: 404},
			{name: "member of an unknown image", method: "GET", path: "/v2/images/" + zeroUUID + "/members", status: 404},
		})
	})

	t.Run("import and tasks", func(t *testing.T) {
		imp := func(name, path, body string, status int, msg string, hdr ...string) badCase {
			return badCase{name: name, method: "POST", path: p(path), body: body, hdr: append(slices.Clone(ctJSON), hdr...), status: status, msg: msg}
		}
		task := func(name, body string, status int, msg string) badCase {
			return badCase{name: name, method: "POST", path: "/v2/tasks", body: body, hdr: ctJSON, status: status, msg: msg}
		}
		const q, act = "/v2/images/{q}/import", "/v2/images/{act}/import"
		f.run(t, 0, []badCase{
			imp("no method", q, `{}`, 400, "Import request requires a 'method' field."),
			imp("no name", q, `{"method": {}}`, 400, "Import request requires a 'name' field."),
			imp("unknown method", q, `{"method": {"name": "teleport"}}`, 400, "Unknown import method name 'teleport'."),
			imp("bad all_stores", q, `{"method": {"name": "glance-direct"}, "all_stores": "yes"}`, 400, "'all_stores' must be boolean value only"),
			imp("null all_stores", q, `{"method": {"name": "glance-direct"}, "all_stores": null}`, 400, "'all_stores' must be boolean value only"),
			imp("bad all_stores_must_succeed", q, `{"method": {"name": "glance-direct"}, "all_stores_must_succeed": 1, "all_stores": 1}`, 400, "'all_stores_must_succeed' must be boolean value only"),
			// Glance would iterate the string's letters as store ids (409).
			imp("stores type", q, `{"method": {"name": "glance-direct"}, "stores": "default"}`, 400, "'stores'"),
			imp("all_stores with stores", q, `{"method": {"name": "glance-direct"}, "all_stores": true, "stores": ["default"]}`, 400, "All_stores parameter can't be used"),
			imp("all_stores with empty stores", q, `{"method": {"name": "glance-direct"}, "all_stores": true, "stores": []}`, 400, "All_stores parameter can't be used"),
			imp("stores with header", q, `{"method": {"name": "glance-direct"}, "stores": ["default"]}`, 400, "can't be both specified", "X-Image-Meta-Store", "default"),
			imp("web-download ftp", q, `{"method": {"name": "web-download", "uri": "ftp://example.com/x"}}`, 400, "does not pass filtering"),
			imp("web-download no uri", q, `{"method": {"name": "web-download"}}`, 400, "does not pass filtering"),
			imp("glance-download bad uuid", q, `{"method": {"name": "glance-download", "glance_region": "RegionTwo", "glance_image_id": "not-a-uuid"}}`, 400, "Remote image id does not look like a UUID"),
			imp("glance-download no region", q, `{"method": {"name": "glance-download", "glance_image_id": "`+zeroUUID+`"}}`, 400, "'glance_region' needs to be set"),
			imp("glance-direct not staged", q, `{"method": {"name": "glance-direct"}}`, 409, "staged"),
			imp("active image", act, `{"method": {"name": "web-download", "uri": "http://example.com/x"}}`, 409, "Image with status active cannot be target for import"),
			imp("copy-image unknown store", act, `{"method": {"name": "copy-image"}, "stores": ["nowhere"]}`, 409, "nowhere"),
			imp("unknown image", "/v2/images/"+zeroUUID+"/import", `{"method": {"name": "glance-direct"}}`, 404, "No image found with ID"),
			task("list", `[]`, 400, ""),
			task("no type", `{}`, 400, "Task 'type' is required"),
			task("no input", `{"type": "import"}`, 400, "Task 'input' is required"),
			task("bad type", `{"type": "teleport", "input": {}}`, 400, "is not one of"),
			task("input type", `{"type": "import", "input": "x"}`, 400, "input is not of type 'object'"),
			task("ftp source", `{"type": "import", "input": {"import_from": "ftp://example.com/x", "import_from_format": "raw"}}`, 400, "is not supported"),
			{name: "task marker", method: "GET", path: "/v2/tasks?marker=not-a-uuid", status: 400, msg: "Invalid marker format"},
			{name: "task sort_dir", method: "GET", path: "/v2/tasks?sort_dir=up", status: 400, msg: "Invalid sort direction: up"},
			{name: "task sort_key", method: "GET", path: "/v2/tasks?sort_key=size", status: 400},
			{name: "task status", method: "GET", path: "/v2/tasks?status=done", status: 400, msg: "Invalid status value: done"},
			{name: "task type", method: "GET", path: "/v2/tasks?type=teleport", status: 400, msg: "Invalid type value: teleport"},
			{name: "task limit", method: "GET", path: "/v2/tasks?limit=ten", status: 400, msg: "limit param must be an integer"},
			{name: "task negative limit", method: "GET", path: "/v2/tasks?limit=-1", status: 400, msg: "limit param must be positive"},
			{name: "unknown task", method: "GET", path: "/v2/tasks/" + zeroUUID, status: 404},
			{name: "unknown schema", method: "GET", path: "/v2/schemas/nope", status: 404},
			{name: "unknown metadefs schema", method: "GET", path: "/v2/schemas/metadefs/nope", status: 404},
		})
	})

	t.Run("metadefs", func(t *testing.T) {
		long := strings.Repeat("n", 81)
		send := func(name, method, path, body string, status int, msg string) badCase {
			return badCase{name: name, method: method, path: p(path), body: body, hdr: ctJSON, status: status, msg: msg}
		}
		const nss = "/v2/metadefs/namespaces"
		f.run(t, 0, []badCase{
			send("list body", "POST", nss, `[]`, 400, ""),
			send("no name", "POST", nss, `{}`, 400, "'namespace' is a required property"),
			send("empty name", "POST", nss, `{"namespace": ""}`, 400, ""), // stricter: Glance's schema has no minLength
			send("long name", "POST", nss, `{"namespace": "`+long+`"}`, 400, "is too long"),
			send("name type", "POST", nss, `{"namespace": 5}`, 400, "is not of type 'string'"),
			send("unknown key", "POST", nss, `{"namespace": "BadInput::X", "colour": "red"}`, 400, "Additional properties are not allowed ('colour' was unexpected)"),
			send("read-only key", "POST", nss, `{"namespace": "BadInput::X", "self": "x"}`, 403, "Attribute 'self' is read-only."),
			send("bad visibility", "POST", nss, `{"namespace": "BadInput::X", "visibility": "everyone"}`, 400, "is not one of"),
			send("bad protected", "POST", nss, `{"namespace": "BadInput::X", "protected": "yes"}`, 400, "is not of type 'boolean'"),
			send("bad property", "POST", nss, `{"namespace": "BadInput::X", "properties": {"p": {"type": "string"}}}`, 400, ""),
			send("duplicate", "POST", nss, `{"namespace": "`+badNS+`"}`, 409, "already exists"),
			send("update long name", "PUT", "{ns}", `{"namespace": "`+long+`"}`, 400, "is too long"),
			send("update read-only", "PUT", "{ns}", `{"namespace": "`+badNS+`", "created_at": "x"}`, 403, "Attribute 'created_at' is read-only."),
			send("object no name", "POST", "{ns}/objects", `{}`, 400, "'name' is a required property"),
			send("object long name", "POST", "{ns}/objects", `{"name": "`+long+`"}`, 400, "is too long"),
			send("object duplicate", "POST", "{ns}/objects", `{"name": "obj"}`, 409, "already exists"),
			send("object unknown key", "PUT", "{ns}/objects/obj", `{"name": "obj", "colour": 1}`, 400, "Additional properties are not allowed"),
			send("property incomplete", "POST", "{ns}/properties", `{"name": "p2"}`, 400, "is a required property"),
			send("property bad type", "POST", "{ns}/properties", `{"name": "p2", "title": "P", "type": "colour"}`, 400, "is not one of"),
			send("property duplicate", "POST", "{ns}/properties", `{"name": "prop", "title": "P", "type": "string"}`, 409, "already exists"),
			send("property long name", "PUT", "{ns}/properties/prop", `{"name": "`+long+`", "title": "P", "type": "string"}`, 400, "is too long"),
			send("tags type", "POST", "{ns}/tags", `{"tags": "x"}`, 400, ""),
			send("tags long name", "POST", "{ns}/tags", `{"tags": [{"name": "`+long+`"}]}`, 400, "is too long"),
			send("tags unknown key", "POST", "{ns}/tags", `{"tags": [{"label": "x"}]}`, 400, ""),
			send("tag update no name", "PUT", "{ns}/tags/tag", `{}`, 400, "'name' is a required property"),
			send("association no name", "POST", "{ns}/resource_types", `{}`, 400, "'name' is a required property"),
			send("association duplicate", "POST", "{ns}/resource_types", `{"name": "OS::Glance::Image"}`, 409, "already exists"),
			{name: "tag duplicate", method: "POST", path: p("{ns}/tags/tag"), status: 409, msg: "already exists"},
			{name: "unknown namespace", method: "GET", path: nss + "/Nope::Nope", status: 404, msg: "was not found"},
			{name: "unknown object", method: "GET", path: p("{ns}/objects/nope"), status: 404, msg: "was not found"},
			{name: "namespaces limit", method: "GET", path: nss + "?limit=ten", status: 400, msg: "limit param must be an integer"},
			{name: "namespaces sort_dir", method: "GET", path: nss + "?sort_dir=up", status: 400, msg: "Invalid sort direction: up"},
			{name: "namespaces sort_key", method: "GET", path: nss + "?sort_key=colour", status: 400},
			{name: "namespaces visibility", method: "GET", path: nss + "?visibility=everyone", status: 400, msg: "Invalid visibility value: everyone"},
			{name: "namespaces marker", method: "GET", path: nss + "?marker=Nope::Nope", status: 404},
			{name: "objects sort_dir", method: "GET", path: p("{ns}/objects?sort_dir=up"), status: 400, msg: "Invalid sort direction: up"},
			{name: "tags sort_key", method: "GET", path: p("{ns}/tags?sort_key=colour"), status: 400},
			{name: "tags limit", method: "GET", path: p("{ns}/tags?limit=ten"), status: 400, msg: "limit param must be an integer"},
		})
	})

	t.Run("cache, locations and stores", func(t *testing.T) {
		var cases []badCase
		if f.routeKnown(t, "/v2/cache") {
			cases = append(cases,
				badCase{name: "body", method: "GET", path: "/v2/cache", body: `{}`, status: 400, msg: msgBodyNotAllowed},
				badCase{name: "body", method: "GET", path: p("/v2/cache/nodes/{act}"), body: `{}`, status: 400, msg: msgBodyNotAllowed},
				badCase{name: "non-UTF-8 id", method: "PUT", path: "/v2/cache/%FF", status: 400, msg: msgDecoding},
			)
		}
		if f.routeKnown(t, p("/v2/stores/default/{act}")) {
			cases = append(cases, badCase{name: "body", method: "DELETE", path: p("/v2/stores/default/{act}"), body: `{}`, status: 400, msg: msgBodyNotAllowed})
		}
		if loc := p("/v2/images/{q}/locations"); f.routeKnown(t, loc) {
			for _, tc := range []struct {
				body   any
				status int
				msg    string
			}{
				{`{"url": `, 400, msgMalformed},
				{`"x"`, 400, msgScalar},
				{nil, 400, msgNoBody},
				{jsonBody(1 << 20), 413, ""},
				{`{}`, 400, ""},
				{`{"url": 5}`, 400, ""},
			} {
				cases = append(cases, badCase{name: "add location", method: "POST", path: loc, body: tc.body, hdr: ctJSON, status: tc.status, msg: tc.msg})
			}
		}
		if len(cases) == 0 {
			t.Skip("no cache, locations or stores routes")
		}
		f.run(t, 0, cases)
	})

	t.Run("image list queries", func(t *testing.T) {
		q := func(name, query string, msg string) badCase {
			return badCase{name: name, method: "GET", path: "/v2/images?" + query, status: 400, msg: msg}
		}
		f.run(t, 0, []badCase{
			q("sort_key", "sort_key=colour", "Invalid sort key: colour. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."),
			q("sort_dir", "sort_dir=up", "Invalid sort direction: up"),
			q("sort", "sort=name:up", "Invalid sort direction: up"),
			q("sort key", "sort=colour:asc", "Invalid sort key: colour"),
			q("mixed sort syntax", "sort=name&sort_key=name", "Old and new sorting syntax cannot be combined"),
			q("dirs and keys", "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc", "Number of sort dirs does not match the number of sort keys"),
			q("limit", "limit=ten", "limit param must be an integer"),
			q("negative limit", "limit=-1", "limit param must be positive"),
			q("unknown marker", "marker="+zeroUUID, ""),
			q("unknown operator", "name=like:x", "Unable to filter on a unknown operator."),
			q("colon in value", "name=foo:bar", "Unable to filter on a unknown operator."),
			q("open quote", `name=in:"a,b`, "The quote is not closed."),
			q("text after quote", `name=in:"a"b`, "There is no comma after closing quotation mark."),
			q("bad date", "created_at=gt:yesterday", ""),
			q("bad size", "size_min=big", ""),
			q("bad visibility", "visibility=everyone", "Invalid visibility value: everyone"),
			q("bad member_status", "member_status=maybe", "Invalid status: maybe"),
			q("bad os_hidden", "os_hidden=maybe", "Invalid value 'maybe' for 'os_hidden' filter."),
			q("bad protected", "protected=maybe", "Invalid value 'maybe' for 'protected' filter."),
			q("changes-since", "changes-since=2020-01-01T00:00:00Z", `The "changes-since" filter is no longer available on v2.`),
			// Stricter than Glance, which takes these literally.
			q("bad escape", "name=%ZZ", "Invalid query string"),
			q("semicolon", "name=a;b", "Invalid query string"),
		})
	})

	t.Run("URLs and headers", func(t *testing.T) {
		many := strings.Repeat("tag=x&", 256) + "tag=x"
		f.run(t, 0, []badCase{
			{name: "non-UTF-8 image id", method: "GET", path: "/v2/images/%FF", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 image id", method: "DELETE", path: "/v2/images/%C3%28", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 tag", method: "PUT", path: p("/v2/images/{q}/tags/%FF"), status: 400, msg: msgDecoding},
			{name: "non-UTF-8 member", method: "DELETE", path: p("/v2/images/{q}/members/%FE"), status: 400, msg: msgDecoding},
			{name: "non-UTF-8 filter", method: "GET", path: "/v2/images?name=%FF", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 filter key", method: "GET", path: "/v2/images?%FF=x", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 task id", method: "GET", path: "/v2/tasks/%FF", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 namespace", method: "GET", path: "/v2/metadefs/namespaces/%FF", status: 400, msg: msgDecoding},
			{name: "non-UTF-8 versioned path", method: "GET", path: "/v2.5/images/%FF", status: 400, msg: msgDecoding},
			{name: "too many query parameters", method: "GET", path: "/v2/images?" + many, status: 400, msg: "Too many query parameters"},
			{name: "URL too long", method: "GET", path: "/v2/images?name=" + strings.Repeat("n", 16<<10), status: 414, msg: "The request URI was too long for this server."},
			{name: "request id too long", method: "GET", path: "/v2/images", hdr: []string{"X-Openstack-Request-Id", "req-" + strings.Repeat("x", 61)}, status: 431},
		})
		// Headers beyond the server's 64 KiB cap never reach the API: Go
		// answers 431 in plain text.
		status, resp := rawRequest(t, f.c, "GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 70<<10)+"\r\n\r\n")
		resp.Body.Close()
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("70 KiB header: status %d, want 431", status)
		}
		// A JSON body announced over the cap is refused before it is read.
		status, resp = rawRequest(t, f.c, "POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{")
		resp.Body.Close()
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("10 MB announced JSON body: status %d, want 413", status)
		}
		if got := f.snapshot(t, 0); got != f.baseline[0] {
			t.Errorf("raw requests changed the catalog:\n%s", firstDiff(f.baseline[0], got))
		}
	})

	t.Run("error body formats", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			hdr                []string
			status             int
			text               string
		}{
			{"POST", "/v2/images", `{"name": `, ctJSON, 400, msgMalformed},
			{"PUT", "/v2/images", "", nil, 405, "The method PUT is not allowed for this resource."},
			{"PATCH", "/v2/images/" + f.q, `[]`, ctJSON, 415, "Image PATCH expects Content-Type one of"},
			{"GET", "/v2/images/" + zeroUUID, "", nil, 404, "No image found with ID " + zeroUUID},
			{"PROPFIND", "/v2/nothing", "", nil, 501, "The request method PROPFIND is not implemented for this server."},
		} {
			title := http.StatusText(tc.status)
			if tc.status == 413 {
				title = "Request Entity Too Large"
			}
			statusLine := fmt.Sprintf("%d %s", tc.status, title)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := f.adm.do(t, tc.method, tc.path, body, append(slices.Clone(tc.hdr), "Accept", "*/*")...)
			if r.status != tc.status || r.header.Get("Content-Type") != "text/html; charset=UTF-8" ||
				!strings.HasPrefix(string(r.body), "<html>\n <head>\n  <title>"+statusLine+"</title>") ||
				!strings.Contains(string(r.body), "<h1>"+statusLine+"</h1>") ||
				!strings.Contains(string(r.body), htmlEscape(tc.text)) {
				t.Errorf("%s %s, Accept */*: %d %q %q", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body)
			}
			r = f.adm.do(t, tc.method, tc.path, body, append(slices.Clone(tc.hdr), "Accept", "")...)
			if r.status != tc.status || r.header.Get("Content-Type") != "text/plain; charset=UTF-8" ||
				!strings.HasPrefix(string(r.body), statusLine+"\n\n") || !strings.Contains(string(r.body), tc.text) {
				t.Errorf("%s %s, no Accept: %d %q %q", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body)
			}
		}
		if got := f.snapshot(t, 0); got != f.baseline[0] {
			t.Errorf("error format requests changed the catalog:\n%s", firstDiff(f.baseline[0], got))
		}
	})
}

// TestBadInputFollower sends bad writes to a node that is not the Raft
// leader: it refuses them as the leader would, and no replica changes.
func TestBadInputFollower(t *testing.T) {
	f := newBadFixture(t, 2)
	p := f.path
	f.run(t, 1, []badCase{
		{name: "malformed create", method: "POST", path: "/v2/images", body: `{"name": `, hdr: ctJSON, status: 400, msg: msgMalformed},
		{name: "read-only create", method: "POST", path: "/v2/images", body: `{"status": "active"}`, hdr: ctJSON, status: 403, msg: "read-only"},
		{name: "duplicate id", method: "POST", path: "/v2/images", body: `{"id": "` + f.q + `"}`, hdr: ctJSON, status: 409, msg: "already exists"},
		{name: "bad patch op", method: "PATCH", path: p("/v2/images/{q}"), body: `[{"op": "move", "path": "/x"}]`, hdr: []string{"Content-Type", patchV21Type}, status: 400, msg: "Invalid operation"},
		{name: "patch missing property", method: "PATCH", path: p("/v2/images/{q}"), body: `[{"op": "remove", "path": "/nope"}]`, hdr: []string{"Content-Type", patchV21Type}, status: 409, msg: "Property nope does not exist."},
		{name: "upload media type", method: "PUT", path: p("/v2/images/{q}/file"), body: "data", hdr: []string{"Content-Type", "text/plain"}, status: 415, msg: "Invalid content type text/plain"},
		{name: "upload over the cap", method: "PUT", path: p("/v2/images/{q}/file"), body: randomBytes(8, badMaxImage+1), hdr: []string{"Content-Type", octetStream}, status: 413},
		{name: "delete with body", method: "DELETE", path: p("/v2/images/{q}"), body: `{}`, status: 400, msg: msgBodyNotAllowed},
		{name: "duplicate member", method: "POST", path: p("/v2/images/{q}/members"), body: `{"member": "p2"}`, hdr: ctJSON, status: 409},
		{name: "metadefs duplicate", method: "POST", path: "/v2/metadefs/namespaces", body: `{"namespace": "` + badNS + `"}`, hdr: ctJSON, status: 409},
		{name: "import unknown method", method: "POST", path: p("/v2/images/{q}/import"), body: `{"method": {"name": "teleport"}}`, hdr: ctJSON, status: 400},
		{name: "405", method: "PUT", path: "/v2/images", status: 405, want: []string{"Allow", "GET, POST"}},
	})
}

// htmlEscape is WebOb's escaping of an HTML error body's text.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace(s)
}
