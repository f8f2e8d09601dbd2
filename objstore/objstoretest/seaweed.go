// Package objstoretest runs a real S3 server for tests: SeaweedFS's weed
// (built by scripts/build-seaweedfs.sh into bin/weed), on loopback ports,
// with one identity and its own data directory.
package objstoretest

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running SeaweedFS with its S3 gateway.
type Server struct {
	// Endpoint is the S3 gateway's host:port.
	Endpoint  string
	AccessKey string
	SecretKey string

	t    testing.TB
	dir  string
	weed string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// weedPath finds bin/weed above the working directory (or P2PGLANCE_WEED).
func weedPath() string {
	if p := os.Getenv("P2PGLANCE_WEED"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for dir != "" && dir != "/" {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "weed")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			return ""
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// freePorts returns n ports free on 127.0.0.1 now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// Start runs SeaweedFS for the test and stops it at the test's end.
// Without bin/weed the test is skipped, unless P2PGLANCE_REQUIRE_S3 is set
// (CI sets it after make seaweedfs).
func Start(t testing.TB) *Server {
	t.Helper()
	weed := weedPath()
	if weed == "" {
		if os.Getenv("P2PGLANCE_REQUIRE_S3") != "" {
			t.Fatal("no bin/weed (make seaweedfs), and P2PGLANCE_REQUIRE_S3 is set")
		}
		t.Skip("no bin/weed: `make seaweedfs` builds SeaweedFS, the S3 server these tests run")
	}
	dir := t.TempDir()
	s := &Server{t: t, dir: dir, AccessKey: "p2pglance-test", SecretKey: "p2pglance-test-secret-0123456789"}
	ident := map[string]any{"identities": []any{map[string]any{
		"name":        "p2pglance",
		"credentials": []any{map[string]any{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, _ := json.Marshal(ident)
	cfg := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 8)
	s.Endpoint = "127.0.0.1:" + strconv.Itoa(p[0])
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	s.args = []string{"server", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(p[1]), "-master.port.grpc=" + strconv.Itoa(p[2]),
		"-volume.port=" + strconv.Itoa(p[3]), "-volume.port.grpc=" + strconv.Itoa(p[4]),
		"-filer", "-filer.port=" + strconv.Itoa(p[5]), "-filer.port.grpc=" + strconv.Itoa(p[6]),
		"-s3", "-s3.port=" + strconv.Itoa(p[0]), "-s3.port.grpc=" + strconv.Itoa(p[7]), "-s3.config=" + cfg,
		"-s3.port.iceberg=0", "-s3.port.lance=0", // fixed ports otherwise
		"-master.volumeSizeLimitMB=64", "-volume.max=20", "-volume.preStopSeconds=0",
	}
	s.weed = weed
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Stop kills the server, as a crash or a power cut would (weed takes
// seconds to stop gracefully); its data stays for Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server (again) and waits until its S3 gateway
// answers.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.weed, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start weed: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	client := s.Client()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			s.t.Logf("SeaweedFS's S3 gateway on %s answered after %s", s.Endpoint, time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
			s.t.Fatalf("weed exited: %s", tail(b))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
			s.t.Fatalf("weed's S3 gateway did not answer within 60s (%v): %s", err, tail(b))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Client is an S3 client of the server with the test identity.
func (s *Server) Client() *minio.Client {
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Bucket makes a bucket and returns its name.
func (s *Server) Bucket(name string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		s.t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}
