package testcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/testcluster"
)

// browser starts Debian's headless chromium for the test. Without it the
// test is skipped, unless P2PGLANCE_REQUIRE_BROWSER is set (CI sets it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("P2PGLANCE_REQUIRE_BROWSER") != "" {
			t.Fatal("no chromium, and P2PGLANCE_REQUIRE_BROWSER is set")
		}
		t.Skip("no chromium (Debian's chromium package); CI installs it")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("no-proxy-server", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, without a timeout
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// getJSON decodes the answer of GET url (noauth: an admin).
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestDashboard drives the embedded dashboard in a real browser against a
// 3-node cluster: the nodes it shows are the cluster's, with their roles
// and zones; a running prefetch's progress moves on the page until the
// job is done, as the API says; an image's holders are the API's.
func TestDashboard(t *testing.T) {
	ctx := browser(t)
	c := testcluster.New(t, 3, testcluster.WithReplicas(1), testcluster.WithZones("z0", "z1", "z1"), testcluster.WithRacks("r1", "r2", "r3"),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			cfg.ChunkSize = 128 << 10
			cfg.DownloadBandwidth = 256 << 10 // a prefetch of 2 MiB takes seconds: progress to watch
		}))
	c.WaitForLeader()
	data := randomBytes(11, 2<<20)
	img := createAndUpload(t, glance(c.URL(0), "p1"), "watched", data)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, js string) []string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return out
	}
	do("open the dashboard", chromedp.Navigate(c.URL(0)+"/p2p/ui"), chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="1"]`)))

	// The fleet: every node, with its role and zone, as the API lists it.
	var cluster struct {
		Nodes []struct {
			ID, Role, Zone string
		} `json:"nodes"`
	}
	getJSON(t, c.URL(0)+"/p2p/v1/cluster", &cluster)
	// Every node shows healthy once it has caught up since its start (a
	// node that has not yet is shown "warn").
	var shown []string
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		shown = eval("read the fleet", `[...document.querySelectorAll("[data-node-id]")].map(n =>
			n.dataset.nodeId + " " + n.dataset.role + " " + n.closest("[data-zone]").dataset.zone + " " + n.dataset.health)`)
		if len(shown) == 3 && !strings.Contains(strings.Join(shown, ","), " warn") {
			break
		}
	}
	var want []string
	for _, n := range cluster.Nodes {
		want = append(want, n.ID+" "+n.Role+" "+n.Zone+" ok")
	}
	slices.Sort(shown)
	slices.Sort(want)
	if !slices.Equal(shown, want) {
		t.Fatalf("the dashboard shows\n%v\nthe API lists\n%v", shown, want)
	}

	// A prefetch: its progress on the page moves, then shows it done.
	resp, err := http.Post(c.URL(0)+"/p2p/v1/prefetch", "application/json", strings.NewReader(fmt.Sprintf(`{"image_id": %q, "target": {"all": true}}`, img.ID)))
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start prefetch: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	var seen []string
	deadline := time.Now().Add(60 * time.Second)
	state := ""
	shotTaken := false
	for time.Now().Before(deadline) && state != "done" {
		row := eval("read the job", fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-job-id=%q]');
			return r ? [r.dataset.state, r.querySelector("[data-progress]").dataset.progress] : []; })()`, job.ID))
		if len(row) == 2 {
			state = row[0]
			if len(seen) == 0 || seen[len(seen)-1] != row[1] {
				seen = append(seen, row[1])
			}
			done, total, _ := strings.Cut(row[1], "/")
			d, _ := strconv.Atoi(done)
			n, _ := strconv.Atoi(total)
			if shot := os.Getenv("P2PGLANCE_UI_SCREENSHOT"); shot != "" && !shotTaken && state == "running" && 3*d >= n && d < n {
				screenshot(t, ctx, shot) // mid-prefetch: what the docs show
				shotTaken = true
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if state != "done" {
		t.Fatalf("the page never showed the job done (progress seen %v)", seen)
	}
	var partial int
	last := -1
	for _, p := range seen {
		done, total, _ := strings.Cut(p, "/")
		d, _ := strconv.Atoi(done)
		n, _ := strconv.Atoi(total)
		if d < last {
			t.Fatalf("progress went back: %v", seen)
		}
		last = d
		if n > 0 && d > 0 && d < n {
			partial++
		}
	}
	if partial < 2 {
		t.Fatalf("the page did not show the progress moving (seen %v)", seen)
	}
	var apiJob struct {
		State string
		Nodes []struct{ State string }
	}
	getJSON(t, c.URL(1)+"/p2p/v1/prefetch/"+job.ID, &apiJob)
	if apiJob.State != "done" || len(apiJob.Nodes) != 3 {
		t.Fatalf("the API's job: %+v", apiJob)
	}

	// An image's holders: click it; the page lists the API's.
	var holders struct {
		Durable, Cached []struct{ ID string }
	}
	getJSON(t, c.URL(0)+"/p2p/v1/images/"+img.ID+"/holders", &holders)
	do("show the image's holders",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-image-id=%q]`, img.ID))),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-holder]`)))
	rows := eval("read the holders", `[...document.querySelectorAll("tr[data-holder]")].map(r => r.dataset.holder + " " + r.dataset.copy)`)
	var wantRows []string
	for _, h := range holders.Durable {
		wantRows = append(wantRows, h.ID+" durable")
	}
	for _, h := range holders.Cached {
		wantRows = append(wantRows, h.ID+" cached")
	}
	if len(holders.Durable) != 1 || len(holders.Cached) != 2 || !slices.Equal(rows, wantRows) {
		t.Fatalf("holders on the page %v, from the API %v", rows, wantRows)
	}

}

// screenshot saves the page as a PNG (make ui-screenshot: docs/dashboard.png).
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
