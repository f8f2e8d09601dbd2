package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// placementOf reads an image's durable placement from a node's catalog.
func placementOf(t *testing.T, c *testcluster.Cluster, i int, id string) []string {
	t.Helper()
	img, err := c.Node(i).Image(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return img.Placement
}

// outsider returns a running node not in placement.
func outsider(c *testcluster.Cluster, placement []string) int {
	for i := range c.Size() {
		if c.Node(i) != nil && !slices.Contains(placement, c.Node(i).ID()) {
			return i
		}
	}
	return -1
}

func TestUploadOnOneNodeDownloadOnAnother(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithReplicas(2), smallChunks())
	data := randomBytes(1, 3<<20+12345) // 13 chunks, the last one short
	img := createAndUpload(t, glance(c.URL(0), ""), "cirros", data)
	if img.Status != "active" {
		t.Fatalf("status %s after upload", img.Status)
	}
	placement := placementOf(t, c, 0, img.ID)
	if len(placement) != 2 {
		t.Fatalf("placement %v, want 2 nodes", placement)
	}
	far := outsider(c, placement)
	if far < 0 {
		t.Fatal("every node holds the image")
	}
	before := c.Node(far).Metrics()
	if before.StoredChunks != 0 {
		t.Fatalf("node %d holds %d chunks before downloading", far, before.StoredChunks)
	}
	got := download(t, glance(c.URL(far), ""), img.ID)
	checkImageData(t, img, data, got)
	after := c.Node(far).Metrics()
	if after.FetchedChunks < 13 {
		t.Fatalf("node %d fetched %d chunks from peers, want >= 13", far, after.FetchedChunks)
	}
	// A second download is served from the chunks it kept.
	got = download(t, glance(c.URL(far), ""), img.ID)
	checkImageData(t, img, data, got)
	if m := c.Node(far).Metrics(); m.FetchedChunks != after.FetchedChunks {
		t.Fatalf("second download fetched %d more chunks from peers", m.FetchedChunks-after.FetchedChunks)
	}
}

func TestLeaderFailover(t *testing.T) {
	c := testcluster.New(t, 3, smallChunks())
	data := randomBytes(2, 1<<20)
	first := createAndUpload(t, glance(c.URL(0), ""), "before", data)

	old := c.WaitForLeader()
	c.Stop(old)
	c.WaitForLeader()
	survivor := (old + 1) % 3

	// Writes go on through a surviving node, with R = 2 live nodes.
	data2 := randomBytes(3, 1<<20+7)
	second := createAndUpload(t, glance(c.URL(survivor), ""), "after", data2)
	for i := range 3 {
		if i == old {
			continue
		}
		checkImageData(t, first, data, download(t, glance(c.URL(i), ""), first.ID))
		checkImageData(t, second, data2, download(t, glance(c.URL(i), ""), second.ID))
	}
	c.Restart(old)
	c.WaitMembers(3)
	checkImageData(t, second, data2, download(t, glance(c.URL(old), ""), second.ID))
}

func TestRestartAllNodes(t *testing.T) {
	c := testcluster.New(t, 3, smallChunks())
	var imgs []*images.Image
	var datas [][]byte
	for k := range 3 {
		d := randomBytes(uint64(10+k), 700<<10+k)
		datas = append(datas, d)
		imgs = append(imgs, createAndUpload(t, glance(c.URL(k), ""), "img", d))
	}
	c.Close() // every node at once
	for i := range 3 {
		c.Restart(i)
	}
	c.WaitForLeader()
	c.WaitMembers(3)
	for i := range 3 {
		for k, img := range imgs {
			got, err := images.Get(context.Background(), glance(c.URL(i), ""), img.ID).Extract()
			if err != nil {
				t.Fatalf("node %d lost image %s: %v", i, img.ID, err)
			}
			checkImageData(t, got, datas[k], download(t, glance(c.URL(i), ""), img.ID))
		}
	}
}

// TestCorruptChunkIsNeverServed: chunks rotted on disk are detected on
// every read path — a local download and a peer asking for them — never
// served, counted, and replaced by good copies fetched from the other
// holder (NoCache: by the node's self-heal, not by the read itself).
func TestCorruptChunkIsNeverServed(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithReplicas(2), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.NoCache = true // the outsider fetches every chunk on every download
	}))
	data := randomBytes(4, 1<<20) // 4 chunks
	img := createAndUpload(t, glance(c.URL(0), ""), "victim", data)
	var holders []int
	for i := range 3 {
		if slices.Contains(placementOf(t, c, 0, img.ID), c.Node(i).ID()) {
			holders = append(holders, i)
		}
	}
	h1, h2 := holders[0], holders[1]
	far := outsider(c, placementOf(t, c, 0, img.ID))
	// Rot chunk 1 on one holder and chunk 2 on the other.
	if !c.CorruptChunk(h1, data[256<<10:256<<10+64]) || !c.CorruptChunk(h2, data[512<<10:512<<10+64]) {
		t.Fatal("chunk not found on disk")
	}
	c.WaitMembers(3)
	found := func(i int) int64 { m := c.Node(i).Metrics(); return m.CorruptLocal + m.StoreCorruptFound }

	// Local read: detected, the good copy comes from the other holder.
	checkImageData(t, img, data, download(t, glance(c.URL(h1), ""), img.ID))
	if found(h1) == 0 {
		t.Fatalf("node %d did not notice its corrupt chunk", h1)
	}
	// A peer's read: the holder checks before serving, so the outsider
	// never receives a bad byte.
	for k := 0; found(h2) == 0; k++ {
		if k == 40 {
			t.Fatalf("node %d was never asked for its corrupt chunk in 40 downloads", h2)
		}
		checkImageData(t, img, data, download(t, glance(c.URL(far), ""), img.ID))
	}
	if m := c.Node(far).Metrics(); m.CorruptPeer != 0 {
		t.Fatalf("node %d received %d corrupt chunks from peers", far, m.CorruptPeer)
	}
	// Both bad copies are replaced: each holder holds all 4 chunks again
	// and, cut off from the others, serves the image from its own disk.
	for _, h := range holders {
		c.Eventually(20*time.Second, fmt.Sprintf("node %d replaces its bad copy", h), func() bool {
			m := c.Node(h).Metrics()
			return m.StoredChunks == 4 && m.Healed >= 1
		})
	}
	for _, h := range holders {
		c.Partition([]int{h})
		checkImageData(t, img, data, download(t, glance(c.URL(h), ""), img.ID))
	}
	c.Heal()
}

func TestClusterEndpoint(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithVoters(3), testcluster.WithZones("z1", "z2"), testcluster.WithRacks("r1"))
	// Node 4, a replica, learns who votes and leads from the hints its
	// upstream sends, which may lag the join that New waited for: poll
	// until it has them.
	var info api.ClusterInfo
	var roles map[string]int
	c.Eventually(10*time.Second, "node 4 sees 1 leader, 2 voters and 2 replicas", func() bool {
		resp, err := http.Get(c.URL(4) + "/p2p/v1/cluster")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		info = api.ClusterInfo{}
		if json.NewDecoder(resp.Body).Decode(&info) != nil {
			return false
		}
		roles = map[string]int{}
		for _, n := range info.Nodes {
			roles[n.Role]++
		}
		return roles["leader"] == 1 && roles["voter"] == 2 && roles["replica"] == 2 && info.Leader != ""
	})
	for _, n := range info.Nodes {
		if !n.Alive || n.APIAddr == "" || n.Zone == "" || n.Rack != "r1" {
			t.Errorf("node entry %+v incomplete", n)
		}
	}
	// Store usage of every node: after an upload with R = 3, three nodes
	// hold it pinned (durable), none as cache.
	createAndUpload(t, glance(c.URL(0), ""), "u", randomBytes(6, 5000))
	c.Eventually(10*time.Second, "three nodes report pinned bytes", func() bool {
		resp, err := http.Get(c.URL(3) + "/p2p/v1/cluster")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var info api.ClusterInfo
		if json.NewDecoder(resp.Body).Decode(&info) != nil {
			return false
		}
		pinned := 0
		for _, n := range info.Nodes {
			if n.PinnedBytes == 5000 && n.CacheBytes == 0 {
				pinned++
			}
		}
		return pinned == 3
	})
	// ?usage=false: the same nodes and roles, no usage (no node asked).
	resp, err := http.Get(c.URL(3) + "/p2p/v1/cluster?usage=false")
	if err != nil {
		t.Fatal(err)
	}
	var bare api.ClusterInfo
	err = json.NewDecoder(resp.Body).Decode(&bare)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(bare.Nodes) != 5 {
		t.Fatalf("usage=false: status %d, %d nodes, %v", resp.StatusCode, len(bare.Nodes), err)
	}
	for _, n := range bare.Nodes {
		if n.Role == "" || n.APIAddr == "" || n.Chunks != 0 || n.PinnedBytes != 0 || n.Bytes != 0 || n.CacheBudget != 0 {
			t.Errorf("usage=false: node %+v", n)
		}
	}
	for _, q := range []string{"usage=maybe", "usage=true&usage=false"} {
		resp, err := http.Get(c.URL(3) + "/p2p/v1/cluster?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: status %d, want 400", q, resp.StatusCode)
		}
	}
	// A replica serves reads of writes made elsewhere.
	img := createAndUpload(t, glance(c.URL(0), ""), "x", randomBytes(5, 1000))
	c.Eventually(10*time.Second, "the replica sees the image active", func() bool {
		got, err := images.Get(context.Background(), glance(c.URL(4), ""), img.ID).Extract()
		return err == nil && got.Status == "active"
	})
}

// lyingTransport corrupts every chunk body that comes from liar.
type lyingTransport struct {
	liar string // peer address
	hits atomic.Int64
}

func (l *lyingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Host != l.liar || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/chunks/") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		body[len(body)/2] ^= 0xff
		l.hits.Add(1)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func TestLyingPeerIsNeverBelieved(t *testing.T) {
	lie := &lyingTransport{}
	c := testcluster.New(t, 3, testcluster.WithReplicas(2), testcluster.WithPeerTransport(2, lie),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			if i == 2 {
				cfg.NoCache = true
			}
		}))
	// Upload on node 0 with R = 2 until node 2 is not a holder.
	var img *images.Image
	var data []byte
	for k := range 10 {
		data = randomBytes(uint64(60+k), 4<<20) // 16 chunks
		img = createAndUpload(t, glance(c.URL(0), ""), "x", data)
		if !slices.Contains(placementOf(t, c, 0, img.ID), c.Node(2).ID()) {
			break
		}
	}
	pl := placementOf(t, c, 0, img.ID)
	if slices.Contains(pl, c.Node(2).ID()) {
		t.Fatal("node 2 always chosen as a holder")
	}
	// One holder lies to node 2 about every chunk.
	for i := range 2 {
		if c.Node(i).ID() == pl[1] {
			lie.liar = c.Member(i).Config.PeerAddr
		}
	}
	got := download(t, glance(c.URL(2), ""), img.ID)
	checkImageData(t, img, data, got)
	m := c.Node(2).Metrics()
	// The liar is demoted: node 2 (no cache: it fetches every chunk
	// again) does not ask it for a minute, so no chunk is lied about.
	hits := lie.hits.Load()
	checkImageData(t, img, data, download(t, glance(c.URL(2), ""), img.ID))
	if lie.hits.Load() != hits {
		t.Fatalf("the liar was asked again after lying %d times", hits)
	}
	if lie.hits.Load() == 0 {
		// Holders are tried in random order: 16 chunks all avoiding the
		// liar has odds of 1 in 65,536.
		t.Fatal("the liar was never asked")
	}
	if m.CorruptPeer != lie.hits.Load() {
		t.Fatalf("liar sent %d corrupt chunks, node counted %d", lie.hits.Load(), m.CorruptPeer)
	}
	t.Logf("liar corrupted %d chunks; all caught", lie.hits.Load())
}

// TestRawVirtualSize: a raw image in a bare container reports its size
// as virtual_size, as Glance's raw inspector does.
func TestRawVirtualSize(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithReplicas(1))
	img := createAndUpload(t, glance(c.URL(0), ""), "raw", randomBytes(7, 12345))
	if img.VirtualSize != 12345 {
		t.Fatalf("virtual_size %d, want 12345", img.VirtualSize)
	}
}
