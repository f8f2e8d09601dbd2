package testcluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// Glance's messages for bad request bodies and URLs
// (glance/common/wsgi.py).
const (
	msgMalformed      = "Malformed JSON in request body."
	msgScalar         = "Unexpected body type. Expected list/dict."
	msgNoBody         = "Body expected in request."
	msgBodyNotAllowed = "A body is not expected with this request."
	msgDecoding       = "Error decoding your request. Either the URL or the request body contained characters that could not be decoded by Glance"
)

// badCase is one request that must be refused.
type badCase struct {
	name   string
	method string
	path   string
	body   any      // nil, string, []byte, or an io.Reader (sent chunked)
	hdr    []string // request headers, name/value pairs
	status int
	msg    string   // text the JSON error message must contain ("": any)
	want   []string // response headers, name/value pairs
	// touches marks a refusal that, as in Glance, moves the image to
	// saving and back to queued: only updated_at may change.
	touches bool
}

// badFixture is the catalog the sweep attacks: an admin client, a queued
// image with formats, a custom property, a tag and a member, an active
// image, and a metadefs namespace with one property, object, tag and
// resource type association.
type badFixture struct {
	c        *testcluster.Cluster
	adm      apiClient // noauth admin (no project)
	q, act   string    // image ids
	ns       string    // "/v2/metadefs/namespaces/<name>"
	baseline []string  // catalog snapshot per node, after setup
}

const (
	badNS       = "BadInput::NS"
	zeroUUID    = "00000000-0000-0000-0000-000000000000"
	badMaxImage = 1 << 20 // the sweep cluster's image size cap
)

// newBadFixture starts n nodes (one voter, one copy of each chunk, a
// 1 MiB image size cap, glance-download enabled) and creates the
// fixture through node 0.
func newBadFixture(t *testing.T, n int) *badFixture {
	t.Helper()
	c := testcluster.New(t, n, testcluster.WithReplicas(1), testcluster.WithVoters(1), testcluster.InMemory(),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.MaxImageSize = badMaxImage
			cfg.GlanceDownloadEndpoints = map[string]string{"RegionTwo": "http://127.0.0.1:9"}
		}))
	f := &badFixture{c: c, adm: newAPIClient(c), ns: "/v2/metadefs/namespaces/" + badNS}
	a := f.adm
	f.q = a.create(t, `{"name": "bad-input queued", "disk_format": "raw", "container_format": "bare", "os_distro": "x", "tags": ["t1"]}`)["id"].(string)
	a.do(t, "POST", "/v2/images/"+f.q+"/members", `{"member": "p2"}`, "Content-Type", "application/json").want(t, http.StatusOK)
	f.act = a.create(t, `{"name": "bad-input active", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	a.upload(t, f.act, randomBytes(3, 1024)).want(t, http.StatusNoContent)
	a.do(t, "POST", "/v2/metadefs/namespaces", `{"namespace": "`+badNS+`", "visibility": "public",
		"resource_type_associations": [{"name": "OS::Glance::Image"}],
		"properties": {"prop": {"title": "Prop", "type": "string"}},
		"objects": [{"name": "obj"}],
		"tags": [{"name": "tag"}]}`, "Content-Type", "application/json").want(t, http.StatusCreated)
	for i := range n {
		f.c.Eventually(10*time.Second, "the fixture on every node", func() bool {
			return f.snapshot(t, i) == f.snapshot(t, 0)
		})
	}
	for i := range n {
		f.baseline = append(f.baseline, f.snapshot(t, i))
	}
	return f
}

// snapshot renders what node i's API shows of the catalog: every image
// (hidden ones too), the fixture's members, tasks and data, every task,
// every metadefs namespace and the fixture namespace in full, and the
// resource types.
func (f *badFixture) snapshot(t *testing.T, i int) string {
	t.Helper()
	a := apiClient{base: f.c.URL(i)}
	var b strings.Builder
	for _, p := range []string{
		"/v2/images?limit=1000&visibility=all&sort_key=id&sort_dir=asc",
		"/v2/images?limit=1000&visibility=all&os_hidden=true",
		"/v2/images/" + f.q + "/members",
		"/v2/images/" + f.q + "/tasks",
		"/v2/images/" + f.act + "/file",
		"/v2/tasks?limit=1000",
		"/v2/metadefs/namespaces?limit=1000&sort_key=namespace&sort_dir=asc",
		f.ns,
		"/v2/metadefs/resource_types",
	} {
		r := a.do(t, "GET", p, nil)
		fmt.Fprintf(&b, "GET %s: %d\n%s\n", p, r.status, r.body)
	}
	return b.String()
}

// run sends each case to node i and checks the answer and that no node's
// catalog changed. It reports every failure and goes on, re-baselining
// after a change so that one failure is not blamed on the next cases.
func (f *badFixture) run(t *testing.T, node int, cases []badCase) {
	t.Helper()
	a := apiClient{base: f.c.URL(node)}
	for _, tc := range cases {
		r := a.do(t, tc.method, tc.path, tc.body, tc.hdr...)
		checkRefusal(t, tc, r)
		for i := range f.baseline {
			got := f.snapshot(t, i)
			if tc.touches {
				got, f.baseline[i] = maskUpdatedAt(got), maskUpdatedAt(f.baseline[i])
			}
			if got != f.baseline[i] {
				t.Errorf("%s (%s %s): node %d's catalog changed:\n%s", tc.name, tc.method, tc.path, i, firstDiff(f.baseline[i], got))
				f.baseline[i] = got
			}
			if tc.touches {
				f.baseline[i] = f.snapshot(t, i)
			}
		}
	}
}

var updatedAt = regexp.MustCompile(`"updated_at": "[^"]*"`)

// maskUpdatedAt blanks every updated_at of a snapshot.
func maskUpdatedAt(s string) string { return updatedAt.ReplaceAllString(s, `"updated_at": ""`) }

// checkRefusal checks status, Glance's JSON error body (Accept:
// application/json), the request id and the expected headers.
func checkRefusal(t *testing.T, tc badCase, r *apiResp) {
	t.Helper()
	where := fmt.Sprintf("%s (%s %s)", tc.name, tc.method, tc.path)
	if len(where) > 200 {
		where = where[:200] + "..."
	}
	if r.status != tc.status {
		t.Errorf("%s: status %d, want %d; body %.300s", where, r.status, tc.status, r.body)
		return
	}
	for i := 0; i+1 < len(tc.want); i += 2 {
		if got := r.header.Get(tc.want[i]); got != tc.want[i+1] {
			t.Errorf("%s: header %s = %q, want %q", where, tc.want[i], got, tc.want[i+1])
		}
	}
	// A request id over 64 characters is refused before one is set.
	if id := r.header.Get("X-Openstack-Request-Id"); !reqIDPattern.MatchString(id) && tc.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%s: x-openstack-request-id %q", where, id)
	}
	if tc.method == http.MethodHead {
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json; body %.300s", where, ct, r.body)
		return
	}
	var e struct{ Message, Code, Title string }
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Errorf("%s: error body is not JSON: %v: %.300s", where, err, r.body)
		return
	}
	if strings.TrimSpace(strings.ReplaceAll(e.Message, "<br />", "")) == "" || e.Title == "" ||
		!strings.HasPrefix(e.Code, fmt.Sprint(tc.status)+" ") {
		t.Errorf("%s: error body %.300s lacks a message, code or title", where, r.body)
	}
	if !strings.Contains(e.Message, tc.msg) {
		t.Errorf("%s: message %q does not contain %q", where, e.Message, tc.msg)
	}
}

// firstDiff shows the first line where two snapshots differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			j := 0
			for j < len(x) && j < len(y) && x[j] == y[j] {
				j++
			}
			from := max(0, j-150)
			return fmt.Sprintf("line %d, byte %d\n- %.400s\n+ %.400s", i+1, j, x[from:], y[from:])
		}
	}
	return "(no line differs)"
}

// rawRequest writes request bytes on a new connection to node 0 and
// returns the status line and the response (headers and body).
func rawRequest(t *testing.T, c *testcluster.Cluster, req string) (int, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.URL(0), "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, resp
}

// jsonBody is a JSON object of about n bytes.
func jsonBody(n int) string {
	return `{"name": "` + strings.Repeat("x", n) + `"}`
}
