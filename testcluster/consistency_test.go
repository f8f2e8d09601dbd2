package testcluster_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestLinearizableReadsOption: a node run with LinearizableReads never
// answers a read from a replica that may be stale. Cut off from the
// leader, node 2 (with the option) cannot pass its read barrier and
// answers 503 instead of the image's old name; node 1 (without it) still
// answers from its replica, and the header asks for the same barrier
// there.
func TestLinearizableReadsOption(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.InMemory(), testcluster.WithVoters(5), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.LinearizableReads = i == 2
		cfg.WriteTimeout = 2 * time.Second
	}))
	waitSettled(c)
	a0 := newAPIClient(c)
	id := a0.create(t, `{"name": "before"}`)["id"].(string)
	c.Eventually(30*time.Second, "every node has the image", func() bool {
		for i := range 5 {
			if (apiClient{base: c.URL(i)}).do(t, "GET", "/v2/images/"+id, nil).status != http.StatusOK {
				return false
			}
		}
		return true
	})
	// Nodes 1 and 2 alone: the leader must be on the other side.
	leader := c.Leader()
	var major, minor []int
	for i := range 5 {
		if i == 1 || i == 2 {
			minor = append(minor, i)
		} else {
			major = append(major, i)
		}
	}
	if leader == 1 || leader == 2 {
		t.Skipf("leader is node %d, in the minority", leader)
	}
	c.Partition(major, minor)
	defer c.Heal()
	a := apiClient{base: c.URL(major[0])}
	a.patch(t, id, `[{"op": "replace", "path": "/name", "value": "after"}]`).want(t, http.StatusOK)
	if got := (apiClient{base: c.URL(1)}).do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusOK).obj(t)["name"]; got != "before" {
		t.Fatalf("node 1 cut off answered name %v; its replica cannot have the change", got)
	}
	(apiClient{base: c.URL(1)}).do(t, "GET", "/v2/images/"+id, nil, "X-P2pglance-Consistency", "linearizable").want(t, http.StatusServiceUnavailable)
	(apiClient{base: c.URL(2)}).do(t, "GET", "/v2/images/"+id, nil).want(t, http.StatusServiceUnavailable)
	c.Heal()
	c.Eventually(30*time.Second, "node 2 reads the change after healing", func() bool {
		r := (apiClient{base: c.URL(2)}).do(t, "GET", "/v2/images/"+id, nil)
		return r.status == http.StatusOK && r.obj(t)["name"] == "after"
	})
}
