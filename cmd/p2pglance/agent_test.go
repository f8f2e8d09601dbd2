package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
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
	cfg, _, err := agentFlags([]string{"--tls-cert", "a.pem", "--tls-key", "a.key", "--peer-tls-cert", "p.pem", "--peer-tls-key", "p.key", "--peer-tls-ca", "ca.pem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSCert != "a.pem" || cfg.TLSKey != "a.key" || cfg.PeerTLSCert != "p.pem" || cfg.PeerTLSKey != "p.key" || cfg.PeerTLSCA != "ca.pem" {
		t.Fatalf("tls flags: %+v", cfg)
	}
}
