package testcluster_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// TestBusyHoldersAreSkipped: holders with one upload slot refuse extra
// requests at once; downloaders go elsewhere or come back, and every
// download is still byte-exact.
func TestBusyHoldersAreSkipped(t *testing.T) {
	c := testcluster.New(t, 5, testcluster.WithReplicas(2), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.UploadSlots = 1
		// 1 MiB/s (burst 1 MiB): each 256 KiB transfer then lasts long
		// enough for the others in flight to find the slot taken.
		cfg.UploadBandwidth = 1 << 20
		cfg.FetchWindow = 8
		// Downloaders keep nothing, so the two holders stay the only
		// sources and eight fetches in flight must collide on them.
		cfg.NoCache = true
	}))
	data := randomBytes(90, 2<<20)
	img := createAndUpload(t, glance(c.URL(0), ""), "busy", data)
	pl := placementOf(t, c, 0, img.ID)
	var wg sync.WaitGroup
	for i := range 5 {
		if slices.Contains(pl, c.Node(i).ID()) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkImageData(t, img, data, download(t, glance(c.URL(i), ""), img.ID))
		}()
	}
	wg.Wait()
	var refused, skipped int64
	for i := range 5 {
		m := c.Node(i).Metrics()
		refused += m.BusyRefusals
		skipped += m.BusySkips
	}
	if refused == 0 || skipped == 0 {
		t.Fatalf("no holder ever answered busy (refused %d, skipped %d)", refused, skipped)
	}
	t.Logf("busy refusals %d, skips %d", refused, skipped)
}

// stallingTransport makes chunk transfers from one peer hang after the
// headers.
type stallingTransport struct {
	mu    sync.Mutex
	peer  string
	hangs int
}

func (s *stallingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	s.mu.Lock()
	hit := err == nil && r.URL.Host == s.peer && strings.Contains(r.URL.Path, "/chunks/") && r.Method == http.MethodGet
	if hit {
		s.hangs++
	}
	s.mu.Unlock()
	if !hit {
		return resp, err
	}
	resp.Body.Close()
	resp.Body = hangingBody{r}
	return resp, nil
}

// hangingBody blocks until the request is cancelled.
type hangingBody struct{ r *http.Request }

func (h hangingBody) Read([]byte) (int, error) {
	<-h.r.Context().Done()
	return 0, h.r.Context().Err()
}

func (h hangingBody) Close() error { return nil }

// TestStalledPeerIsAbandoned: a holder that stops sending mid-transfer is
// dropped for another, and the download completes.
func TestStalledPeerIsAbandoned(t *testing.T) {
	st := &stallingTransport{}
	c := testcluster.New(t, 3, testcluster.WithReplicas(2), testcluster.WithPeerTransport(2, st), testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.ChunkSize = 256 << 10
		cfg.StallTimeout = 300 * time.Millisecond
	}))
	var img *images.Image
	var data []byte
	for k := range 10 {
		data = randomBytes(uint64(100+k), 2<<20)
		img = createAndUpload(t, glance(c.URL(0), ""), "stall", data)
		if !slices.Contains(placementOf(t, c, 0, img.ID), c.Node(2).ID()) {
			break
		}
	}
	pl := placementOf(t, c, 0, img.ID)
	for i := range 2 {
		if c.Node(i).ID() == pl[1] {
			st.mu.Lock()
			st.peer = c.Member(i).Config.PeerAddr
			st.mu.Unlock()
		}
	}
	got := download(t, glance(c.URL(2), ""), img.ID)
	checkImageData(t, img, data, got)
	st.mu.Lock()
	hangs := st.hangs
	st.mu.Unlock()
	if hangs == 0 {
		t.Fatal("the stalling holder was never asked")
	}
	if m := c.Node(2).Metrics(); m.Stalls == 0 {
		t.Fatalf("stalls not counted (%d hangs)", hangs)
	}
}
