package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAgentClusterSecretFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("  from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
		err  bool
	}{
		{name: "flag", args: []string{"--cluster-secret", "from-the-flag-0123"}, want: "from-the-flag-0123"},
		{name: "env", env: "from-the-env-0123", want: "from-the-env-0123"},
		{name: "file", args: []string{"--cluster-secret-file", file}, want: "from-a-file-0123456789"},
		{name: "none", want: ""},
		{name: "both", args: []string{"--cluster-secret", "x", "--cluster-secret-file", file}, err: true},
		{name: "empty file", args: []string{"--cluster-secret-file", empty}, err: true},
		{name: "missing file", args: []string{"--cluster-secret-file", filepath.Join(dir, "nope")}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("P2PGLANCE_CLUSTER_SECRET", tc.env)
			}
			cfg, _, err := agentFlags(tc.args, io.Discard)
			if tc.err {
				if err == nil {
					t.Fatalf("accepted: secret %q", cfg.ClusterSecret)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClusterSecret != tc.want {
				t.Fatalf("secret %q, want %q", cfg.ClusterSecret, tc.want)
			}
		})
	}
	prev := filepath.Join(dir, "previous")
	if err := os.WriteFile(prev, []byte("the-old-secret-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
		err  bool
	}{
		{name: "flag", args: []string{"--cluster-secret-previous", "the-old-secret-0123"}, want: "the-old-secret-0123"},
		{name: "env", env: "the-old-secret-0123", want: "the-old-secret-0123"},
		{name: "file", args: []string{"--cluster-secret-previous-file", prev}, want: "the-old-secret-0123"},
		{name: "both", args: []string{"--cluster-secret-previous", "x", "--cluster-secret-previous-file", prev}, err: true},
		{name: "empty file", args: []string{"--cluster-secret-previous-file", empty}, err: true},
	} {
		t.Run("previous "+tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("P2PGLANCE_CLUSTER_SECRET_PREVIOUS", tc.env)
			}
			cfg, _, err := agentFlags(append([]string{"--cluster-secret", "the-new-secret-0123"}, tc.args...), io.Discard)
			if tc.err {
				if err == nil {
					t.Fatalf("accepted: previous secret %q", cfg.ClusterSecretPrevious)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClusterSecretPrevious != tc.want || cfg.ClusterSecret != "the-new-secret-0123" {
				t.Fatalf("previous %q, current %q", cfg.ClusterSecretPrevious, cfg.ClusterSecret)
			}
		})
	}
	for args, want := range map[string]bool{"": false, "--insecure": true} {
		cfg, _, err := agentFlags(strings.Fields(args), io.Discard)
		if err != nil || cfg.Insecure != want {
			t.Errorf("%q: insecure %v, %v", args, cfg.Insecure, err)
		}
	}
	cfg, _, err := agentFlags([]string{"--tls-cert", "a.pem", "--tls-key", "a.key", "--peer-tls-cert", "p.pem", "--peer-tls-key", "p.key", "--peer-tls-ca", "ca.pem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSCert != "a.pem" || cfg.TLSKey != "a.key" || cfg.PeerTLSCert != "p.pem" || cfg.PeerTLSKey != "p.key" || cfg.PeerTLSCA != "ca.pem" {
		t.Fatalf("tls flags: %+v", cfg)
	}
}

// openClusterFlagNames are what a refusal to start an open cluster must
// name, so the operator knows what to set.
var openClusterFlagNames = []string{"--cluster-secret", "--cluster-secret-file", "P2PGLANCE_CLUSTER_SECRET",
	"--peer-tls-cert", "--peer-tls-key", "--peer-tls-ca", "--insecure"}

// TestAgentRefusesOpenCluster: an agent whose peer, Raft or gossip
// address is not loopback does not start without a cluster secret or
// mutual peer TLS, and says which flags to set. The context is already
// cancelled: an agent that started anyway would stop at once.
func TestAgentRefusesOpenCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loopback := func(dir string) []string {
		return []string{"--data-dir", dir, "--api-addr", "127.0.0.1:0", "--peer-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0"}
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"peer on every interface", []string{"--peer-addr", "0.0.0.0:0"}, append([]string{"peer address 0.0.0.0:0 is not loopback"}, openClusterFlagNames...)},
		{"gossip on every interface", []string{"--gossip-addr", ":0"}, append([]string{"gossip address :0 is not loopback"}, openClusterFlagNames...)},
		{"peer TLS without a CA", []string{"--peer-addr", "0.0.0.0:0", "--peer-tls-cert", "p.pem", "--peer-tls-key", "p.key"}, []string{"--peer-tls-ca", "peer address 0.0.0.0:0 is not loopback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"agent"}, append(loopback(t.TempDir()), tc.args...)...)
			err := run(ctx, args, io.Discard, &stderr)
			if err == nil {
				t.Fatal("the agent started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
		})
	}
	// On loopback without a secret it starts (and stops: the context is
	// done).
	if err := run(ctx, append([]string{"agent"}, loopback(t.TempDir())...), io.Discard, io.Discard); err != nil {
		t.Errorf("loopback without a secret: %v", err)
	}
}

// TestAgentExitsOnOpenCluster runs the binary's main (this test binary,
// re-executed) with a peer address beyond loopback and no secret: it
// exits non-zero and prints why. The address is a documentation one
// (192.0.2.0/24), which no host has: even an agent that did not refuse
// could not bind it.
func TestAgentExitsOnOpenCluster(t *testing.T) {
	if os.Getenv("P2PGLANCE_TEST_MAIN") == "1" {
		os.Args = append([]string{"p2pglance"}, strings.Fields(os.Getenv("P2PGLANCE_TEST_ARGS"))...)
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentExitsOnOpenCluster$")
	cmd.Env = append(os.Environ(), "P2PGLANCE_TEST_MAIN=1", "P2PGLANCE_TEST_ARGS=agent --data-dir "+t.TempDir()+
		" --api-addr 127.0.0.1:0 --peer-addr 192.0.2.1:9492 --raft-addr 127.0.0.1:0 --gossip-addr 127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, stderr.String())
	}
	for _, w := range append([]string{"p2pglance: node config:", "peer address 192.0.2.1:9492 is not loopback"}, openClusterFlagNames...) {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr does not name %q:\n%s", w, stderr.String())
		}
	}
}

func TestAgentImportFilterFlags(t *testing.T) {
	cfg, _, err := agentFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.ImportFilter
	if !slices.Equal(f.AllowedSchemes, []string{"http", "https"}) || !slices.Equal(f.AllowedPorts, []int{80, 443}) ||
		len(f.DisallowedSchemes)+len(f.AllowedHosts)+len(f.DisallowedHosts)+len(f.DisallowedPorts) != 0 || cfg.ImportIdleTimeout != 0 {
		t.Fatalf("defaults: %+v, idle %v; want Glance's", f, cfg.ImportIdleTimeout)
	}

	t.Setenv("P2PGLANCE_IMPORT_ALLOWED_PORTS", "")
	t.Setenv("P2PGLANCE_IMPORT_DISALLOWED_HOSTS", "evil.example, 10.0.0.1")
	cfg, _, err = agentFlags([]string{"--import-allowed-schemes", "https", "--import-disallowed-ports", "22,25",
		"--import-allowed-hosts", " mirror.example ,127.0.0.1", "--import-idle-timeout", "90s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f = cfg.ImportFilter
	switch {
	case !slices.Equal(f.AllowedSchemes, []string{"https"}):
		t.Fatalf("allowed schemes %q", f.AllowedSchemes)
	case f.AllowedPorts == nil || len(f.AllowedPorts) != 0:
		t.Fatalf("allowed ports %v, want an empty (not default) list from the empty variable", f.AllowedPorts)
	case !slices.Equal(f.DisallowedPorts, []int{22, 25}):
		t.Fatalf("disallowed ports %v", f.DisallowedPorts)
	case !slices.Equal(f.AllowedHosts, []string{"mirror.example", "127.0.0.1"}) || !slices.Equal(f.DisallowedHosts, []string{"evil.example", "10.0.0.1"}):
		t.Fatalf("hosts %q / %q", f.AllowedHosts, f.DisallowedHosts)
	case cfg.ImportIdleTimeout != 90*time.Second:
		t.Fatalf("idle timeout %v", cfg.ImportIdleTimeout)
	}
	for _, bad := range []string{"0", "65536", "http", "80,x"} {
		if _, _, err := agentFlags([]string{"--import-allowed-ports", bad}, io.Discard); err == nil {
			t.Errorf("--import-allowed-ports %q accepted", bad)
		}
	}
}

func TestAgentGossipTimingFlags(t *testing.T) {
	cfg, _, err := agentFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Timing.Gossip; g.GossipInterval != 0 || g.ProbeInterval != 0 || g.PushPullInterval != 0 {
		t.Fatalf("defaults %+v, want zeros (gossip.Timing's defaults)", g)
	}
	t.Setenv("P2PGLANCE_GOSSIP_PUSH_PULL_INTERVAL", "1m")
	cfg, _, err = agentFlags([]string{"--gossip-interval", "1s", "--gossip-probe-interval", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Timing.Gossip; g.GossipInterval != time.Second || g.ProbeInterval != 2*time.Second || g.PushPullInterval != time.Minute {
		t.Fatalf("gossip timing %+v", g)
	}
}

func TestAgentMemoryLimitFlag(t *testing.T) {
	_, proc, err := agentFlags(nil, io.Discard)
	if err != nil || proc.memoryLimit != 0 || proc.logLevel != "info" {
		t.Fatalf("defaults %+v, %v", proc, err)
	}
	t.Setenv("P2PGLANCE_MEMORY_LIMIT", "67108864")
	if _, proc, err = agentFlags(nil, io.Discard); err != nil || proc.memoryLimit != 64<<20 {
		t.Fatalf("from the environment: %+v, %v", proc, err)
	}
	if _, _, err := agentFlags([]string{"--memory-limit", "-1"}, io.Discard); err == nil {
		t.Fatal("a negative memory limit was accepted")
	}
}
