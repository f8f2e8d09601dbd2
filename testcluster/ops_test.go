package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// holds reports whether node i holds every chunk of image id.
func holds(t *testing.T, c *testcluster.Cluster, i int, id string) bool {
	t.Helper()
	ok, err := c.Node(i).HoldsImage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// scrape reads and parses GET /metrics of the node at base.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue sums the samples of family name whose labels include want
// (name=value pairs); found is false when no sample matched.
func metricValue(fams map[string]*dto.MetricFamily, name string, want ...string) (sum float64, found bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

func mustMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, labels...)
	if !ok {
		t.Fatalf("metric %s%v missing", name, labels)
	}
	return v
}

// TestMetricsEndpoint: every node's /metrics parses with Prometheus' text
// parser and tells what happened: API requests by route and code, bytes a
// download read by source (peers in the same rack, the same zone, another
// zone), forwarded writes on both ends, the Raft role and gossip members.
func TestMetricsEndpoint(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithReplicas(1), testcluster.WithZones("z1", "z1", "z2"), testcluster.WithRacks("r1", "r2", "r3"), smallChunks())
	leader := c.WaitForLeader()
	writer := (leader + 1) % 3
	data := randomBytes(41, 1<<20+3)
	img := createAndUpload(t, glance(c.URL(writer), "p1"), "metered", data)

	// A download on every node that holds no copy reads every byte from
	// peers, by where they are.
	var reader = -1
	for i := range 3 {
		if !holds(t, c, i, img.ID) {
			reader = i
			break
		}
	}
	if reader < 0 {
		t.Fatal("every node holds the image with one replica")
	}
	checkImageData(t, img, data, download(t, glance(c.URL(reader), "p1"), img.ID))

	fams := scrape(t, c.URL(reader))
	if v := mustMetric(t, fams, "p2pglance_api_requests_total", "route", "/v2/images/{id}/file", "method", "GET", "code", "200"); v != 1 {
		t.Errorf("downloads counted on node %d: %v, want 1", reader, v)
	}
	if v := mustMetric(t, fams, "p2pglance_api_request_duration_seconds", "route", "/v2/images/{id}/file", "method", "GET"); v != 1 {
		t.Errorf("download latencies observed: %v, want 1", v)
	}
	if v := mustMetric(t, fams, "p2pglance_api_response_bytes_total", "route", "/v2/images/{id}/file"); v != float64(len(data)) {
		t.Errorf("download bytes answered: %v, want %d", v, len(data))
	}
	var fromPeers float64
	for _, src := range []string{"peer_rack", "peer_zone", "peer_other"} {
		fromPeers += mustMetric(t, fams, "p2pglance_chunk_read_bytes_total", "source", src)
	}
	if fromPeers != float64(len(data)) {
		t.Errorf("bytes read from peers on node %d: %v, want %d", reader, fromPeers, len(data))
	}
	holder := -1
	for i := range 3 {
		if i != reader && holds(t, c, i, img.ID) {
			holder = i
		}
	}
	src := "peer_other"
	if holder >= 0 && (holder == 2) == (reader == 2) { // z1 holds nodes 0 and 1, each in its own rack
		src = "peer_zone"
	}
	if v := mustMetric(t, fams, "p2pglance_chunk_read_bytes_total", "source", src); v != float64(len(data)) {
		t.Errorf("node %d read %v bytes from a %s (holder %d), want %d", reader, v, src, holder, len(data))
	}
	if v := mustMetric(t, fams, "p2pglance_cache_misses_total"); v < 5 {
		t.Errorf("cache misses %v, want one per chunk (5)", v)
	}
	if v := mustMetric(t, fams, "p2pglance_gossip_members", "state", "alive"); v != 3 {
		t.Errorf("alive members %v, want 3", v)
	}
	if v := mustMetric(t, fams, "p2pglance_raft_role", "role", "voter"); v != 1 && reader != leader {
		t.Errorf("node %d role voter = %v", reader, v)
	}

	// The writer forwarded its writes to the leader, which counted them.
	if v := mustMetric(t, scrape(t, c.URL(writer)), "p2pglance_raft_forwarded_writes_sent_total"); v < 1 {
		t.Errorf("writes forwarded by node %d: %v", writer, v)
	}
	lf := scrape(t, c.URL(leader))
	if v := mustMetric(t, lf, "p2pglance_raft_forwarded_writes_received_total"); v < 1 {
		t.Errorf("writes received by the leader: %v", v)
	}
	if v := mustMetric(t, lf, "p2pglance_raft_role", "role", "leader"); v != 1 {
		t.Errorf("leader's role gauge: %v", v)
	}
	if v := mustMetric(t, lf, "p2pglance_raft_term"); v < 1 {
		t.Errorf("term %v", v)
	}
	if v := mustMetric(t, lf, "p2pglance_catalog_write_duration_seconds", "kind", "forwarded"); v < 1 {
		t.Errorf("forwarded writes timed on the leader: %v", v)
	}
	if v := mustMetric(t, scrape(t, c.URL(writer)), "p2pglance_catalog_write_duration_seconds", "kind", "write"); v < 1 {
		t.Errorf("writes timed on node %d: %v", writer, v)
	}
	if _, ok := lf["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := lf["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}
}

// TestMetricsAddr: --metrics-addr moves /metrics off the API port.
func TestMetricsAddr(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithConfig(func(_ int, cfg *node.Config) { cfg.MetricsAddr = "127.0.0.1:0" }))
	n := c.Node(0)
	if n.MetricsAddr() == n.APIAddr() {
		t.Fatal("metrics on the API address")
	}
	if fams := scrape(t, "http://"+n.MetricsAddr()); fams["p2pglance_ready"] == nil {
		t.Fatal("no p2pglance_ready on the metrics listener")
	}
	resp, err := http.Get(c.URL(0) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the API port still serves /metrics")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthcheckAndReady: /healthcheck answers as Glance's does (200 OK;
// 503 DISABLED BY FILE; 503 when the data directory takes no write), and
// /p2p/v1/ready follows whether a node is in touch with the voters.
func TestHealthcheckAndReady(t *testing.T) {
	dir := t.TempDir()
	disable := filepath.Join(dir, "drain")
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		if i == 1 {
			cfg.HealthcheckDisableFile = disable
		}
	}))
	for i := range 3 {
		if code, body := get(t, c.URL(i)+"/healthcheck"); code != 200 || body != "OK" {
			t.Fatalf("node %d healthcheck: %d %q", i, code, body)
		}
		c.Eventually(20*time.Second, "every node ready", func() bool { code, _ := get(t, c.URL(i)+"/p2p/v1/ready"); return code == 200 })
	}
	var rd struct {
		Ready  bool   `json:"ready"`
		Role   string `json:"role"`
		Reason string `json:"reason"`
		Lag    uint64 `json:"lag"`
	}
	_, body := get(t, c.URL(0)+"/p2p/v1/ready")
	if err := json.Unmarshal([]byte(body), &rd); err != nil || !rd.Ready || rd.Role == "" {
		t.Fatalf("ready answer %s (%v)", body, err)
	}

	// Draining by file, as oslo.middleware's disable_by_file_path.
	if err := os.WriteFile(disable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, c.URL(1)+"/healthcheck"); code != 503 || body != "DISABLED BY FILE" {
		t.Fatalf("disabled healthcheck: %d %q", code, body)
	}
	os.Remove(disable)
	if code, _ := get(t, c.URL(1)+"/healthcheck"); code != 200 {
		t.Fatalf("healthcheck after the file went: %d", code)
	}

	// A data directory that takes no write (its probe file's name taken
	// by a directory: root ignores permissions).
	probe := filepath.Join(c.DataDir(2), ".healthcheck")
	if err := os.MkdirAll(filepath.Join(probe, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, "node 2 unhealthy", func() bool {
		code, body := get(t, c.URL(2)+"/healthcheck")
		return code == 503 && strings.Contains(body, "data directory not writable")
	})
	if err := os.RemoveAll(probe); err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, "node 2 healthy again", func() bool { code, _ := get(t, c.URL(2)+"/healthcheck"); return code == 200 })

	// A node cut off from the others stops being ready, and is ready
	// again once healed.
	leader := c.WaitForLeader()
	cut := (leader + 1) % 3
	c.Partition([]int{leader, (leader + 2) % 3}, []int{cut})
	c.Eventually(30*time.Second, "the cut-off node is not ready", func() bool {
		code, body := get(t, c.URL(cut)+"/p2p/v1/ready")
		return code == 503 && strings.Contains(body, `"ready":false`)
	})
	if code, _ := get(t, c.URL(cut)+"/healthcheck"); code != 200 {
		t.Errorf("the cut-off node still holds a catalog and can serve reads: healthcheck %d", code)
	}
	c.Heal()
	c.Eventually(30*time.Second, "ready after the heal", func() bool { code, _ := get(t, c.URL(cut)+"/p2p/v1/ready"); return code == 200 })
}

// logBuffer collects JSON log records from several nodes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the records whose request_id is id.
func (b *logBuffer) records(id string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["request_id"] == id {
			out = append(out, rec)
		}
	}
	return out
}

// TestRequestIDAcrossNodes: a client's X-OpenStack-Request-ID is in the
// log lines of every node its request reached: the API request, the write
// it forwarded to the leader, the chunks it fetched from a peer.
func TestRequestIDAcrossNodes(t *testing.T) {
	logs := &logBuffer{}
	c := testcluster.New(t, 3, testcluster.WithReplicas(1), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", i)
	}))
	leader := c.WaitForLeader()
	writer := (leader + 1) % 3
	api := newAPIClient(c)
	api.base = c.URL(writer)
	const id = "req-4a4b6a04-8f5b-4b0e-9a55-2fd9a1d5e0c1"
	r := api.do(t, "POST", "/v2/images", `{"name": "traced", "disk_format": "raw", "container_format": "bare"}`, "X-Openstack-Request-Id", id).want(t, 201)
	if got := r.header.Get("X-Openstack-Request-Id"); got != id {
		t.Fatalf("answer's request id %q", got)
	}
	nodes := map[float64][]string{}
	for _, rec := range logs.records(id) {
		nodes[rec["test_node"].(float64)] = append(nodes[rec["test_node"].(float64)], rec["msg"].(string))
	}
	if !strings.Contains(strings.Join(nodes[float64(writer)], ","), "request") {
		t.Errorf("no request line with the id on node %d: %v", writer, nodes)
	}
	if !strings.Contains(strings.Join(nodes[float64(leader)], ","), "peer request") {
		t.Errorf("no forwarded write with the id on the leader %d: %v", leader, nodes)
	}

	// A download through a node without a copy: the holder's chunk
	// requests carry the id of the download.
	imgID := r.obj(t)["id"].(string)
	data := randomBytes(7, 100<<10)
	api.upload(t, imgID, data).want(t, 204)
	reader := -1
	for i := range 3 {
		if !holds(t, c, i, imgID) {
			reader = i
		}
	}
	if reader < 0 {
		t.Fatal("every node holds the image with one replica")
	}
	const dl = "req-download-trace"
	api.base = c.URL(reader)
	api.do(t, "GET", "/v2/images/"+imgID+"/file", nil, "X-Openstack-Request-Id", dl).want(t, 200)
	var holders []float64
	for _, rec := range logs.records(dl) {
		if rec["msg"] == "peer request" && strings.Contains(rec["path"].(string), "/chunks/") {
			holders = append(holders, rec["test_node"].(float64))
		}
	}
	if len(holders) == 0 {
		t.Fatalf("no chunk request logged with the download's id %q", dl)
	}
	for _, h := range holders {
		if int(h) == reader {
			t.Fatalf("node %d logged a peer request from itself", reader)
		}
	}
}

// TestRepairsAndHolders: an image whose durable holder is gone is listed
// by /p2p/v1/repairs with the holder lost, and its holders show the gone
// node; both are for admins only.
func TestRepairsAndHolders(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithReplicas(2), smallChunks(), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.RepairGrace = time.Hour // keep the image listed: no repair during the test
	}))
	leader := c.WaitForLeader()
	data := randomBytes(5, 600<<10)
	img := createAndUpload(t, glance(c.URL(leader), "p1"), "to-repair", data)
	var holders struct {
		Durable []struct {
			ID       string
			Alive    bool
			Complete bool
		}
	}
	// Complete once both holders have told the image's trackers.
	c.Eventually(10*time.Second, "both durable holders complete", func() bool {
		getJSON(t, c.URL(leader)+"/p2p/v1/images/"+img.ID+"/holders", &holders)
		return len(holders.Durable) == 2 && holders.Durable[0].Complete && holders.Durable[1].Complete
	})
	var repairs struct {
		Repairs []struct {
			ImageID string `json:"image_id"`
			Holders []string
			Lost    []string
		}
	}
	getJSON(t, c.URL(leader)+"/p2p/v1/repairs", &repairs)
	if len(repairs.Repairs) != 0 {
		t.Fatalf("repairs before any loss: %+v", repairs)
	}
	gone := -1
	for i := range 3 {
		if i != leader && (c.Node(i).ID() == holders.Durable[0].ID || c.Node(i).ID() == holders.Durable[1].ID) {
			gone = i
		}
	}
	if gone < 0 {
		t.Fatal("no durable holder besides the leader")
	}
	goneID := c.Node(gone).ID()
	c.Stop(gone)
	c.Eventually(30*time.Second, "the image is listed for repair", func() bool {
		getJSON(t, c.URL(leader)+"/p2p/v1/repairs", &repairs)
		return len(repairs.Repairs) == 1 && repairs.Repairs[0].ImageID == img.ID && slices.Equal(repairs.Repairs[0].Lost, []string{goneID})
	})
	getJSON(t, c.URL(leader)+"/p2p/v1/images/"+img.ID+"/holders", &holders)
	for _, h := range holders.Durable {
		if h.ID == goneID && h.Alive {
			t.Fatalf("the stopped holder is shown alive: %+v", holders)
		}
	}
	api := newAPIClient(c).as("p1")
	api.base = c.URL(leader)
	api.do(t, "GET", "/p2p/v1/repairs", nil).want(t, 403)
	api.do(t, "GET", "/p2p/v1/images/"+img.ID+"/holders", nil).want(t, 403)
}
