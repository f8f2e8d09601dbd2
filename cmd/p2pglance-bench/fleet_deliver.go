package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"time"
)

// fleetDeliver starts the prefetch job and samples every node's store
// every fc.poll until every node holds every chunk, then waits (bounded)
// for the job to report done.
func fleetDeliver(ctx context.Context, fc *fleetConfig, c *cluster, run *fleetRun, id string, hc *http.Client) error {
	n := len(c.nodes)
	var fetchers []int
	for k := range n {
		if !slices.Contains(run.holders, k) {
			fetchers = append(fetchers, k)
		}
	}
	first := make([]time.Duration, n)
	done := make([]time.Duration, n)
	seen := make([]time.Duration, n) // the observer lists node k as a full holder
	observer := c.nodes[fetchers[len(fetchers)-1]]
	base := make([]int64, n)
	for k, nd := range c.nodes {
		base[k] = nd.Metrics().ServedBytes
	}
	// Bounded: the single-origin time with a wide margin.
	limit := time.Duration(float64(fc.ideal())*3*float64(max(1, n-len(run.holders)))/float64(len(run.holders))) + 2*time.Minute

	// The job goes to a node outside the placement (as an operator's
	// request would land on any node).
	post := c.url(fetchers[0])
	body, _ := json.Marshal(map[string]any{"image_id": id, "target": map[string]any{"all": true}})
	var jobID string
	w0 := runqWait()
	s, err := measure(int64(len(fetchers))*fc.size, func() error {
		t0 := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, post+"/p2p/v1/prefetch", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("start prefetch: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("start prefetch: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		var job struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &job); err != nil || job.ID == "" {
			return fmt.Errorf("start prefetch: bad answer %q", b)
		}
		jobID = job.ID
		tick := time.NewTicker(fc.poll)
		defer tick.Stop()
		lastLog := t0
		for {
			now := time.Since(t0)
			remaining := 0
			var total int64
			pt := fleetPoint{t: now}
			for k, nd := range c.nodes {
				if served := nd.Metrics().ServedBytes - base[k]; slices.Contains(run.holders, k) {
					pt.servedHolders += served
				} else {
					pt.servedOthers += served
				}
			}
			full, _ := observer.CacheNodes(ctx, id)
			for _, k := range fetchers {
				if seen[k] == 0 && slices.Contains(full, c.url(k)) {
					seen[k] = now
				}
				held := c.nodes[k].Metrics().StoredChunks
				total += held
				if held > 0 && first[k] == 0 {
					first[k] = now
				}
				if held >= int64(run.chunks) {
					if done[k] == 0 {
						done[k] = now
					}
				} else {
					remaining++
				}
			}
			pt.chunks = total
			run.timeline = append(run.timeline, pt)
			if remaining == 0 {
				run.full = now
				return nil
			}
			if time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				log.Printf("    %s: %d of %d nodes still fetching; %.0f%% of the chunks delivered", now.Round(time.Second), remaining, len(fetchers),
					100*float64(total)/float64(len(fetchers)*run.chunks))
			}
			if now > limit {
				return fmt.Errorf("%d of %d nodes still incomplete after %s", remaining, len(fetchers), now.Round(time.Second))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	})
	if err != nil {
		return err
	}
	run.s = s
	run.runqWait = runqWait() - w0
	// Nodes that completed near the end: give gossip fc.lagWait more to
	// list them (the lag is from completion, so it is not capped by the
	// delivery's end).
	for t0 := time.Now(); time.Since(t0) < fc.lagWait; {
		full, _ := observer.CacheNodes(ctx, id)
		missing := 0
		for _, k := range fetchers {
			if seen[k] == 0 {
				if slices.Contains(full, c.url(k)) {
					seen[k] = run.full + time.Since(t0)
				} else {
					missing++
				}
			}
		}
		if missing <= 1 { // the observer never lists itself
			break
		}
		time.Sleep(fc.poll)
	}
	for _, k := range fetchers {
		run.first = append(run.first, first[k])
		run.done = append(run.done, done[k])
		if k == fetchers[len(fetchers)-1] {
			continue // the observer itself
		}
		lag := time.Duration(-1)
		if seen[k] > 0 {
			lag = max(0, seen[k]-done[k])
		}
		run.gossipLag = append(run.gossipLag, lag)
	}
	// The job's own view: every target must report done (each node
	// records its result in the catalog through Raft).
	g := &glance{base: c.url(0), hc: hc}
	t0 := time.Now()
	for time.Since(t0) < time.Minute {
		st, errs, err := jobState(ctx, g, jobID)
		if err == nil {
			run.jobState, run.jobErrs = st, errs
			if st != "running" {
				if st == "done" {
					run.jobDone = run.full + time.Since(t0)
				}
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// jobState reads a prefetch job's state and its nodes' errors.
func jobState(ctx context.Context, g *glance, id string) (string, []string, error) {
	resp, err := g.do(ctx, http.MethodGet, "/p2p/v1/prefetch/"+id, nil, 0, "")
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var job struct {
		State string `json:"state"`
		Nodes []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"nodes"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("job %s: status %d", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		return "", nil, err
	}
	var errs []string
	for _, nd := range job.Nodes {
		if nd.Error != "" || (job.State != "running" && nd.State != "done") {
			errs = append(errs, fmt.Sprintf("%s %s: %s", nd.ID, nd.State, nd.Error))
		}
	}
	return job.State, errs, nil
}
