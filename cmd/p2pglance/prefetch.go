package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// labelFlags collects repeated --label k=v flags.
type labelFlags map[string]string

func (l labelFlags) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labelFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q: want key=value", v)
	}
	l[k] = val
	return nil
}

// runPrefetch starts a pre-seeding job and follows it until every target
// node is done; it fails if any failed.
func runPrefetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prefetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	labels := labelFlags{}
	var target catalog.PrefetchTarget
	nodeURL := fs.String("node", envOr("P2PGLANCE_NODE", "http://127.0.0.1:9292"), "Glance endpoint of any node")
	fs.BoolVar(&target.All, "all", false, "every node of the fleet")
	fs.StringVar(&target.Zone, "zone", "", "nodes of this zone")
	fs.StringVar(&target.Rack, "rack", "", "nodes of this rack")
	fs.Var(labels, "label", "nodes with this label key=value (repeatable)")
	token := fs.String("token", os.Getenv("OS_AUTH_TOKEN"), "Keystone token (admin), for --auth keystone clusters")
	interval := fs.Duration("interval", time.Second, "how often to refresh progress")
	noWait := fs.Bool("no-wait", false, "start the job and print it, without following it")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: p2pglance prefetch IMAGE_ID (--all | [--zone Z] [--rack R] [--label k=v]...) [--node URL]\n\nPuts an image on every target node before it is needed; shows progress until done.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorderArgs(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("prefetch: exactly one IMAGE_ID is required")
	}
	if len(labels) > 0 {
		target.Labels = labels
	}
	if !target.All && target.Zone == "" && target.Rack == "" && len(labels) == 0 {
		return errors.New("prefetch: give --all, or --zone, --rack or --label")
	}
	c := &apiClient{base: strings.TrimRight(*nodeURL, "/"), token: *token}
	var job catalog.PrefetchJob
	if err := c.do(ctx, http.MethodPost, "/p2p/v1/prefetch", map[string]any{"image_id": fs.Arg(0), "target": target}, &job); err != nil {
		return fmt.Errorf("start prefetch: %w", err)
	}
	fmt.Fprintf(stdout, "prefetch job %s: image %s\n", job.ID, job.ImageID)
	if *noWait {
		return nil
	}
	f, isFile := stdout.(*os.File)
	tty := isFile && isTerminal(f)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		if err := c.do(ctx, http.MethodGet, "/p2p/v1/prefetch/"+job.ID, nil, &job); err != nil {
			return fmt.Errorf("follow prefetch %s: %w", job.ID, err)
		}
		printProgress(stdout, &job, tty)
		switch job.State {
		case catalog.PrefetchDone:
			fmt.Fprintf(stdout, "done: %d nodes hold image %s\n", len(job.Nodes), job.ImageID)
			return nil
		case catalog.PrefetchFailed, catalog.PrefetchCancelled:
			for _, n := range job.Nodes {
				if n.State == catalog.PrefetchFailed {
					fmt.Fprintf(stdout, "  %s failed: %s\n", n.ID, n.Error)
				}
			}
			return fmt.Errorf("prefetch job %s %s", job.ID, job.State)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prefetch job %s still running (stopped following): %w", job.ID, ctx.Err())
		case <-t.C:
		}
	}
}

// printProgress prints the fleet's aggregate and its slowest nodes.
func printProgress(w io.Writer, job *catalog.PrefetchJob, tty bool) {
	var done, total int64
	finished := 0
	nodes := slices.Clone(job.Nodes)
	for _, n := range nodes {
		done += n.BytesDone
		total += n.BytesTotal
		if n.State == catalog.PrefetchDone {
			finished++
		}
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	slices.SortFunc(nodes, func(a, b catalog.PrefetchNode) int {
		return int(frac(a)*1e6) - int(frac(b)*1e6)
	})
	var slow []string
	for _, n := range nodes[:min(3, len(nodes))] {
		if n.State != catalog.PrefetchDone {
			slow = append(slow, fmt.Sprintf("%s %.0f%% (%s)", n.ID, 100*frac(n), n.State))
		}
	}
	line := fmt.Sprintf("%s %5.1f%%  %d/%d nodes done  %s", bar(pct, 30), pct, finished, len(nodes), strings.Join(slow, ", "))
	if tty {
		fmt.Fprintf(w, "\r\033[K%s", line)
		if job.State != catalog.PrefetchRunning {
			fmt.Fprintln(w)
		}
		return
	}
	fmt.Fprintln(w, line)
}

func frac(n catalog.PrefetchNode) float64 {
	if n.State == catalog.PrefetchDone {
		return 1
	}
	if n.BytesTotal == 0 {
		return 0
	}
	return float64(n.BytesDone) / float64(n.BytesTotal)
}

func bar(pct float64, width int) string {
	k := int(pct / 100 * float64(width))
	return "[" + strings.Repeat("#", k) + strings.Repeat(".", width-k) + "]"
}

// reorderArgs moves flags before positional arguments, so that
// "prefetch IMAGE --all" parses like "prefetch --all IMAGE".
func reorderArgs(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && i+1 < len(args) && takesValue(name) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func takesValue(name string) bool {
	switch name {
	case "all", "no-wait", "h", "help":
		return false
	}
	return true
}

// apiClient calls a node's HTTP API with JSON.
type apiClient struct {
	base, token string
}

func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.Split(e.Message, "<br />")[0])
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}
