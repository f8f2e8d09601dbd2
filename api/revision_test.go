package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// revBackend is an fsmBackend whose replica can be held behind: writes
// proposed with lag are numbered but applied only by catchUp (or a read
// barrier), as a follower applies entries the leader committed. waiting
// receives one value each time a request starts waiting for a revision;
// failSync makes read barriers fail (a node cut off from the leader).
type revBackend struct {
	*fsmBackend
	waiting chan uint64
	syncErr atomic.Pointer[error]
}

func newRevBackend(t *testing.T) *revBackend {
	return &revBackend{fsmBackend: newFSMBackend(t), waiting: make(chan uint64, 16)}
}

func (b *revBackend) WaitApplied(ctx context.Context, idx uint64) error {
	if b.AppliedIndex() < idx {
		b.waiting <- idx
	}
	return b.fsmBackend.WaitApplied(ctx, idx)
}

// Sync is a read barrier: it fails with the error failSync set, or
// catches the replica up.
func (b *revBackend) Sync(context.Context) error {
	if p := b.syncErr.Load(); p != nil && *p != nil {
		return *p
	}
	b.catchUp()
	return nil
}

// failSync makes every read barrier fail with err (nil: pass).
func (b *revBackend) failSync(err error) { b.syncErr.Store(&err) }

// lagCreate numbers a create at the next index without applying it and
// returns that index.
func (b *revBackend) lagCreate(t *testing.T, img *catalog.Image) uint64 {
	t.Helper()
	return b.lag(t, &raftfsm.CreateImage{Image: img})
}

// lag numbers a command at the next index without applying it (another
// node took it; this replica has not caught up) and returns that index.
func (b *revBackend) lag(t *testing.T, cmd any) uint64 {
	t.Helper()
	idx, err := b.Hold(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// catchUp applies every write held behind.
func (b *revBackend) catchUp() { b.CatchUp() }

func newRevServer(t *testing.T, b Backend, wait time.Duration) *httptest.Server {
	t.Helper()
	s, err := New(Config{Backend: b, RevisionWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request with hc and reads the whole answer.
func send(t *testing.T, hc *http.Client, method, url, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, data, err := sendErr(hc, method, url, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// sendErr is send for another goroutine than the test's.
func sendErr(hc *http.Client, method, url, body string, hdr ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

func revCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == RevisionCookie {
			return c
		}
	}
	return nil
}

// TestRevisionOnWriteAnswers: every answer to a write carries the
// revision the node had applied, as a header and a cookie, failed writes
// included; reads carry none.
func TestRevisionOnWriteAnswers(t *testing.T) {
	b := newRevBackend(t)
	srv := newRevServer(t, b, time.Minute)
	hc := srv.Client()
	resp, body := send(t, hc, "POST", srv.URL+"/v2/images", `{"name": "a"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	applied := strconv.FormatUint(b.AppliedIndex(), 10)
	if got := resp.Header.Get(RevisionHeader); got != applied {
		t.Fatalf("create answered %s %q, want %s", RevisionHeader, got, applied)
	}
	c := revCookie(resp)
	if c == nil || c.Value != applied || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
		t.Fatalf("create set cookie %+v; want %s=%s, Path=/, HttpOnly, SameSite=Strict", c, RevisionCookie, applied)
	}
	var img struct{ ID string }
	if err := json.Unmarshal(body, &img); err != nil {
		t.Fatal(err)
	}
	resp, _ = send(t, hc, "GET", srv.URL+"/v2/images/"+img.ID, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get(RevisionHeader) != "" || revCookie(resp) != nil {
		t.Fatalf("GET: %d, %s %q, cookie %v: a read carries no revision", resp.StatusCode, RevisionHeader, resp.Header.Get(RevisionHeader), revCookie(resp))
	}
	// A refused write tells the revision too: the client may read the
	// state that made it fail.
	resp, _ = send(t, hc, "PATCH", srv.URL+"/v2/images/"+img.ID, `[{"op": "replace", "path": "/status", "value": "active"}]`)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(RevisionHeader) != applied || revCookie(resp) == nil {
		t.Fatalf("refused PATCH: %d, %s %q, cookie %v", resp.StatusCode, RevisionHeader, resp.Header.Get(RevisionHeader), revCookie(resp))
	}
}

// TestRevisionWait: a request carrying a revision the replica has not
// applied yet waits for it, then answers from the caught-up replica —
// a create made through another node is found with no read barrier.
func TestRevisionWait(t *testing.T) {
	for _, how := range []string{"header", "cookie"} {
		t.Run(how, func(t *testing.T) {
			b := newRevBackend(t)
			// A barrier would fail: only the wait can find the image.
			b.failSync(catalog.ErrNoQuorum)
			srv := newRevServer(t, b, time.Minute)
			hc := srv.Client()
			at := time.Now().UTC()
			name := "made-elsewhere"
			id := "aaaaaaaa-0000-4000-8000-000000000001"
			rev := b.lagCreate(t, &catalog.Image{ID: id, Name: &name, Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared, CreatedAt: at, UpdatedAt: at, Tags: []string{}})
			var hdr []string
			if how == "header" {
				hdr = []string{RevisionHeader, strconv.FormatUint(rev, 10)}
			} else {
				jar, err := cookiejar.New(nil)
				if err != nil {
					t.Fatal(err)
				}
				hc = &http.Client{Jar: jar}
				u, err := url.Parse(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				jar.SetCookies(u, []*http.Cookie{{Name: RevisionCookie, Value: strconv.FormatUint(rev, 10), Path: "/"}})
			}
			type answer struct {
				resp *http.Response
				body []byte
				err  error
			}
			done := make(chan answer, 1)
			go func() {
				resp, body, err := sendErr(hc, "GET", srv.URL+"/v2/images/"+id, "", hdr...)
				done <- answer{resp, body, err}
			}()
			var a answer
			select {
			case got := <-b.waiting:
				if got != rev {
					t.Fatalf("the GET waits for revision %d, want %d", got, rev)
				}
				b.catchUp()
				a = <-done
			case a = <-done:
				t.Fatalf("the GET answered without waiting: %v %v", a.err, a.resp)
			}
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.resp.StatusCode != http.StatusOK || !strings.Contains(string(a.body), name) {
				t.Fatalf("GET after the wait: %d %s", a.resp.StatusCode, a.body)
			}
		})
	}
}

// TestRevisionWaitEnds: a revision not applied within RevisionWait is
// looked for after a read barrier. If the barrier fails the request
// answers 503, never the stale state, and the answer does not lower the
// client's revision; if the barrier passes and the revision is still
// ahead, this cluster never issued it: it is ignored and replaced.
func TestRevisionWaitEnds(t *testing.T) {
	b := newRevBackend(t)
	srv := newRevServer(t, b, time.Millisecond)
	hc := srv.Client()
	resp, body := send(t, hc, "POST", srv.URL+"/v2/images", `{"name": "a"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var img struct{ ID string }
	if err := json.Unmarshal(body, &img); err != nil {
		t.Fatal(err)
	}
	applied := b.AppliedIndex()
	ahead := strconv.FormatUint(applied+1000, 10)

	b.failSync(catalog.ErrNoQuorum)
	resp, _ = send(t, hc, "GET", srv.URL+"/v2/images/"+img.ID, "", "Cookie", RevisionCookie+"="+ahead)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET with a revision the node cannot reach: %d, want 503", resp.StatusCode)
	}
	resp, _ = send(t, hc, "POST", srv.URL+"/v2/images", `{"name": "b"}`, "Cookie", RevisionCookie+"="+ahead)
	if c := revCookie(resp); resp.StatusCode != http.StatusServiceUnavailable || c == nil || c.Value != ahead {
		t.Fatalf("POST with a revision the node cannot reach: %d, cookie %v; want 503 keeping %s", resp.StatusCode, c, ahead)
	}

	b.failSync(nil)
	resp, _ = send(t, hc, "GET", srv.URL+"/v2/images/"+img.ID, "", "Cookie", RevisionCookie+"="+ahead)
	want := strconv.FormatUint(applied, 10)
	if c := revCookie(resp); resp.StatusCode != http.StatusOK || c == nil || c.Value != want {
		t.Fatalf("GET with a revision this cluster never issued: %d, cookie %v; want 200 resetting it to %s", resp.StatusCode, c, want)
	}
}

// TestRevisionMalformed: a malformed or repeated header is a 400; a
// malformed cookie is ignored and replaced by the next write's answer;
// with several revisions the request is held to the largest.
func TestRevisionMalformed(t *testing.T) {
	b := newRevBackend(t)
	srv := newRevServer(t, b, time.Minute)
	hc := srv.Client()
	for _, hdr := range [][]string{
		{RevisionHeader, "x"},
		{RevisionHeader, "-1"},
		{RevisionHeader, "1", RevisionHeader, "2"},
	} {
		resp, body := send(t, hc, "GET", srv.URL+"/v2/images", "", hdr...)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), RevisionHeader+" must be one catalog revision") {
			t.Fatalf("GET with %q: %d %s, want 400", hdr, resp.StatusCode, body)
		}
	}
	resp, body := send(t, hc, "POST", srv.URL+"/v2/images", `{}`, "Cookie", RevisionCookie+"=junk")
	if c := revCookie(resp); resp.StatusCode != http.StatusCreated || c == nil || c.Value != strconv.FormatUint(b.AppliedIndex(), 10) {
		t.Fatalf("POST with a malformed cookie: %d %s, cookie %v", resp.StatusCode, body, c)
	}
	// The larger of cookie and header is waited for.
	rev := b.AppliedIndex() + 1
	at := time.Now().UTC()
	b.lagCreate(t, &catalog.Image{ID: "aaaaaaaa-0000-4000-8000-000000000002", Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared, CreatedAt: at, UpdatedAt: at, Tags: []string{}})
	done := make(chan error, 1)
	go func() {
		resp, body, err := sendErr(hc, "GET", srv.URL+"/v2/images/aaaaaaaa-0000-4000-8000-000000000002", "",
			"Cookie", RevisionCookie+"=1", RevisionHeader, strconv.FormatUint(rev, 10))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET after the wait: %d %s", resp.StatusCode, body)
		}
		done <- err
	}()
	select {
	case got := <-b.waiting:
		if got != rev {
			t.Fatalf("the GET waits for revision %d, want %d", got, rev)
		}
	case err := <-done:
		t.Fatalf("the GET answered without waiting: %v", err)
	}
	b.catchUp()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMissRetriedAfterBarrier: without a revision, an id the local
// replica does not know yet — an image, a member, a list marker — is
// looked for again after a read barrier, so what another node just wrote
// is found rather than answered 404 (or 400 for a marker).
func TestMissRetriedAfterBarrier(t *testing.T) {
	b := newRevBackend(t)
	srv := newRevServer(t, b, time.Minute)
	hc := srv.Client()
	at := time.Now().UTC()
	owner := "p1"
	newImage := func(id string) *catalog.Image {
		return &catalog.Image{ID: id, Owner: &owner, Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared, CreatedAt: at, UpdatedAt: at, Tags: []string{}}
	}
	const (
		img1 = "aaaaaaaa-0000-4000-8000-000000000011"
		img2 = "aaaaaaaa-0000-4000-8000-000000000012"
	)
	admin := []string{"X-Roles", "admin"}
	for _, tc := range []struct {
		what   string
		lag    func()
		path   string
		caller []string
	}{
		{"image", func() { b.lagCreate(t, newImage(img1)) }, "/v2/images/" + img1, admin},
		{"list marker", func() { b.lagCreate(t, newImage(img2)) }, "/v2/images?marker=" + img2, admin},
		{"member", func() {
			b.lag(t, &raftfsm.PutMember{Member: &catalog.Member{ImageID: img1, MemberID: "p2", Status: catalog.MemberPending, CreatedAt: at, UpdatedAt: at}, Create: true})
		}, "/v2/images/" + img1 + "/members/p2", admin},
	} {
		b.catchUp() // each case starts from a replica up to date
		before := b.AppliedIndex()
		tc.lag()
		resp, body := send(t, hc, "GET", srv.URL+tc.path, "", tc.caller...)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s made through another node: GET %s answered %d %s", tc.what, tc.path, resp.StatusCode, body)
		}
		if b.AppliedIndex() == before {
			t.Errorf("%s: answered without the barrier catching the replica up", tc.what)
		}
	}
}
