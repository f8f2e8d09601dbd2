package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/p2pglance/p2pglance/api"
)

// The scale phase's requests: what any Glance client sends, plus the
// read-your-writes header to ask an agent for a revision.

// newScaleClient returns a client for n agents: a few kept-alive
// connections per agent, every request bounded by its context.
func newScaleClient(perAgent int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: perAgent,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// createAt creates an image through the agent at base and returns its id
// and the catalog revision the answer names (X-P2pglance-Revision).
func createAt(ctx context.Context, hc *http.Client, base, name string) (string, uint64, error) {
	body := fmt.Appendf(nil, `{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v2/images", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("create image: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", 0, fmt.Errorf("create image: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", 0, fmt.Errorf("create image: decode: %w", err)
	}
	rev, err := strconv.ParseUint(resp.Header.Get(api.RevisionHeader), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("create image: no revision in the answer: %w", err)
	}
	return out.ID, rev, nil
}

// getAtRev GETs image id from the agent at base with X-P2pglance-Revision:
// rev, so the agent answers only once it has applied that revision, and
// returns the status.
func getAtRev(ctx context.Context, hc *http.Client, base, id string, rev uint64) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/images/"+id, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(api.RevisionHeader, strconv.FormatUint(rev, 10))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// clusterOf GETs /p2p/v1/cluster?usage=false from the agent at base (as
// admin: noauth without a project): roles and gossip's view only, not
// the store usage that costs the agent a request to every live node.
func clusterOf(ctx context.Context, hc *http.Client, base string) (*api.ClusterInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/p2p/v1/cluster?usage=false", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("cluster: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var info api.ClusterInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("cluster: decode: %w", err)
	}
	return &info, nil
}

// aliveIn counts the nodes a cluster view lists alive (gossip's view:
// every agent, in Raft or not).
func aliveIn(info *api.ClusterInfo) int {
	k := 0
	for _, n := range info.Nodes {
		if n.Alive {
			k++
		}
	}
	return k
}

// appliedPollTimeout bounds one "has this agent applied it?" GET with a
// revision: shorter than the agent's wait before it passes a read
// barrier instead (api.DefaultRevisionWait), so that polling N agents
// until they apply a write never sends barriers to the leader (at
// N = 300 after a full restart, 14,090 of them with a 5 s timeout).
const appliedPollTimeout = api.DefaultRevisionWait * 3 / 4
