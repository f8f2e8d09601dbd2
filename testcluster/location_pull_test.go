package testcluster_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// setPullLock replaces the pull lock of image id (through node 0) with
// one held by holder as session.
func setPullLock(t *testing.T, c *testcluster.Cluster, id, holder, session string) {
	t.Helper()
	ctx := context.Background()
	for range 8 {
		cur, err := c.Node(0).Image(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		next := cur.Clone()
		next.Upload = &catalog.UploadLock{Node: holder, Session: session, Started: time.Now().UTC()}
		if _, err = c.Node(0).UpdateImage(ctx, next, cur.Revision); err == nil {
			return
		} else if !errors.Is(err, catalog.ErrConflict) {
			t.Fatal(err)
		}
	}
	t.Fatal("could not set the pull lock: conflicts")
}

// TestLocationPullLocks: the cluster-wide lock of a lazy location pull
// never strands an image.
func TestLocationPullLocks(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.AllowLoopbackOrigins(), testcluster.WithReplicas(2), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
	}))
	waitSettled(c)
	a0 := newAPIClient(c)
	data := randomBytes(62, 3*256<<10+77)
	newLazy := func(o *countingOrigin) string {
		id := a0.create(t, `{"name": "loc", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		if task := a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`"}`)); task["status"] != "success" {
			t.Fatalf("location task: %v", task)
		}
		return id
	}

	// A lock held by a live node that no longer runs the pull (its pull
	// ended when no leader was reachable to release the lock, or the node
	// restarted mid-pull): that node releases it, and other nodes, which
	// see the holder alive, do not wait on it for LocationPullTimeout.
	t.Run("StaleLockOfLiveNodeIsReleased", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := newLazy(o)
		setPullLock(t, c, id, c.Node(1).ID(), "pull-left-over")
		testcluster.WaitUntil(t, testTimeout, "node 2 sees the lock", func() bool {
			img, err := c.Node(2).Image(context.Background(), id)
			return err == nil && img.Upload != nil
		})
		testcluster.WaitUntil(t, testTimeout, "node 1 releases its stale pull lock", func() bool {
			img, err := c.Node(2).Image(context.Background(), id)
			return err == nil && img.Upload == nil
		})
		if got := download(t, glance(c.URL(2), ""), id); !bytes.Equal(got, data) {
			t.Fatal("download after the stale lock differs")
		}
		if g := o.gets.Load(); g != 1 {
			t.Fatalf("origin read %d times, want 1", g)
		}
	})

	// A puller whose lock another node took over (gossip saw it gone for
	// a moment) does not fail its download: it waits for, or takes back,
	// the pull.
	t.Run("PullerWhoseLockWasTakenOverStillServes", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		o.stallFirst = make(chan struct{})
		id := newLazy(o)
		type answer struct {
			status int
			body   []byte
		}
		got := make(chan answer, 1)
		go func() {
			resp, err := http.Get(c.URL(1) + "/v2/images/" + id + "/file")
			if err != nil {
				got <- answer{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			got <- answer{resp.StatusCode, b}
		}()
		testcluster.WaitUntil(t, testTimeout, "node 1 starts the pull", o.stalled.Load)
		// The takeover: the lock now names a node that is gone, so node
		// 1 may take it back.
		setPullLock(t, c, id, "node-gone", "pull-taken-over")
		close(o.stallFirst)
		a := <-got
		if a.status != http.StatusOK || !bytes.Equal(a.body, data) {
			t.Fatalf("download on the puller whose lock was taken over: %d %.200q", a.status, a.body)
		}
		img, err := c.Node(1).Image(context.Background(), id)
		if err != nil || img.Manifest == nil || img.Upload != nil {
			t.Fatalf("image after the pull: %+v, %v", img, err)
		}
	})
	// A prefetch of an image whose location holds other data fails on
	// every node with the reason, not "no data".
	t.Run("PrefetchSaysWhyThePullFailed", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := a0.create(t, `{"name": "loc", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
		bad := strings.Repeat("ab", sha512.Size)
		a0.waitImportTask(t, id, a0.addLocation(t, id, `{"url": "`+o.url()+`", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "`+bad+`"}}`))
		code, job := prefetchCall(t, http.MethodPost, c.URL(0)+"/p2p/v1/prefetch", map[string]any{"image_id": id, "target": map[string]any{"all": true}})
		if code/100 != 2 || job.ID == "" {
			t.Fatalf("start prefetch: %d %+v", code, job)
		}
		jobID := job.ID
		testcluster.WaitUntil(t, testTimeout, "the prefetch fails", func() bool {
			_, job = prefetchCall(t, http.MethodGet, c.URL(0)+"/p2p/v1/prefetch/"+jobID, nil)
			return job.State == "failed" && len(job.Nodes) == 3 && !slices.ContainsFunc(job.Nodes, func(p catalog.PrefetchNode) bool { return p.State != "failed" })
		})
		for _, p := range job.Nodes {
			if !strings.Contains(p.Error, "does not match") {
				t.Fatalf("node %s: prefetch error %q does not say why", p.ID, p.Error)
			}
		}
	})
	// A prefetch of a lazy image pulls it once and then seeds every node.
	t.Run("PrefetchPullsOnce", func(t *testing.T) {
		o := newCountingOrigin(t, data)
		id := newLazy(o)
		code, job := prefetchCall(t, http.MethodPost, c.URL(1)+"/p2p/v1/prefetch", map[string]any{"image_id": id, "target": map[string]any{"all": true}})
		if code/100 != 2 || job.ID == "" {
			t.Fatalf("start prefetch: %d %+v", code, job)
		}
		jobID := job.ID
		testcluster.WaitUntil(t, testTimeout, "the prefetch ends", func() bool {
			_, job = prefetchCall(t, http.MethodGet, c.URL(0)+"/p2p/v1/prefetch/"+jobID, nil)
			return job.State == "done" || job.State == "failed"
		})
		if job.State != "done" || o.gets.Load() != 1 {
			t.Fatalf("prefetch of a lazy image: %+v, origin read %d times", job, o.gets.Load())
		}
	})
}
