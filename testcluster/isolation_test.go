package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/testcluster"
)

// The tenant isolation matrix: project A owns every image, B is the
// project it may be shared with, C is unrelated, and admin is an admin
// of a fourth project. Each image has one visibility and one state of
// B's membership (none, or pending, accepted or rejected — a membership
// made while the image was shared and kept when its visibility changed).
// Every endpoint is called by every caller on every such image, each
// request on the next node of a 3-node cluster, and the answer must be
// exactly the one written in the endpoint's table below.
//
// The tables are derived from Glance's default policies
// (glance/policies/{base,image}.py, enforce_new_defaults) and from what
// its controllers do before and after them (glance/api/v2/images.py,
// image_data.py, image_members.py, image_actions.py, image_tags.py; the
// database's visibility and member rules in glance/db/sqlalchemy/api.py):
//
//   - An image the caller cannot see is 404, whatever the operation: the
//     database shows non-admins their own images, public and community
//     ones, and shared ones they are a member of in any member status.
//   - A visible image that the caller may not change is 403 (modify,
//     delete, upload, stage, import, tags, deactivate, reactivate, add
//     location: admin or a member of the owning project).
//   - Download is allowed to anyone who sees the image (with the member
//     role); a deactivated image only to admins (403, checked first).
//   - GET .../locations is for admins and services only.
//   - Member calls on a visible image that is not shared: 403 ("Only
//     shared images have members"), except GET of one member, which turns
//     every refusal into 404. Only the owner and admins may add or delete
//     members; only the member itself and admins may set its status (the
//     owner gets 403).
//   - Lists: by default the caller's own images (community ones
//     included), public ones, and shared ones it accepted; admins
//     everything but others' community images; visibility= selects one
//     visibility (community ones included); member_status= selects the
//     membership status of shared images.

// isoCaller is one identity of the matrix (noauth headers).
type isoCaller struct{ name, project, roles string }

var (
	isoA     = isoCaller{"A", "proj-a", "member,reader"}
	isoB     = isoCaller{"B", "proj-b", "member,reader"}
	isoC     = isoCaller{"C", "proj-c", "member,reader"}
	isoAdmin = isoCaller{"admin", "proj-admin", "admin,member,reader"}
	// isoColumns is the column order of the tables; isoOrder the order
	// the callers act in (refusals first, so that a success is last).
	isoColumns = []isoCaller{isoA, isoB, isoC, isoAdmin}
	isoOrder   = []isoCaller{isoC, isoB, isoA, isoAdmin}
)

// isoRow is one image of the matrix.
type isoRow struct{ vis, member string }

// isoKind is the status the image of a row is made in.
type isoKind int

const (
	isoQueued isoKind = iota // queued, with disk and container formats
	isoActive                // active, 1 KiB of data
)

// isoEndpoint is one operation of the matrix with its expected answers.
type isoEndpoint struct {
	name string
	// table has one line per row: visibility, member state, then the
	// answer for A, B, C and admin: a status code, or for lists "in" or
	// "out" (whether the image is on the page).
	table string
	// mutates: a 2xx changes what the next caller would get, so the row's
	// image is made afresh after one.
	mutates bool
	// request builds the call for image id by caller who.
	request func(id string, who isoCaller) isoRequest
}

type isoRequest struct {
	method, path, body string
	hdr                []string
	list               bool // the answer is "in" or "out" of the page
}

// Expected answers. Every table lists the 16 rows in the same order.
const (
	// seeImage: whoever sees the image may do it (GET, tasks list).
	seeImage = `
private   none      200 404 404 200
private   pending   200 404 404 200
private   accepted  200 404 404 200
private   rejected  200 404 404 200
shared    none      200 404 404 200
shared    pending   200 200 404 200
shared    accepted  200 200 404 200
shared    rejected  200 200 404 200
community none      200 200 200 200
community pending   200 200 200 200
community accepted  200 200 200 200
community rejected  200 200 200 200
public    none      200 200 200 200
public    pending   200 200 200 200
public    accepted  200 200 200 200
public    rejected  200 200 200 200`
	// changeImage: the owner and admins may; others who see it get 403.
	changeImage = `
private   none      2xx 404 404 2xx
private   pending   2xx 404 404 2xx
private   accepted  2xx 404 404 2xx
private   rejected  2xx 404 404 2xx
shared    none      2xx 404 404 2xx
shared    pending   2xx 403 404 2xx
shared    accepted  2xx 403 404 2xx
shared    rejected  2xx 403 404 2xx
community none      2xx 403 403 2xx
community pending   2xx 403 403 2xx
community accepted  2xx 403 403 2xx
community rejected  2xx 403 403 2xx
public    none      2xx 403 403 2xx
public    pending   2xx 403 403 2xx
public    accepted  2xx 403 403 2xx
public    rejected  2xx 403 403 2xx`
	// downloadDeactivated: only admins, 403 for whoever sees it.
	downloadDeactivated = `
private   none      403 404 404 200
private   pending   403 404 404 200
private   accepted  403 404 404 200
private   rejected  403 404 404 200
shared    none      403 404 404 200
shared    pending   403 403 404 200
shared    accepted  403 403 404 200
shared    rejected  403 403 404 200
community none      403 403 403 200
community pending   403 403 403 200
community accepted  403 403 403 200
community rejected  403 403 403 200
public    none      403 403 403 200
public    pending   403 403 403 200
public    accepted  403 403 403 200
public    rejected  403 403 403 200`
	// getLocations: admins (and services) only.
	getLocations = `
private   none      403 404 404 200
private   pending   403 404 404 200
private   accepted  403 404 404 200
private   rejected  403 404 404 200
shared    none      403 404 404 200
shared    pending   403 403 404 200
shared    accepted  403 403 404 200
shared    rejected  403 403 404 200
community none      403 403 403 200
community pending   403 403 403 200
community accepted  403 403 403 200
community rejected  403 403 403 200
public    none      403 403 403 200
public    pending   403 403 403 200
public    accepted  403 403 403 200
public    rejected  403 403 403 200`
	listMembers = `
private   none      403 404 404 403
private   pending   403 404 404 403
private   accepted  403 404 404 403
private   rejected  403 404 404 403
shared    none      200 404 404 200
shared    pending   200 200 404 200
shared    accepted  200 200 404 200
shared    rejected  200 200 404 200
community none      403 403 403 403
community pending   403 403 403 403
community accepted  403 403 403 403
community rejected  403 403 403 403
public    none      403 403 403 403
public    pending   403 403 403 403
public    accepted  403 403 403 403
public    rejected  403 403 403 403`
	// addOrDeleteMember: the owner and admins, on shared images.
	addMember = `
private   none      403 404 404 403
private   pending   403 404 404 403
private   accepted  403 404 404 403
private   rejected  403 404 404 403
shared    none      200 404 404 200
shared    pending   200 403 404 200
shared    accepted  200 403 404 200
shared    rejected  200 403 404 200
community none      403 403 403 403
community pending   403 403 403 403
community accepted  403 403 403 403
community rejected  403 403 403 403
public    none      403 403 403 403
public    pending   403 403 403 403
public    accepted  403 403 403 403
public    rejected  403 403 403 403`
	deleteMemberB = `
private   none      403 404 404 403
private   pending   403 404 404 403
private   accepted  403 404 404 403
private   rejected  403 404 404 403
shared    none      404 404 404 404
shared    pending   204 403 404 204
shared    accepted  204 403 404 204
shared    rejected  204 403 404 204
community none      403 403 403 403
community pending   403 403 403 403
community accepted  403 403 403 403
community rejected  403 403 403 403
public    none      403 403 403 403
public    pending   403 403 403 403
public    accepted  403 403 403 403
public    rejected  403 403 403 403`
	// getMemberB: every refusal is a 404.
	getMemberB = `
private   none      404 404 404 404
private   pending   404 404 404 404
private   accepted  404 404 404 404
private   rejected  404 404 404 404
shared    none      404 404 404 404
shared    pending   200 200 404 200
shared    accepted  200 200 404 200
shared    rejected  200 200 404 200
community none      404 404 404 404
community pending   404 404 404 404
community accepted  404 404 404 404
community rejected  404 404 404 404
public    none      404 404 404 404
public    pending   404 404 404 404
public    accepted  404 404 404 404
public    rejected  404 404 404 404`
	// updateMemberB: the member itself and admins; the owner gets 403.
	updateMemberB = `
private   none      403 404 404 403
private   pending   403 404 404 403
private   accepted  403 404 404 403
private   rejected  403 404 404 403
shared    none      404 404 404 404
shared    pending   403 200 404 200
shared    accepted  403 200 404 200
shared    rejected  403 200 404 200
community none      403 403 403 403
community pending   403 403 403 403
community accepted  403 403 403 403
community rejected  403 403 403 403
public    none      403 403 403 403
public    pending   403 403 403 403
public    accepted  403 403 403 403
public    rejected  403 403 403 403`
	// listDefault: own images, public ones, accepted shared ones; admins
	// all but others' community images.
	listDefault = `
private   none      in  out out in
private   pending   in  out out in
private   accepted  in  out out in
private   rejected  in  out out in
shared    none      in  out out in
shared    pending   in  out out in
shared    accepted  in  in  out in
shared    rejected  in  out out in
community none      in  out out out
community pending   in  out out out
community accepted  in  out out out
community rejected  in  out out out
public    none      in  in  in  in
public    pending   in  in  in  in
public    accepted  in  in  in  in
public    rejected  in  in  in  in`
	// listByVisibility: visibility=<the image's>.
	listByVisibility = `
private   none      in  out out in
private   pending   in  out out in
private   accepted  in  out out in
private   rejected  in  out out in
shared    none      in  out out in
shared    pending   in  out out in
shared    accepted  in  in  out in
shared    rejected  in  out out in
community none      in  in  in  in
community pending   in  in  in  in
community accepted  in  in  in  in
community rejected  in  in  in  in
public    none      in  in  in  in
public    pending   in  in  in  in
public    accepted  in  in  in  in
public    rejected  in  in  in  in`
	// listAllMemberStatus: member_status=all.
	listAllMemberStatus = `
private   none      in  out out in
private   pending   in  out out in
private   accepted  in  out out in
private   rejected  in  out out in
shared    none      in  out out in
shared    pending   in  in  out in
shared    accepted  in  in  out in
shared    rejected  in  in  out in
community none      in  out out out
community pending   in  out out out
community accepted  in  out out out
community rejected  in  out out out
public    none      in  in  in  in
public    pending   in  in  in  in
public    accepted  in  in  in  in
public    rejected  in  in  in  in`
	// listVisibilityAllStatus: visibility=<the image's>&member_status=all.
	listVisibilityAllStatus = `
private   none      in  out out in
private   pending   in  out out in
private   accepted  in  out out in
private   rejected  in  out out in
shared    none      in  out out in
shared    pending   in  in  out in
shared    accepted  in  in  out in
shared    rejected  in  in  out in
community none      in  in  in  in
community pending   in  in  in  in
community accepted  in  in  in  in
community rejected  in  in  in  in
public    none      in  in  in  in
public    pending   in  in  in  in
public    accepted  in  in  in  in
public    rejected  in  in  in  in`
)

// isoTable parses a table into the expected answer per row and caller.
func isoTable(t *testing.T, name, table string) map[isoRow]map[string]string {
	t.Helper()
	out := map[isoRow]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		f := strings.Fields(line)
		if len(f) != 2+len(isoColumns) {
			t.Fatalf("%s: bad table line %q", name, line)
		}
		m := map[string]string{}
		for i, c := range isoColumns {
			m[c.name] = f[2+i]
		}
		out[isoRow{f[0], f[1]}] = m
	}
	if len(out) != 16 {
		t.Fatalf("%s: %d rows, want 16", name, len(out))
	}
	return out
}

// isoMatrix runs the matrix on a cluster.
type isoMatrix struct {
	t    *testing.T
	c    *testcluster.Cluster
	next atomic.Int64 // round-robin over the nodes
	src  string       // URL of data for imports and locations
	data []byte
}

type isoAnswer struct {
	status int
	body   []byte
}

// send makes one request on the next node.
func (m *isoMatrix) send(who isoCaller, r isoRequest) (isoAnswer, error) {
	node := int(m.next.Add(1)) % m.c.Size()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, m.c.URL(node)+r.path, body)
	if err != nil {
		return isoAnswer{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Project-Id", who.project)
	req.Header.Set("X-Roles", who.roles)
	for i := 0; i+1 < len(r.hdr); i += 2 {
		req.Header.Set(r.hdr[i], r.hdr[i+1])
	}
	resp, err := testcluster.Client.Do(req)
	if err != nil {
		return isoAnswer{}, fmt.Errorf("%s %s on node %d: %w", r.method, r.path, node, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return isoAnswer{status: resp.StatusCode, body: data}, err
}

// must sends a setup request that must succeed.
func (m *isoMatrix) must(who isoCaller, r isoRequest) (isoAnswer, error) {
	a, err := m.send(who, r)
	if err == nil && a.status >= 300 {
		err = fmt.Errorf("setup %s %s as %s: %d %s", r.method, r.path, who.name, a.status, a.body)
	}
	return a, err
}

// syncAll makes every node's replica current.
func (m *isoMatrix) syncAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range m.c.Size() {
		if err := m.c.Node(i).Sync(ctx); err != nil {
			return fmt.Errorf("sync node %d: %w", i, err)
		}
	}
	return nil
}

// makeImage creates the image of a row: A's, tagged "t", with B's
// membership in the row's state (made while shared), then given the
// row's visibility (by the admin, who alone may publicize).
func (m *isoMatrix) makeImage(row isoRow, kind isoKind) (string, error) {
	vis := row.vis
	if row.member != "none" || vis == "public" {
		vis = "shared"
	}
	a, err := m.must(isoA, isoRequest{method: "POST", path: "/v2/images", hdr: []string{"Content-Type", "application/json"},
		body: `{"name": "iso", "disk_format": "raw", "container_format": "bare", "tags": ["t"], "visibility": "` + vis + `"}`})
	if err != nil {
		return "", err
	}
	var img struct{ ID string }
	if err := json.Unmarshal(a.body, &img); err != nil {
		return "", err
	}
	id := img.ID
	type step struct {
		who isoCaller
		r   isoRequest
	}
	var steps []step
	if kind == isoActive {
		steps = append(steps, step{isoA, isoRequest{method: "PUT", path: "/v2/images/" + id + "/file", body: string(m.data), hdr: []string{"Content-Type", octetStream}}})
	}
	if row.member != "none" {
		steps = append(steps, step{isoA, isoRequest{method: "POST", path: "/v2/images/" + id + "/members", body: `{"member": "proj-b"}`, hdr: []string{"Content-Type", "application/json"}}})
		if row.member != "pending" {
			steps = append(steps, step{isoB, isoRequest{method: "PUT", path: "/v2/images/" + id + "/members/proj-b", body: `{"status": "` + row.member + `"}`, hdr: []string{"Content-Type", "application/json"}}})
		}
	}
	if vis != row.vis {
		steps = append(steps, step{isoAdmin, isoRequest{method: "PATCH", path: "/v2/images/" + id, body: `[{"op": "replace", "path": "/visibility", "value": "` + row.vis + `"}]`, hdr: []string{"Content-Type", patchV21Type}}})
	}
	for _, st := range steps {
		if err := m.syncAll(); err != nil { // the next step may land on a node that has not seen the last
			return "", err
		}
		if _, err := m.must(st.who, st.r); err != nil {
			return "", err
		}
	}
	return id, m.syncAll()
}

// answer is how a response reads in a table: the status ("2xx" for any
// success when the table says so), or for a list "in" or "out".
func (m *isoMatrix) answer(a isoAnswer, r isoRequest, id, want string) string {
	if r.list {
		if a.status != http.StatusOK {
			return fmt.Sprint(a.status)
		}
		var page struct{ Images []struct{ ID string } }
		if json.Unmarshal(a.body, &page) != nil {
			return "bad page"
		}
		for _, img := range page.Images {
			if img.ID == id {
				return "in"
			}
		}
		return "out"
	}
	if want == "2xx" && a.status >= 200 && a.status < 300 {
		return "2xx"
	}
	return fmt.Sprint(a.status)
}

// runGroup runs endpoints in order on one image per row (rows in
// parallel), every caller on every endpoint.
func (m *isoMatrix) runGroup(kind isoKind, endpoints ...isoEndpoint) {
	t := m.t
	tables := make([]map[isoRow]map[string]string, len(endpoints))
	for i, ep := range endpoints {
		tables[i] = isoTable(t, ep.name, ep.table)
	}
	var wg sync.WaitGroup
	for row := range tables[0] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := m.makeImage(row, kind)
			if err != nil {
				t.Errorf("%v: %v", row, err)
				return
			}
			for i, ep := range endpoints {
				for j, who := range isoOrder {
					want := tables[i][row][who.name]
					r := ep.request(id, who)
					a, err := m.send(who, r)
					if err != nil {
						t.Errorf("%s, %s image, B %s, as %s: %v", ep.name, row.vis, row.member, who.name, err)
						return
					}
					if got := m.answer(a, r, id, want); got != want {
						t.Errorf("%s, %s image, B %s, as %s: got %s, want %s (%s %s: %.200s)",
							ep.name, row.vis, row.member, who.name, got, want, r.method, r.path, a.body)
					}
					if ep.mutates && a.status < 300 && j < len(isoOrder)-1 {
						if id, err = m.makeImage(row, kind); err != nil {
							t.Errorf("%v: %v", row, err)
							return
						}
					}
				}
				if err := m.syncAll(); err != nil {
					t.Errorf("%v: %v", row, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTenantIsolationMatrix(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), smallChunks())
	waitSettled(c)
	m := &isoMatrix{t: t, c: c, data: randomBytes(31, 1024)}
	m.src = dataServer(t, m.data, 0).URL + "/img"
	call := func(method, suffix string) func(string, isoCaller) isoRequest {
		return func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: method, path: "/v2/images/" + id + suffix}
		}
	}
	list := func(query string) func(string, isoCaller) isoRequest {
		return func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "GET", path: "/v2/images?id=" + id + query, list: true}
		}
	}
	// The visibility filters need the row's visibility, which the id
	// does not carry: they are separate endpoints per visibility.
	listVis := func(allStatus bool) []isoEndpoint {
		var out []isoEndpoint
		for _, vis := range []string{"private", "shared", "community", "public"} {
			table := listByVisibility
			q := "&visibility=" + vis
			if allStatus {
				table, q = listVisibilityAllStatus, q+"&member_status=all"
			}
			// Rows of other visibilities are never on this page.
			var lines []string
			for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
				if !strings.HasPrefix(line, vis+" ") {
					f := strings.Fields(line)
					line = f[0] + " " + f[1] + " out out out out"
				}
				lines = append(lines, line)
			}
			out = append(out, isoEndpoint{name: "list" + q, table: strings.Join(lines, "\n"), request: func(id string, _ isoCaller) isoRequest {
				return isoRequest{method: "GET", path: "/v2/images?id=" + id + q, list: true}
			}})
		}
		return out
	}
	jsonHdr := []string{"Content-Type", "application/json"}
	reads := []isoEndpoint{
		{name: "GET image", table: seeImage, request: call("GET", "")},
		{name: "GET image tasks", table: seeImage, request: call("GET", "/tasks")},
		{name: "GET locations", table: getLocations, request: call("GET", "/locations")},
		{name: "list", table: listDefault, request: list("")},
		{name: "list member_status=all", table: listAllMemberStatus, request: list("&member_status=all")},
	}
	reads = append(reads, listVis(false)...)
	reads = append(reads, listVis(true)...)
	reads = append(reads,
		isoEndpoint{name: "GET members", table: listMembers, request: call("GET", "/members")},
		isoEndpoint{name: "GET member B", table: getMemberB, request: call("GET", "/members/proj-b")},
		isoEndpoint{name: "PATCH name", table: changeImage, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "PATCH", path: "/v2/images/" + id, body: `[{"op": "replace", "path": "/name", "value": "renamed"}]`, hdr: []string{"Content-Type", patchV21Type}}
		}},
		isoEndpoint{name: "PUT tag", table: changeImage, request: call("PUT", "/tags/new")},
		isoEndpoint{name: "POST member", table: addMember, request: func(id string, who isoCaller) isoRequest {
			return isoRequest{method: "POST", path: "/v2/images/" + id + "/members", body: `{"member": "proj-new-` + who.name + `"}`, hdr: jsonHdr}
		}},
		// Last on these images: it changes B's membership.
		isoEndpoint{name: "PUT member B", table: updateMemberB, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "PUT", path: "/v2/images/" + id + "/members/proj-b", body: `{"status": "accepted"}`, hdr: jsonHdr}
		}},
	)
	m.runGroup(isoQueued, reads...)

	m.runGroup(isoActive,
		isoEndpoint{name: "GET file", table: seeImage, request: call("GET", "/file")},
		isoEndpoint{name: "deactivate", table: changeImage, request: call("POST", "/actions/deactivate")},
		isoEndpoint{name: "GET file (deactivated)", table: downloadDeactivated, request: call("GET", "/file")},
		isoEndpoint{name: "reactivate", table: changeImage, request: call("POST", "/actions/reactivate")},
	)

	for _, ep := range []isoEndpoint{
		{name: "DELETE image", table: changeImage, mutates: true, request: call("DELETE", "")},
		{name: "PUT file", table: changeImage, mutates: true, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "PUT", path: "/v2/images/" + id + "/file", body: string(m.data), hdr: []string{"Content-Type", octetStream}}
		}},
		{name: "DELETE tag", table: changeImage, mutates: true, request: call("DELETE", "/tags/t")},
		{name: "DELETE member B", table: deleteMemberB, mutates: true, request: call("DELETE", "/members/proj-b")},
		{name: "PUT stage", table: changeImage, mutates: true, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "PUT", path: "/v2/images/" + id + "/stage", body: string(m.data), hdr: []string{"Content-Type", octetStream}}
		}},
		{name: "POST import", table: changeImage, mutates: true, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "POST", path: "/v2/images/" + id + "/import", body: `{"method": {"name": "web-download", "uri": "` + m.src + `"}}`, hdr: jsonHdr}
		}},
		{name: "POST locations", table: changeImage, mutates: true, request: func(id string, _ isoCaller) isoRequest {
			return isoRequest{method: "POST", path: "/v2/images/" + id + "/locations", body: `{"url": "` + m.src + `"}`, hdr: jsonHdr}
		}},
	} {
		m.runGroup(isoQueued, ep)
	}

	t.Logf("%d requests", m.next.Load())
	// The tasks API is for admins only, whoever's task it is.
	id, err := m.makeImage(isoRow{"private", "none"}, isoQueued)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.must(isoA, isoRequest{method: "POST", path: "/v2/images/" + id + "/import", body: `{"method": {"name": "web-download", "uri": "` + m.src + `"}}`, hdr: jsonHdr}); err != nil {
		t.Fatal(err)
	}
	if err := m.syncAll(); err != nil {
		t.Fatal(err)
	}
	adminTasks, err := m.must(isoAdmin, isoRequest{method: "GET", path: "/v2/images/" + id + "/tasks"})
	if err != nil {
		t.Fatal(err)
	}
	var tasks struct{ Tasks []struct{ ID string } }
	if err := json.Unmarshal(adminTasks.body, &tasks); err != nil || len(tasks.Tasks) != 1 {
		t.Fatalf("tasks of the imported image: %v %s", err, adminTasks.body)
	}
	for _, tc := range []struct {
		path string
		want map[string]int
	}{
		{"/v2/tasks", map[string]int{"A": 403, "B": 403, "C": 403, "admin": 200}},
		{"/v2/tasks/" + tasks.Tasks[0].ID, map[string]int{"A": 403, "B": 403, "C": 403, "admin": 200}},
	} {
		for _, who := range isoOrder {
			a, err := m.send(who, isoRequest{method: "GET", path: tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.want[who.name] {
				t.Errorf("GET %s as %s: %d, want %d (%.200s)", tc.path, who.name, a.status, tc.want[who.name], bytes.TrimSpace(a.body))
			}
		}
	}
}
