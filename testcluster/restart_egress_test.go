package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestFullRestartDrawsTheCatalogFromPeers restarts every node of a
// cluster of 3 voters and 9 replicas at once. The replicas kept no
// checkpoint (the log is shorter than --checkpoint-every), so each lacks
// the whole catalog, and their saved hints name the leader of before the
// restart. The leader sheds every poll that far behind it, so however
// the replicas' views of the tree stand while gossip forms, it serves at
// most the catalog's snapshot size in log answers and checkpoints (the
// other voters may serve it once per replica that polls them: not
// bounded yet).
func TestFullRestartDrawsTheCatalogFromPeers(t *testing.T) {
	const voters, n = 3, 12
	c := testcluster.New(t, n, testcluster.WithVoters(voters), testcluster.WithRacks("r1", "r2", "r3"))
	ids := createN(t, c.URL(0), "a", 300) // more entries than the leader feeds to one behind
	seenByAll(t, c, ids)
	for i := range n {
		c.Stop(i)
	}
	for i := range n {
		c.Restart(i)
	}
	leader := c.WaitForLeader()
	ids = append(ids, createN(t, c.URL(n-1), "b", 1)...)
	seenByAll(t, c, ids)
	size, err := c.Node(leader).CatalogBytes()
	if err != nil {
		t.Fatal(err)
	}
	var detail []string
	for i := range voters {
		m := c.Node(i).Metrics()
		var b int64
		for _, r := range m.PeerServed {
			if r.Route == "log" || r.Route == "checkpoint" {
				b += r.Bytes
			}
		}
		detail = append(detail, fmt.Sprintf("voter %d (leader %v): %d bytes (%+v)", i, i == leader, b, m.PeerServed))
		if i == leader && b > size {
			t.Errorf("the leader served %d bytes of log and checkpoints, over the catalog's %d", b, size)
		}
	}
	t.Logf("catalog %d bytes; %s", size, strings.Join(detail, "; "))
}

// TestLeaderShedsLaggingPollers: the leader refuses a log poll behind
// it by more than a round trip's writes (a replica that restarted or
// joined), which another voter answers; a poll that is nearly caught up
// it still answers.
func TestLeaderShedsLaggingPollers(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithVoters(3), testcluster.WithSecret(""))
	ids := createN(t, c.URL(0), "a", 300)
	seenByAll(t, c, ids)
	leader := c.WaitForLeader()
	other := (leader + 1) % 3
	client := peer.NewClient(http.DefaultClient, "http")
	ctx := context.Background()
	if _, err := client.Log(ctx, c.Node(leader).PeerAddr(), 0, 0); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("a poll from index 0 to the leader: %v, want refused (503)", err)
	}
	b, err := client.Log(ctx, c.Node(other).PeerAddr(), 0, 0)
	if err != nil || len(b.Entries) == 0 || b.Hints.Leader == "" {
		t.Fatalf("a poll from index 0 to a fellow voter: %v, %d entries, hints %+v", err, len(b.Entries), b.Hints)
	}
	// A poller that took part of the log from a voter still replaying
	// its own (a full restart) is refused too: the leader answering it
	// would send a good part of the catalog once per such replica.
	mid := c.Node(leader).AppliedIndex() - 100
	if _, err := client.Log(ctx, c.Node(leader).PeerAddr(), mid, 0); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("a poll 100 entries behind the leader: %v, want refused (503)", err)
	}
	near := c.Node(leader).AppliedIndex() - 10
	b, err = client.Log(ctx, c.Node(leader).PeerAddr(), near, 0)
	if err != nil || len(b.Entries) == 0 {
		t.Fatalf("a poll 10 entries behind the leader: %v, %d entries", err, len(b.Entries))
	}
	// Caught up, a long poll answers what was applied meanwhile, at most
	// 16 entries however many that is (the leader applies writes in
	// batches; after a restart it replays its whole log).
	var wg sync.WaitGroup
	for w := range 96 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			createN(t, c.URL(leader), fmt.Sprintf("burst%d", w), 3)
		}()
	}
	after, most := c.Node(leader).AppliedIndex(), 0
	for range 20 {
		b, err := client.Log(ctx, c.Node(leader).PeerAddr(), after, 2*time.Second)
		if err != nil {
			break // fell behind by more than 16 (shed), or the burst is over
		}
		most = max(most, len(b.Entries))
		if n := len(b.Entries); n > 0 {
			after = b.Entries[n-1].Index
		}
	}
	wg.Wait()
	if most > 16 {
		t.Fatalf("the leader answered a poll with %d entries, over 16", most)
	}
	t.Logf("largest answer during the burst: %d entries", most)
}
