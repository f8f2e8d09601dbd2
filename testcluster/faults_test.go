package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// catalogOf is node i's whole image catalog as JSON (identical on two
// nodes exactly when their replicas agree).
func catalogOf(t *testing.T, c *testcluster.Cluster, i int) string {
	t.Helper()
	imgs, err := c.Node(i).ListImages(context.Background(), catalog.ListQuery{})
	if err != nil {
		t.Fatalf("list images on node %d: %v", i, err)
	}
	b, err := json.Marshal(imgs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitSameCatalog waits until the running nodes among idx have identical
// catalogs.
func waitSameCatalog(t *testing.T, c *testcluster.Cluster, idx []int) {
	t.Helper()
	c.Eventually(30*time.Second, fmt.Sprintf("nodes %v have identical catalogs", idx), func() bool {
		first := catalogOf(t, c, idx[0])
		for _, i := range idx[1:] {
			if catalogOf(t, c, i) != first {
				return false
			}
		}
		return true
	})
}

// imageStatus returns an image's status on node i ("" if absent).
func imageStatus(c *testcluster.Cluster, i int, id string) string {
	img, err := c.Node(i).Image(context.Background(), id)
	if err != nil {
		return ""
	}
	return img.Status
}

// TestPartitionMinorityRefusesWritesAndHeals cuts a 5-voter cluster into
// a minority holding the old leader and a majority: the majority elects a
// leader and takes writes; the minority refuses writes with a clean 503
// once its write timeout passes, and keeps serving reads and the data of
// images it holds. After healing, all nodes converge to the same catalog:
// every acknowledged write is there, nothing the minority refused
// appears, and the image deleted during the partition stays deleted.
func TestPartitionMinorityRefusesWritesAndHeals(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.InMemory(), testcluster.WithVoters(5), testcluster.WithReplicas(2),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.WriteTimeout = 3 * time.Second
		}))
	leader := c.WaitForLeader()
	minority := []int{leader, (leader + 1) % 5}
	var majority []int
	for i := range 5 {
		if !slices.Contains(minority, i) {
			majority = append(majority, i)
		}
	}
	minIDs := []string{c.Node(minority[0]).ID(), c.Node(minority[1]).ID()}

	// Before: images with data, some held on the minority side (readable
	// there during the partition), one to delete during it, one queued.
	type stored struct {
		img  *images.Image
		data []byte
	}
	var readable, unreadable []stored
	for k := 0; len(readable) < 2 && k < 20; k++ {
		data := randomBytes(uint64(300+k), 600<<10+k)
		img := createAndUpload(t, glance(c.URL(majority[0]), ""), fmt.Sprintf("pre-%d", k), data)
		if slices.ContainsFunc(placementOf(t, c, majority[0], img.ID), func(id string) bool { return slices.Contains(minIDs, id) }) {
			readable = append(readable, stored{img, data})
		} else {
			unreadable = append(unreadable, stored{img, data})
		}
	}
	if len(readable) < 2 {
		t.Fatal("no image placed on the minority side in 20 uploads")
	}
	api := func(i int) apiClient { return apiClient{base: c.URL(i)} }
	doomed := api(majority[0]).create(t, `{"name": "doomed"}`)["id"].(string)
	queued := api(majority[0]).create(t, `{"name": "never-uploaded", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	// An upload through the minority is under way when the partition
	// comes.
	cutOff := api(majority[0]).create(t, `{"name": "cut-off", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	gate := make(chan struct{})
	upAcked := make(chan bool, 1)
	go func() {
		data := randomBytes(330, 800<<10)
		upAcked <- putData(c.URL(minority[1]), cutOff, &gatedReader{data: data, half: len(data) / 2, gate: gate}, len(data))
	}()
	c.Eventually(20*time.Second, "the upload is saving", func() bool { return imageStatus(c, majority[0], cutOff) == "saving" })
	waitSameCatalog(t, c, []int{0, 1, 2, 3, 4})

	c.Partition(minority, majority)
	close(gate)
	for _, i := range minority {
		c.Eventually(20*time.Second, fmt.Sprintf("minority node %d sees only its side", i), func() bool { return c.Node(i).AliveMembers() == 2 })
	}
	for _, i := range majority {
		c.Eventually(20*time.Second, fmt.Sprintf("majority node %d sees only its side", i), func() bool { return c.Node(i).AliveMembers() == 3 })
	}
	c.Eventually(20*time.Second, "the majority elects a leader", func() bool {
		return slices.ContainsFunc(majority, func(i int) bool { return c.Node(i).IsLeader() })
	})

	// The minority refuses writes (all at once: each waits out the write
	// timeout) with Glance's 503, and never hangs.
	refusedID := uuid.NewString()
	minWrites := []struct {
		node         int
		method, path string
		body         string
		hdr          []string
	}{
		{minority[0], http.MethodPost, "/v2/images", `{"id": "` + refusedID + `", "name": "refused"}`, []string{"Content-Type", "application/json"}},
		{minority[1], http.MethodPost, "/v2/images", `{"name": "refused-too"}`, []string{"Content-Type", "application/json"}},
		{minority[1], http.MethodPatch, "/v2/images/" + readable[0].img.ID, `[{"op": "add", "path": "/minority", "value": "x"}]`, []string{"Content-Type", patchV21Type}},
		{minority[0], http.MethodDelete, "/v2/images/" + readable[1].img.ID, "", nil},
		{minority[0], http.MethodPut, "/v2/images/" + queued + "/file", string(randomBytes(310, 300<<10)), []string{"Content-Type", octetStream}},
	}
	var wg sync.WaitGroup
	resps := make([]*apiResp, len(minWrites))
	took := make([]time.Duration, len(minWrites))
	for k, w := range minWrites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			var body any
			if w.body != "" {
				body = w.body
			}
			resps[k] = api(w.node).do(t, w.method, w.path, body, w.hdr...)
			took[k] = time.Since(start)
		}()
	}

	// Meanwhile the majority takes writes.
	var acked []string
	for k := range 5 {
		acked = append(acked, api(majority[k%3]).create(t, fmt.Sprintf(`{"name": "maj-%d"}`, k))["id"].(string))
	}
	api(majority[1]).do(t, http.MethodDelete, "/v2/images/"+doomed, nil).want(t, http.StatusNoContent)
	api(majority[2]).patch(t, readable[0].img.ID, `[{"op": "add", "path": "/during", "value": "partition"}]`).want(t, http.StatusOK)
	majData := randomBytes(320, 900<<10)
	majImg := createAndUpload(t, glance(c.URL(majority[2]), ""), "maj-data", majData)

	// The minority still serves reads, and the data of images it holds.
	for _, i := range minority {
		names := api(i).listNames(t, "limit=100")
		if !slices.Contains(names, "pre-0") || !slices.Contains(names, "never-uploaded") {
			t.Fatalf("minority node %d lists %v", i, names)
		}
		for _, s := range readable {
			checkImageData(t, s.img, s.data, download(t, glance(c.URL(i), ""), s.img.ID))
		}
		for _, s := range unreadable {
			// No copy on this side: refused cleanly, not hung.
			api(i).do(t, http.MethodGet, "/v2/images/"+s.img.ID+"/file", nil, "Accept", "").want(t, http.StatusServiceUnavailable)
		}
	}
	wg.Wait()
	if <-upAcked {
		t.Fatal("an upload through the minority was acknowledged")
	}
	for k, r := range resps {
		r.wantErr(t, http.StatusServiceUnavailable, "No quorum")
		t.Logf("minority %s %s: 503 after %s", minWrites[k].method, minWrites[k].path, took[k].Round(time.Millisecond))
	}

	c.Heal()
	c.WaitMembers(5)
	c.Eventually(30*time.Second, "the cut-off upload is requeued", func() bool { return imageStatus(c, majority[0], cutOff) == "queued" })
	waitSameCatalog(t, c, []int{0, 1, 2, 3, 4})
	for i := range 5 {
		for k, id := range acked {
			img, err := c.Node(i).Image(context.Background(), id)
			if err != nil || img.Name == nil || *img.Name != fmt.Sprintf("maj-%d", k) {
				t.Fatalf("node %d: acknowledged create %s: %+v %v", i, id, img, err)
			}
		}
		if img, err := c.Node(i).Image(context.Background(), readable[0].img.ID); err != nil || img.Properties["during"] != "partition" || img.Properties["minority"] != "" {
			t.Fatalf("node %d: image patched during the partition: %+v %v", i, img, err)
		}
		for _, id := range []string{doomed, refusedID} {
			if st := imageStatus(c, i, id); st != "" {
				t.Fatalf("node %d: image %s (deleted, or refused) is back as %s", i, id, st)
			}
		}
		if st := imageStatus(c, i, readable[1].img.ID); st != "active" {
			t.Fatalf("node %d: image whose delete was refused is %q", i, st)
		}
		if st := imageStatus(c, i, queued); st != "queued" {
			t.Fatalf("node %d: image whose upload was refused is %q", i, st)
		}
		imgs, _ := c.Node(i).ListImages(context.Background(), catalog.ListQuery{})
		seen := map[string]int{}
		for _, img := range imgs {
			if img.Name != nil {
				seen[*img.Name]++
			}
		}
		for name, n := range seen {
			if n > 1 || strings.HasPrefix(name, "refused") {
				t.Fatalf("node %d: %d images named %q", i, n, name)
			}
		}
		checkImageData(t, majImg, majData, download(t, glance(c.URL(i), ""), majImg.ID))
		for _, s := range append(readable, unreadable...) {
			checkImageData(t, s.img, s.data, download(t, glance(c.URL(i), ""), s.img.ID))
		}
	}
	// The old minority takes writes again.
	api(minority[1]).create(t, `{"name": "after-heal"}`)
}

// gatedReader returns the first half of data, then waits for gate to
// close before returning the rest.
type gatedReader struct {
	data []byte
	half int
	gate <-chan struct{}
	pos  int
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.pos == r.half {
		<-r.gate
	}
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if r.pos < r.half {
		end = r.half
	}
	k := copy(p, r.data[r.pos:end])
	r.pos += k
	return k, nil
}

// putData uploads data as image id's file through node url and reports
// whether the upload was acknowledged (204).
func putData(url, id string, body io.Reader, size int) bool {
	req, err := http.NewRequest(http.MethodPut, url+"/v2/images/"+id+"/file", body)
	if err != nil {
		return false
	}
	req.ContentLength = int64(size)
	req.Header.Set("Content-Type", octetStream)
	resp, err := testcluster.Client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusNoContent
}

// sendJSON sends a JSON (or JSON-patch) request and returns the status (0
// when the request failed) and decoded body.
func sendJSON(method, url, body, contentType string) (int, map[string]any) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := testcluster.Client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestLeaderKilledDuringWrites: the leader vanishes from the network (and
// then stops) while 20 uploads and 50 metadata writes are in flight
// through clients of every node. Every write acknowledged to a client is
// there afterwards on every survivor; every image that is active
// downloads byte-exact from every survivor; every upload that was not
// acknowledged ends queued, never active with part of its data.
func TestLeaderKilledDuringWrites(t *testing.T) {
	c := testcluster.New(t, 4, testcluster.InMemory(), testcluster.WithReplicas(2),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 256 << 10
			cfg.UploadGrace = time.Second
		}))
	leader := c.WaitForLeader()
	var survivors []int
	for i := range 4 {
		if i != leader {
			survivors = append(survivors, i)
		}
	}
	const nUploads, nCreates, nPatches = 20, 25, 25
	upIDs := make([]string, nUploads)
	patchIDs := make([]string, nPatches)
	for k := range nUploads {
		upIDs[k] = apiClient{base: c.URL(k % 4)}.create(t, fmt.Sprintf(`{"name": "up-%d", "disk_format": "raw", "container_format": "bare"}`, k))["id"].(string)
	}
	for k := range nPatches {
		patchIDs[k] = apiClient{base: c.URL(k % 4)}.create(t, fmt.Sprintf(`{"name": "patch-%d"}`, k))["id"].(string)
	}
	waitSameCatalog(t, c, []int{0, 1, 2, 3})

	gate := make(chan struct{})
	var wg sync.WaitGroup
	datas := make([][]byte, nUploads)
	upAcked := make([]bool, nUploads)
	for k := range nUploads {
		datas[k] = randomBytes(uint64(400+k), 700<<10+k*997)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := &gatedReader{data: datas[k], half: len(datas[k]) / 2, gate: gate}
			upAcked[k] = putData(c.URL(k%4), upIDs[k], body, len(datas[k]))
		}()
	}
	createAcked := make([]string, nCreates) // id of each acknowledged create
	patchAcked := make([]bool, nPatches)
	create := func(k int) {
		defer wg.Done()
		code, m := sendJSON(http.MethodPost, c.URL(k%4)+"/v2/images", fmt.Sprintf(`{"name": "meta-%d", "k": "%d"}`, k, k), "application/json")
		if code == http.StatusCreated {
			createAcked[k], _ = m["id"].(string)
		}
	}
	patch := func(k int) {
		defer wg.Done()
		code, _ := sendJSON(http.MethodPatch, c.URL(k%4)+"/v2/images/"+patchIDs[k], fmt.Sprintf(`[{"op": "add", "path": "/p_%d", "value": "v"}]`, k), patchV21Type)
		patchAcked[k] = code == http.StatusOK
	}
	c.Eventually(30*time.Second, "every upload is under way", func() bool {
		for _, id := range upIDs {
			if imageStatus(c, survivors[0], id) != "saving" {
				return false
			}
		}
		return true
	})
	c.Partition([]int{leader}) // gone from the network at once, as if it crashed
	close(gate)
	for k := range max(nCreates, nPatches) {
		if k < nCreates {
			wg.Add(1)
			go create(k)
		}
		if k < nPatches {
			wg.Add(1)
			go patch(k)
		}
	}
	c.Stop(leader)
	wg.Wait()

	c.WaitForLeader()
	c.Eventually(30*time.Second, "no upload is left saving", func() bool {
		for _, id := range upIDs {
			if imageStatus(c, survivors[0], id) == "saving" {
				return false
			}
		}
		return true
	})
	waitSameCatalog(t, c, survivors)
	var nActive, nQueued, nCreated, nPatched int
	for _, i := range survivors {
		for k, id := range upIDs {
			img, err := c.Node(i).Image(context.Background(), id)
			if err != nil {
				t.Fatalf("node %d lost image %s: %v", i, id, err)
			}
			switch {
			case img.Status == "active":
				got, err := images.Get(context.Background(), glance(c.URL(i), ""), id).Extract()
				if err != nil {
					t.Fatal(err)
				}
				checkImageData(t, got, datas[k], download(t, glance(c.URL(i), ""), id))
				if !upAcked[k] {
					t.Fatalf("upload %d was not acknowledged but its image is active", k)
				}
				nActive++
			case upAcked[k]:
				t.Fatalf("node %d: acknowledged upload %d is %s", i, k, img.Status)
			case img.Status != "queued":
				t.Fatalf("node %d: unacknowledged upload %d ended %s", i, k, img.Status)
			default:
				nQueued++
			}
		}
		for k, id := range createAcked {
			if id == "" {
				continue
			}
			img, err := c.Node(i).Image(context.Background(), id)
			if err != nil || img.Properties["k"] != fmt.Sprint(k) {
				t.Fatalf("node %d: acknowledged create %d: %+v %v", i, k, img, err)
			}
			nCreated++
		}
		for k, ok := range patchAcked {
			if !ok {
				continue
			}
			if img, err := c.Node(i).Image(context.Background(), patchIDs[k]); err != nil || img.Properties[fmt.Sprintf("p_%d", k)] != "v" {
				t.Fatalf("node %d: acknowledged patch %d lost: %+v %v", i, k, img, err)
			}
			nPatched++
		}
	}
	n := len(survivors)
	t.Logf("killed leader node %d: %d/%d uploads acknowledged (active), %d queued; %d/%d creates and %d/%d patches acknowledged",
		leader, nActive/n, nUploads, nQueued/n, nCreated/n, nCreates, nPatched/n, nPatches)
}

// copyDir copies the files under src to dst while their owner may be
// writing them, in the order a crash preserves for Badger: Badger appends
// a value to a value log (.vlog) before the log entry pointing at it, so
// everything else is copied first and the value logs, listed afresh,
// last; every pointer copied then finds its value. Files that vanish
// during the copy are skipped. It returns the bytes copied.
func copyDir(t *testing.T, src, dst string) int64 {
	t.Helper()
	var total int64
	pass := func(vlogs bool) {
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			target := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o750)
			}
			if !d.Type().IsRegular() || strings.HasSuffix(path, ".vlog") != vlogs {
				return nil
			}
			in, err := os.Open(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			n, err := copySparse(out, in)
			total += n
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			return err
		})
		if err != nil {
			t.Fatalf("copy %s: %v", src, err)
		}
	}
	pass(false)
	pass(true)
	return total
}

// copySparse copies in to out leaving holes where in has zero blocks
// (Badger preallocates its logs) and returns the bytes written.
func copySparse(out *os.File, in io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var size, written int64
	for {
		k, err := io.ReadFull(in, buf)
		if k > 0 {
			if slices.ContainsFunc(buf[:k], func(b byte) bool { return b != 0 }) {
				if _, werr := out.WriteAt(buf[:k], size); werr != nil {
					return written, werr
				}
				written += int64(k)
			}
			size += int64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return written, out.Truncate(size)
		}
		if err != nil {
			return written, err
		}
	}
}

// uploadLoop creates and uploads images through url until stop closes,
// recording each acknowledged one.
type uploadLoop struct {
	mu    sync.Mutex
	acked map[string][]byte // image id -> data
}

func (u *uploadLoop) run(url string, seed uint64, stop <-chan struct{}) {
	for k := uint64(0); ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		code, m := sendJSON(http.MethodPost, url+"/v2/images", `{"name": "during", "disk_format": "raw", "container_format": "bare"}`, "application/json")
		id, _ := m["id"].(string)
		if code != http.StatusCreated || id == "" {
			continue
		}
		data := randomBytes(seed+k, 300<<10+int(k))
		if putData(url, id, bytes.NewReader(data), len(data)) {
			u.mu.Lock()
			u.acked[id] = data
			u.mu.Unlock()
		}
	}
}

func (u *uploadLoop) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.acked)
}

// TestNodeRestoredFromOlderDisk: a node's data directory is copied while
// uploads go on; later the node stops, the cluster writes on (and deletes
// an image the copy still holds), and the node restarts from the copy,
// as if its disk had lost the last seconds of writes. Badger opens the
// copy; the node catches up from Raft to the same catalog, fetches from
// its peers every chunk it is a durable holder of, and neither
// resurrects the deleted image nor loses an acknowledged one.
func TestNodeRestoredFromOlderDisk(t *testing.T) {
	c := testcluster.New(t, 3, smallChunks()) // R = 3: every node a durable holder
	leader := c.WaitForLeader()
	victim, writer := (leader+1)%3, (leader+2)%3
	oldData := randomBytes(500, 700<<10)
	old := createAndUpload(t, glance(c.URL(writer), ""), "old", oldData)

	loop := &uploadLoop{acked: map[string][]byte{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); loop.run(c.URL(writer), 510, stop) }()
	c.Eventually(30*time.Second, "uploads go on", func() bool { return loop.count() >= 2 })
	backup := filepath.Join(t.TempDir(), "backup")
	copied := copyDir(t, c.DataDir(victim), backup)
	atCopy := loop.count()
	c.Eventually(30*time.Second, "more uploads after the copy", func() bool { return loop.count() >= atCopy+3 })
	close(stop)
	<-done
	c.Stop(victim)

	// The cluster goes on without the node.
	laterData := randomBytes(520, 500<<10)
	later := createAndUpload(t, glance(c.URL(writer), ""), "later", laterData)
	if err := images.Delete(context.Background(), glance(c.URL(leader), ""), old.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Its disk loses the last seconds of writes.
	if err := os.RemoveAll(c.DataDir(victim)); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, c.DataDir(victim))
	c.Restart(victim)
	c.WaitMembers(3)
	waitSameCatalog(t, c, []int{0, 1, 2})
	if st := imageStatus(c, victim, old.ID); st != "" {
		t.Fatalf("image deleted while the node was down is back as %s", st)
	}
	if st := imageStatus(c, victim, later.ID); st != "active" {
		t.Fatalf("image uploaded while the node was down is %q", st)
	}
	for id := range loop.acked {
		if st := imageStatus(c, victim, id); st != "active" {
			t.Fatalf("acknowledged upload %s is %q on the restored node", id, st)
		}
	}

	// It fetches back every chunk it is a durable holder of.
	vid := c.Node(victim).ID()
	var mine []string
	want := int64(0)
	seen := map[string]bool{}
	imgs, _ := c.Node(victim).ListImages(context.Background(), catalog.ListQuery{})
	for _, img := range imgs {
		if img.Manifest == nil || !slices.Contains(img.Placement, vid) {
			continue
		}
		mine = append(mine, img.ID)
		for _, ch := range img.Manifest.Chunks {
			if !seen[ch.Digest] {
				seen[ch.Digest] = true
				want += ch.Size
			}
		}
	}
	c.Eventually(30*time.Second, "the restored node holds all its durable chunks", func() bool {
		info, err := c.Node(victim).Cluster(context.Background(), true)
		if err != nil {
			return false
		}
		for _, n := range info.Nodes {
			if n.ID == vid {
				return n.PinnedBytes == want
			}
		}
		return false
	})
	if c.Node(victim).Metrics().Healed == 0 {
		t.Fatal("the restored node fetched no chunk back")
	}
	// Cut off from the others, it serves them from its own disk.
	c.Partition([]int{victim})
	all := map[string][]byte{later.ID: laterData}
	maps.Copy(all, loop.acked)
	for _, id := range mine {
		img, err := images.Get(context.Background(), glance(c.URL(victim), ""), id).Extract()
		if err != nil {
			t.Fatal(err)
		}
		checkImageData(t, img, all[id], download(t, glance(c.URL(victim), ""), id))
	}
	t.Logf("copied %d MiB of data while %d uploads were acknowledged; %d after; node restored %d chunks of %d images",
		copied>>20, atCopy, len(loop.acked)-atCopy, c.Node(victim).Metrics().Healed, len(mine))
}
