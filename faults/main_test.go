package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

var (
	enabled = flag.Bool("faults", false, "run the fault tests on real agent processes (needs root, ip and nft)")
	binFlag = flag.String("faults.bin", "", "the p2pglance binary to run (default: built once from ../cmd/p2pglance)")
	logsDir = flag.String("faults.logs", "", "directory to keep every node's log in (<test>-node<i>.log)")
)

// agentBin is the binary every test runs.
var agentBin string

// lockPath serialises fault runs on one machine: they share the bridge
// and namespace names.
const lockPath = "/run/lock/p2pglance-faults.lock"

func TestMain(m *testing.M) {
	flag.Parse()
	if !*enabled || os.Geteuid() != 0 {
		os.Exit(m.Run()) // every test skips, saying why
	}
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// setUp builds the binary (unless -faults.bin names one), takes the
// machine-wide lock, clears what a killed earlier run left behind, and
// runs the tests.
func setUp(m *testing.M) (int, error) {
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("%s not found (ip: iproute2, nft: nftables): %w", tool, err)
		}
	}
	agentBin = *binFlag
	if agentBin == "" {
		dir, err := os.MkdirTemp("", "p2pglance-faults-bin")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		agentBin = filepath.Join(dir, "p2pglance")
		build := exec.Command("go", "build", "-o", agentBin, "../cmd/p2pglance")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("build p2pglance: %w", err)
		}
	}
	if abs, err := filepath.Abs(agentBin); err == nil {
		agentBin = abs
	}
	if _, err := os.Stat(agentBin); err != nil {
		return 0, fmt.Errorf("agent binary: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return 0, err
	}
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	removeStale()
	defer removeStale()
	return m.Run(), nil
}

// requireFaults skips t unless the fault tests were asked for and can run.
func requireFaults(t *testing.T) {
	t.Helper()
	if !*enabled {
		t.Skip("fault tests on real processes run with `make test-faults` (go test ./faults -faults)")
	}
	if os.Geteuid() != 0 {
		t.Skip("fault tests need root: network namespaces, nftables rules and tmpfs mounts")
	}
}
