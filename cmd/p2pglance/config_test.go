package main

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestAgentConfigFile: a config file sets flags, the environment
// overrides it and the command line overrides both.
func TestAgentConfigFile(t *testing.T) {
	path := writeConfig(t, `# p2pglance agent
[agent]
data-dir = /var/lib/p2pglance
zone = "zone a"
rack=r1
replicas = 2
label = gpu=a100
label = site=ams
cache_prefetch_interval = 90s
log-format = json
cluster-secret = a-secret-of-16-bytes-or-more
; a comment
`, 0o640)
	t.Setenv("P2PGLANCE_RACK", "r-env")
	cfg, proc, err := agentFlags([]string{"--config", path, "--replicas", "4", "--label", "os=linux"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/p2pglance" || cfg.Zone != "zone a" || cfg.CachePrefetchInterval != 90*time.Second || proc.logFormat != "json" {
		t.Fatalf("from the file: data %q zone %q prefetch %v log %q", cfg.DataDir, cfg.Zone, cfg.CachePrefetchInterval, proc.logFormat)
	}
	if cfg.Rack != "r-env" {
		t.Fatalf("rack %q: the environment must override the file", cfg.Rack)
	}
	if cfg.Replicas != 4 {
		t.Fatalf("replicas %d: the command line must override the file", cfg.Replicas)
	}
	if want := map[string]string{"gpu": "a100", "site": "ams", "os": "linux"}; !maps.Equal(cfg.Labels, want) {
		t.Fatalf("labels %v, want %v", cfg.Labels, want)
	}
	if cfg.ClusterSecret != "a-secret-of-16-bytes-or-more" {
		t.Fatalf("secret %q", cfg.ClusterSecret)
	}
	// The same through P2PGLANCE_CONFIG, and --config=FILE.
	t.Setenv("P2PGLANCE_CONFIG", path)
	if cfg, _, err = agentFlags(nil, io.Discard); err != nil || cfg.Replicas != 2 {
		t.Fatalf("P2PGLANCE_CONFIG: replicas %v, %v", cfg, err)
	}
	if cfg, _, err = agentFlags([]string{"--config=" + path}, io.Discard); err != nil || cfg.Zone != "zone a" {
		t.Fatalf("--config=: %v, %v", cfg, err)
	}
}

func TestAgentConfigFileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		mode       os.FileMode
		want       string
	}{
		{"unknown key", "zone = a\nzoen = b\n", 0o600, `line 2: unknown key "zoen"`},
		{"twice", "zone = a\n\nzone = b\n", 0o600, "line 3: zone is already set on line 1"},
		{"bad value", "replicas = three\n", 0o600, "line 1: replicas"},
		{"no equals", "replicas 3\n", 0o600, "line 1: want key = value"},
		{"section", "[DEFAULT]\nzone = a\n", 0o600, "unknown section [DEFAULT]"},
		{"config in config", "config = /etc/other.conf\n", 0o600, `unknown key "config"`},
		{"bad quotes", "zone = \"a\n", 0o600, "bad quoted value"},
		{"world-readable secret", "cluster-secret = a-secret-of-16-bytes-or-more\n", 0o644, "readable by every user"},
		{"world-readable password", "keystone_password = pw\n", 0o604, "readable by every user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text, tc.mode)
			_, _, err := agentFlags([]string{"--config", path}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, _, err := agentFlags([]string{"--config", filepath.Join(t.TempDir(), "none.conf")}, io.Discard); err == nil {
		t.Fatal("a missing config file was accepted")
	}
	if _, _, err := agentFlags([]string{"--log-format", "xml"}, io.Discard); err == nil {
		t.Fatal("--log-format xml was accepted")
	}
}

// TestExampleConfig: contrib/agent.conf, the example the deploy guide
// installs, parses with every key it sets.
func TestExampleConfig(t *testing.T) {
	cfg, proc, err := agentFlags([]string{"--config", filepath.Join("..", "..", "contrib", "agent.conf")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/p2pglance" || cfg.Zone != "az1" || len(cfg.Join) != 3 || cfg.Auth != "keystone" ||
		cfg.MetricsAddr == "" || cfg.HealthcheckDisableFile == "" || proc.logFormat != "json" {
		t.Fatalf("example config read as %+v, %+v", cfg, proc)
	}
}
