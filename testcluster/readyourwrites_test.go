package testcluster_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// revisionTransport carries the catalog revision as a client without
// cookies would: it remembers the largest X-P2pglance-Revision answered
// and sends it on every request.
type revisionTransport struct {
	mu  sync.Mutex
	rev uint64
}

func (rt *revisionTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rev := rt.rev
	rt.mu.Unlock()
	if rev > 0 {
		r = r.Clone(r.Context())
		r.Header.Set("X-P2pglance-Revision", strconv.FormatUint(rev, 10))
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if n, err := strconv.ParseUint(resp.Header.Get("X-P2pglance-Revision"), 10, 64); err == nil {
		rt.mu.Lock()
		rt.rev = max(rt.rev, n)
		rt.mu.Unlock()
	}
	return resp, nil
}

// cookieClient is an HTTP client that keeps cookies, as a requests
// session (every Python OpenStack client) does. The nodes of a test
// cluster are one host (127.0.0.1) on different ports, and cookies do not
// tell ports apart: the cookie a node sets goes to every node, as it does
// to every node behind one load-balanced name.
func cookieClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: testcluster.Client.Timeout}
}

// TestReadYourWritesAcrossNodes: a client that keeps the revision its
// writes are answered with — a cookie, or the header — reads each write
// through any other node right after it: create then GET and list,
// PATCH then GET, a member added then shown, an upload then the image's
// status, an upload refused with 415 then the image queued again, a
// delete then 404. Every step goes to the next node, many times over,
// with no retry and no polling. A client that keeps nothing still finds
// what it created (a miss is retried after a read barrier). Reads that
// carry a revision the node already has pass no read barrier.
func TestReadYourWritesAcrossNodes(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), smallChunks())
	waitSettled(c)
	const rounds = 12
	data := randomBytes(7, 300<<10) // two chunks
	refused := randomBytes(8, 64<<10)

	for _, mode := range []string{"cookie", "header"} {
		t.Run(mode, func(t *testing.T) {
			hc := cookieClient(t)
			if mode == "header" {
				hc = &http.Client{Transport: &revisionTransport{}, Timeout: testcluster.Client.Timeout}
			}
			on := func(i int) apiClient { return apiClient{base: c.URL(i % c.Size()), hc: hc} }
			for k := range rounds {
				a, b, d := on(k), on(k+1), on(k+2)
				name := fmt.Sprintf("ryw-%s-%d", mode, k)
				id := a.create(t, `{"name": "`+name+`", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
				if got := b.show(t, id)["name"]; got != name {
					t.Fatalf("round %d: created %s on node %d, node %d shows name %v", k, id, k%3, (k+1)%3, got)
				}
				if ids, _ := d.list(t, "name="+name); !slices.Equal(ids, []string{id}) {
					t.Fatalf("round %d: list on node %d after the create: %v, want [%s]", k, (k+2)%3, ids, id)
				}
				b.patch(t, id, `[{"op": "replace", "path": "/name", "value": "`+name+`-x"}]`).want(t, http.StatusOK)
				if got := d.show(t, id)["name"]; got != name+"-x" {
					t.Fatalf("round %d: PATCH on node %d, node %d shows name %v", k, (k+1)%3, (k+2)%3, got)
				}
				d.do(t, "POST", "/v2/images/"+id+"/members", `{"member": "proj-`+name+`"}`, "Content-Type", "application/json").want(t, http.StatusOK)
				a.do(t, "GET", "/v2/images/"+id+"/members/proj-"+name, nil).want(t, http.StatusOK)
				a.upload(t, id, data).want(t, http.StatusNoContent)
				if img := b.show(t, id); img["status"] != "active" || img["size"] != float64(len(data)) {
					t.Fatalf("round %d: uploaded on node %d, node %d shows status %v size %v", k, k%3, (k+1)%3, img["status"], img["size"])
				}
				bad := b.create(t, `{"name": "`+name+`-bad", "disk_format": "qcow2", "container_format": "bare"}`)["id"].(string)
				b.upload(t, bad, refused).want(t, http.StatusUnsupportedMediaType)
				if got := d.show(t, bad)["status"]; got != "queued" {
					t.Fatalf("round %d: upload refused (415) on node %d, node %d shows status %v", k, (k+1)%3, (k+2)%3, got)
				}
				for _, del := range []string{id, bad} {
					d.do(t, "DELETE", "/v2/images/"+del, nil).want(t, http.StatusNoContent)
					a.do(t, "GET", "/v2/images/"+del, nil).want(t, http.StatusNotFound)
				}
				if ids, _ := b.list(t, "name="+name+"-x"); len(ids) != 0 {
					t.Fatalf("round %d: list on node %d after the delete: %v", k, (k+1)%3, ids)
				}
			}
		})
	}

	t.Run("no revision", func(t *testing.T) {
		on := func(i int) apiClient { return apiClient{base: c.URL(i % c.Size())} }
		for k := range rounds {
			a, b := on(k), on(k+1)
			name := fmt.Sprintf("ryw-plain-%d", k)
			r := a.do(t, "POST", "/v2/images", `{"name": "`+name+`"}`, "Content-Type", "application/json").want(t, http.StatusCreated)
			if r.header.Get("X-P2pglance-Revision") == "" {
				t.Fatalf("a create's answer carries no X-P2pglance-Revision")
			}
			id := r.obj(t)["id"].(string)
			b.show(t, id)
			b.do(t, "POST", "/v2/images/"+id+"/members", `{"member": "proj-`+name+`"}`, "Content-Type", "application/json").want(t, http.StatusOK)
			on(k+2).do(t, "GET", "/v2/images/"+id+"/members/proj-"+name, nil).want(t, http.StatusOK)
			on(k+2).do(t, "DELETE", "/v2/images/"+id, nil).want(t, http.StatusNoContent)
		}
	})

	t.Run("no barrier", func(t *testing.T) {
		hc := cookieClient(t)
		leader := c.Leader()
		follower := (leader + 1) % c.Size()
		w := apiClient{base: c.URL(leader), hc: hc}
		id := w.create(t, `{"name": "ryw-cheap"}`)["id"].(string)
		f := apiClient{base: c.URL(follower), hc: hc}
		f.show(t, id) // the follower has applied the revision now
		before := c.Node(follower).Metrics().Barriers
		for range 50 {
			f.show(t, id)
		}
		if got := c.Node(follower).Metrics().Barriers - before; got != 0 {
			t.Fatalf("50 reads carrying a revision the follower had passed %d read barriers, want 0", got)
		}
		for range 5 {
			f.do(t, "GET", "/v2/images/"+id, nil, "X-P2pglance-Consistency", "linearizable").want(t, http.StatusOK)
		}
		if got := c.Node(follower).Metrics().Barriers - before; got != 5 {
			t.Fatalf("5 linearizable reads passed %d read barriers, want 5", got)
		}
	})
}

// TestReadWaitsForLaggingNode: a node cut off from the others cannot
// receive a write made through them. A read there that carries the
// write's revision waits for it instead of answering the state before
// the write, and answers the new state once the link is back; a read
// without the revision answers from the node's replica at once. If the
// link stays cut the revision read ends in 503, never in stale state.
func TestReadWaitsForLaggingNode(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.WriteTimeout = 2 * time.Second
	}))
	waitSettled(c)
	leader := c.Leader()
	lag, writer := (leader+1)%3, (leader+2)%3
	hc := cookieClient(t)
	w := apiClient{base: c.URL(writer), hc: hc}
	id := w.create(t, `{"name": "before"}`)["id"].(string)
	c.Eventually(testTimeout, "every node has the image", func() bool {
		for i := range c.Size() {
			if (apiClient{base: c.URL(i)}).do(t, "GET", "/v2/images/"+id, nil).status != http.StatusOK {
				return false
			}
		}
		return true
	})

	c.Partition([]int{lag})
	defer c.Heal()
	w.patch(t, id, `[{"op": "replace", "path": "/name", "value": "after"}]`).want(t, http.StatusOK)
	if got := (apiClient{base: c.URL(lag)}).show(t, id)["name"]; got != "before" {
		t.Fatalf("the cut-off node answered a read without revision with name %v; its replica cannot have the change", got)
	}
	waits := c.Node(lag).Metrics().RevisionWaits
	done := make(chan string, 1)
	go func() {
		var img struct{ Name string }
		resp, err := hc.Get(c.URL(lag) + "/v2/images/" + id)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			} else {
				err = json.NewDecoder(resp.Body).Decode(&img)
			}
		}
		if err != nil {
			done <- err.Error()
			return
		}
		done <- "name " + img.Name
	}()
	c.Eventually(testTimeout, "the read waits for the revision", func() bool { return c.Node(lag).Metrics().RevisionWaits > waits })
	c.Heal()
	if got := <-done; got != "name after" {
		t.Fatalf("the read that waited answered %s; want name after", got)
	}

	// Cut off for good: 503 after the wait and a failed barrier.
	c.Partition([]int{lag})
	w.patch(t, id, `[{"op": "replace", "path": "/name", "value": "third"}]`).want(t, http.StatusOK)
	apiClient{base: c.URL(lag), hc: hc}.do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusServiceUnavailable)
	c.Heal()
	c.Eventually(testTimeout, "the node reads the change after healing", func() bool {
		r := apiClient{base: c.URL(lag), hc: hc}.do(t, "GET", "/v2/images/"+id, nil)
		return r.status == http.StatusOK && r.obj(t)["name"] == "third"
	})
}
