package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/testcluster"
)

// A namespace file in the format of Glance's etc/metadefs/*.json.
const mdTestFile = `{
    "namespace": "Test::Load",
    "display_name": "Loaded",
    "description": "A namespace loaded from a file.",
    "visibility": "public",
    "protected": true,
    "resource_type_associations": [
        {"name": "OS::Glance::Image", "prefix": "load_"},
        {"name": "OS::Nova::Flavor", "prefix": "load:"}
    ],
    "properties": {
        "mode": {"title": "Mode", "description": "How.", "type": "string", "enum": ["a", "b"], "default": "a"},
        "count": {"title": "Count", "type": "integer", "minimum": 0, "readonly": false}
    },
    "objects": [
        {"name": "Group", "description": "Grouped.", "required": ["size"],
         "properties": {"size": {"title": "Size", "type": "integer"}}}
    ],
    "tags": [{"name": "loaded"}]
}`

func mdGetJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := testcluster.Client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMetadefLoadCommand(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithReplicas(1), testcluster.WithVoters(1))
	dir := t.TempDir()
	file := filepath.Join(dir, "test-load.json")
	if err := os.WriteFile(file, []byte(mdTestFile), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	l := metadefsLoader{node: c.URL(0), client: testcluster.Client}
	if err := l.load(ctx, []string{file}, &out); err != nil {
		t.Fatalf("load: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "created namespace Test::Load (2 properties, 1 objects, 1 tags, 2 resource type associations)") {
		t.Fatalf("output: %s", out.String())
	}
	ns := mdGetJSON(t, c.URL(0)+"/v2/metadefs/namespaces/Test::Load?resource_type=OS::Nova::Flavor")
	props := ns["properties"].(map[string]any)
	if ns["protected"] != true || props["load:mode"] == nil || props["load:count"] == nil || len(ns["objects"].([]any)) != 1 || len(ns["tags"].([]any)) != 1 {
		t.Fatalf("loaded namespace: %v", ns)
	}

	// Loading it again replaces the (protected) namespace.
	changed := strings.Replace(mdTestFile, `"tags": [{"name": "loaded"}]`, `"tags": [{"name": "reloaded"}, {"name": "again"}]`, 1)
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := l.load(ctx, []string{file}, &out); err != nil || !strings.Contains(out.String(), "replaced namespace Test::Load") {
		t.Fatalf("reload: %v\n%s", err, out.String())
	}
	ns = mdGetJSON(t, c.URL(0)+"/v2/metadefs/namespaces/Test::Load")
	if tags := ns["tags"].([]any); len(tags) != 2 || ns["protected"] != true {
		t.Fatalf("reloaded namespace: %v", ns)
	}

	// A bad file fails (non-zero exit) without stopping the others.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"namespace": "Test::Bad", "visibility": "shared"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(ctx, []string{"metadefs", "load", "--node", c.URL(0), bad, file}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 files failed") || !strings.Contains(out.String(), "HTTP 400") || !strings.Contains(out.String(), "replaced namespace Test::Load") {
		t.Fatalf("bad file: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"metadefs", "load"}, io.Discard, io.Discard); err == nil {
		t.Fatal("load without files succeeded")
	}
}
