package testcluster_test

import (
	"testing"

	"github.com/p2pglance/p2pglance/testcluster"
)

// TestInMemoryCluster: nodes with Badger in memory (used by benchmarks)
// store and serve images like on-disk ones.
func TestInMemoryCluster(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.InMemory(), testcluster.WithReplicas(2), smallChunks())
	data := randomBytes(80, 2<<20+5)
	img := createAndUpload(t, glance(c.URL(0), ""), "mem", data)
	for i := range 3 {
		checkImageData(t, img, data, download(t, glance(c.URL(i), ""), img.ID))
	}
}
