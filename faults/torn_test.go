package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pinnedBytes is node i's durable bytes as node from's cluster view reports them.
func (c *cluster) pinnedBytes(from, i int) int64 {
	v, err := c.view(from)
	if err != nil {
		return -1
	}
	for _, n := range v.Nodes {
		if n.ID == c.nodes[i].id {
			return n.PinnedBytes
		}
	}
	return -1
}

// TestTornCopy: a node's data directory is copied with cp -a while
// clients write through every node (the copy is torn: files copied at
// different moments, in no particular order); the node is SIGKILLed, the
// cluster writes on, and the node restarts on the torn copy. It starts,
// catches up from Raft, fetches back from its peers every chunk it is a
// durable holder of, is given copies of the images uploaded while it was
// down (three nodes, three copies: it holds every chunk), and then, cut
// off from the others, serves every image byte-exact from its own disk.
func TestTornCopy(t *testing.T) {
	// Images uploaded while the node is down are placed on the two
	// others; the leader tops them up to three copies once they have been
	// short for --repair-grace (5 minutes unless told).
	c := newCluster(t, config{n: 3, replicas: 3, args: func(int) []string { return []string{"--repair-grace", "2s"} }})
	l := newLedger()
	ld := startLoad(c, l, "torn", c.all(), 3, 2)
	defer ld.halt()
	c.eventually(60*time.Second, "uploads are acknowledged", func() bool { return l.uploads() >= 5 })
	leader := c.waitCluster(c.all()...)
	victim := (leader + 1) % 3
	c.waitUploading(l, victim)
	backup := filepath.Join(t.TempDir(), "torn")
	if out, err := exec.Command("cp", "-a", c.nodes[victim].dataDir, backup).CombinedOutput(); err != nil {
		// A file Badger deletes during the copy makes cp fail; what it
		// copied is the torn copy.
		t.Logf("cp -a while node %d writes: %v: %s", victim, err, out)
	}
	atCopy := l.acked()
	c.waitProgress(l, 20, "after the copy")
	c.kill(victim)
	c.waitProgress(l, 20, "without the node")
	if err := os.RemoveAll(c.nodes[victim].dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(backup, c.nodes[victim].dataDir); err != nil {
		t.Fatal(err)
	}
	c.restart(victim)
	t.Logf("node %d restarted on a copy taken %d acknowledged writes before it stopped", victim, l.acked()-atCopy)
	c.waitCluster(c.all()...)
	c.waitProgress(l, 10, "after the restart")
	ld.halt()
	c.waitConverged(2*time.Minute, c.all()...)

	// Every chunk of every active image is durable on the node again
	// (checked before any download through it leaves cached copies).
	imgs, err := c.list(leader)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, img := range imgs {
		if img.Status == "active" && img.Size != nil {
			want += *img.Size
		}
	}
	c.eventuallyWhy(time.Minute, fmt.Sprintf("node %d holds %d bytes durably", victim, want), func() (bool, string) {
		got := c.pinnedBytes(leader, victim)
		return got >= want, fmt.Sprintf("it holds %d", got)
	})
	// Cut off from the others, it serves every image from its own disk.
	c.net.partition([]int{victim}, c.others(victim))
	l.verify(c, victim)
	c.net.heal()
	l.verify(c, c.all()...)
}
