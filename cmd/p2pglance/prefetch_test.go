package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/testcluster"
)

func TestPrefetchCommand(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithReplicas(1))
	// Create and upload a small image on node 0.
	req, _ := http.NewRequest(http.MethodPost, c.URL(0)+"/v2/images", strings.NewReader(`{"name": "p", "disk_format": "raw", "container_format": "bare"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var img struct{ ID string }
	if err := decodeJSON(resp, &img); err != nil {
		t.Fatal(err)
	}
	put, _ := http.NewRequest(http.MethodPut, c.URL(0)+"/v2/images/"+img.ID+"/file", bytes.NewReader(bytes.Repeat([]byte("x"), 3<<20)))
	put.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(put); err != nil || resp.StatusCode != 204 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"prefetch", img.ID, "--all", "--node", c.URL(1), "--interval", "100ms"}, &out, &errOut); err != nil {
		t.Fatalf("prefetch: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "done: 3 nodes hold image") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i := range 3 {
		if c.Node(i).Metrics().StoredChunks == 0 {
			t.Fatalf("node %d holds nothing after prefetch", i)
		}
	}
	// Bad usage fails without starting anything.
	if err := run(context.Background(), []string{"prefetch", img.ID, "--node", c.URL(1)}, &out, &errOut); err == nil {
		t.Fatal("prefetch without a target succeeded")
	}
	if err := run(context.Background(), []string{"prefetch", "no-such-image", "--all", "--node", c.URL(1)}, &out, &errOut); err == nil {
		t.Fatal("prefetch of an unknown image succeeded")
	}
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
