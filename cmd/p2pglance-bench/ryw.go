package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"slices"
	"time"
)

// rywMode is how a read asks (or not) to see earlier writes.
type rywMode struct {
	label string
	hdr   []string // extra request headers, name/value pairs
	jar   bool     // the client keeps cookies (the p2pglance-rev cookie)
}

var rywModes = []rywMode{
	{label: "no revision (plain local read)"},
	{label: "`p2pglance-rev` cookie (read-your-writes)", jar: true},
	{label: "`X-P2pglance-Consistency: linearizable` (read barrier)", hdr: []string{"X-P2pglance-Consistency", "linearizable"}},
}

// rywRow is the latency of one kind of GET on a follower, and what it
// cost the cluster.
type rywRow struct {
	what     string // when the GET is sent
	mode     string
	lat      []time.Duration
	entries  uint64 // Raft entries the leader applied meanwhile, beyond the writes themselves
	barriers int64  // read barriers the reading follower proposed
	waits    int64  // GETs that waited for their revision
	stale    int    // GETs that did not show the write just made
}

// rywResult holds the read-your-writes figures.
type rywResult struct {
	reads, writes int
	rows          []rywRow
}

// benchRYW: three nodes with data on disk. One client reads an image
// on follower B, one GET at a time: in steady state (the image written
// long ago), right after creating it through follower A, and right after
// renaming it through follower A; each without any revision, with the
// cookie a write's answer sets, and with a read barrier. Beside the GET
// latency it records what the reads cost the leader: Raft entries it
// applied beyond the writes, read barriers B proposed.
func benchRYW(ctx context.Context, cfg *config, dir string, rep *report) error {
	c, err := startCluster(ctx, filepath.Join(dir, "nodes"), 3, nil)
	if err != nil {
		return err
	}
	defer c.stop()
	leader := c.leader()
	if leader < 0 {
		return fmt.Errorf("no leader")
	}
	fa, fb := (leader+1)%3, (leader+2)%3
	res := &rywResult{reads: cfg.rywReads, writes: cfg.rywWrites}
	rep.ryw = res
	base := newHTTPClient(4)
	for _, m := range rywModes {
		hc := &http.Client{Transport: base.Transport, Timeout: base.Timeout}
		if m.jar {
			if hc.Jar, err = cookiejar.New(nil); err != nil {
				return err
			}
		}
		r := &rywClient{hc: hc, readHdr: m.hdr}
		// readBack reads image id on follower B right after a write
		// through A named it name, timing it; a read that does not show
		// the write is stale.
		readBack := func(row *rywRow, id, name string) error {
			t0 := time.Now()
			status, got, err := r.get(ctx, c.url(fb), id)
			if err != nil {
				return err
			}
			row.lat = append(row.lat, time.Since(t0))
			if status != http.StatusOK || got != name {
				row.stale++
			}
			return nil
		}
		// Steady state: an image every node has had for a while.
		id, err := r.create(ctx, c.url(fa), "ryw-steady")
		if err != nil {
			return err
		}
		if err := waitFor(ctx, 30*time.Second, func() bool { _, err := c.nodes[fb].Image(ctx, id); return err == nil }); err != nil {
			return fmt.Errorf("follower never got %s: %w", id, err)
		}
		row := rywRow{what: "steady state: an image written long before", mode: m.label}
		err = measureRYW(c, leader, fb, &row, 0, func() error {
			for range cfg.rywReads {
				t0 := time.Now()
				if _, _, err := r.get(ctx, c.url(fb), id); err != nil {
					return err
				}
				row.lat = append(row.lat, time.Since(t0))
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.rows = append(res.rows, row)

		row = rywRow{what: "right after a create through the other follower", mode: m.label}
		err = measureRYW(c, leader, fb, &row, uint64(cfg.rywWrites), func() error {
			for i := range cfg.rywWrites {
				name := fmt.Sprintf("ryw-create-%d", i)
				id, err := r.create(ctx, c.url(fa), name)
				if err != nil {
					return err
				}
				if err := readBack(&row, id, name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.rows = append(res.rows, row)

		// A rename is a read-modify-write: the writing node passes a
		// read barrier first, so 2 entries per write.
		row = rywRow{what: "right after a PATCH through the other follower", mode: m.label}
		err = measureRYW(c, leader, fb, &row, 2*uint64(cfg.rywWrites), func() error {
			for i := range cfg.rywWrites {
				name := fmt.Sprintf("ryw-steady-%d", i)
				if err := r.rename(ctx, c.url(fa), id, name); err != nil {
					return err
				}
				if err := readBack(&row, id, name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.rows = append(res.rows, row)
	}
	for _, row := range res.rows {
		log.Printf("  %s, %s: p50 %s ms, p99 %s ms; leader entries %d, barriers %d, waits %d, stale %d",
			row.what, row.mode, ms(percentile(row.lat, 50)), ms(percentile(row.lat, 99)), row.entries, row.barriers, row.waits, row.stale)
	}
	return nil
}

// measureRYW runs fn and records in row the Raft entries the leader
// applied meanwhile beyond the writes fn makes, and the barriers and
// revision waits of the reading node.
func measureRYW(c *cluster, leader, reader int, row *rywRow, writes uint64, fn func() error) error {
	l, r := c.nodes[leader], c.nodes[reader]
	idx, m := l.AppliedIndex(), r.Metrics()
	if err := fn(); err != nil {
		return err
	}
	after := r.Metrics()
	if d := l.AppliedIndex() - idx; d > writes {
		row.entries = d - writes
	}
	row.barriers = after.Barriers - m.Barriers
	row.waits = after.RevisionWaits - m.RevisionWaits
	return nil
}

// rywClient is a Glance client with its own cookie jar (or none) and
// extra headers on its reads.
type rywClient struct {
	hc      *http.Client
	readHdr []string
}

func (r *rywClient) do(ctx context.Context, method, url, ctype string, body []byte, hdr ...string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return r.hc.Do(req)
}

func (r *rywClient) create(ctx context.Context, base, name string) (string, error) {
	resp, err := r.do(ctx, http.MethodPost, base+"/v2/images", "application/json", fmt.Appendf(nil, `{"name": %q}`, name))
	if err != nil {
		return "", fmt.Errorf("create image: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("create image: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("create image: %w", err)
	}
	return out.ID, nil
}

func (r *rywClient) rename(ctx context.Context, base, id, name string) error {
	body := fmt.Appendf(nil, `[{"op": "replace", "path": "/name", "value": %q}]`, name)
	resp, err := r.do(ctx, http.MethodPatch, base+"/v2/images/"+id, "application/openstack-images-v2.1-json-patch", body)
	if err != nil {
		return fmt.Errorf("rename image: %w", err)
	}
	return expect(resp, http.StatusOK, "rename image")
}

// get returns the status of GET /v2/images/{id} and the image's name.
func (r *rywClient) get(ctx context.Context, base, id string) (int, string, error) {
	resp, err := r.do(ctx, http.MethodGet, base+"/v2/images/"+id, "", nil, r.readHdr...)
	if err != nil {
		return 0, "", fmt.Errorf("get image: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Name string `json:"name"`
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return 0, "", fmt.Errorf("get image: %w", err)
		}
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, resp.Body)
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, "", fmt.Errorf("get image: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return resp.StatusCode, out.Name, nil
}

// print writes the read-your-writes table.
func (res *rywResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n### 9. Read-your-writes across nodes: a GET on a follower (3 nodes, one client, one request at a time)\n\n")
	fmt.Fprintf(w, "Steady state: %d GETs of an image written long before. After a write: %d times, a write through follower A, then at once the GET through follower B (only the GET is timed). \"leader entries\": Raft entries the leader applied during the row beyond the writes themselves (each is a read barrier: a round trip to the leader and a commit); \"waits\": GETs that carried a revision follower B had not applied yet and waited for replication; \"stale\": GETs that did not show the write just made.\n\n", res.reads, res.writes)
	fmt.Fprintf(w, "| when | read mode | p50 ms | p99 ms | leader entries per GET | waits | stale |\n|---|---|---:|---:|---:|---:|---:|\n")
	var whats []string
	for _, row := range res.rows {
		if !slices.Contains(whats, row.what) {
			whats = append(whats, row.what)
		}
	}
	for _, what := range whats {
		for _, row := range res.rows {
			if row.what == what {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %d | %d |\n", row.what, row.mode, ms(percentile(row.lat, 50)), ms(percentile(row.lat, 99)),
					float64(row.entries)/float64(max(1, len(row.lat))), row.waits, row.stale)
			}
		}
	}
}
