package faults

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Every test's nodes live in network namespaces named p2pgf-n<i>, each
// with one end of a veth pair (eth0, address subnet.<i+1>) whose other end
// (p2pgf-v<i>) is on the bridge p2pgf-br, where the test process reaches
// them at subnet.254. The addresses are in 198.18.0.0/15 (RFC 2544,
// benchmarking), which no real network routes.
const (
	prefix = "p2pgf"
	bridge = prefix + "-br"
	subnet = "198.18.240."
	hostIP = subnet + "254"
)

func nsName(i int) string   { return fmt.Sprintf("%s-n%d", prefix, i) }
func vethName(i int) string { return fmt.Sprintf("%s-v%d", prefix, i) }
func nodeIP(i int) string   { return fmt.Sprintf("%s%d", subnet, i+1) }

// sh runs a command and returns its error with its output.
func sh(args ...string) error {
	return shIn(nil, args...)
}

// shIn runs a command with stdin.
func shIn(stdin []byte, args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// removeStale deletes the namespaces and the bridge a test left (a
// killed run never cleans up); deleting a namespace deletes its veth end,
// its nftables rules and its peer end.
func removeStale() {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		// "7: p2pgf-v0@if2: <...": deleting a veth end deletes its peer.
		if f := strings.Fields(line); len(f) > 1 {
			if name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@"); strings.HasPrefix(name, prefix+"-") {
				_ = sh("ip", "link", "del", name)
			}
		}
	}
	out, _ = exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); strings.HasPrefix(name, prefix+"-") {
			_ = sh("ip", "netns", "del", name)
		}
	}
}

// network is the bridge and one namespace per node, and the one-way cuts
// in force between them.
type network struct {
	t    testing.TB
	n    int
	cuts map[int][]int // node -> nodes whose packets from it are dropped
}

// newNetwork makes n namespaces on a fresh bridge; the test's cleanup
// removes them (and with them every rule).
func newNetwork(t testing.TB, n int) *network {
	t.Helper()
	removeStale()
	nw := &network{t: t, n: n, cuts: map[int][]int{}}
	t.Cleanup(removeStale)
	steps := [][]string{
		{"ip", "link", "add", bridge, "type", "bridge"},
		{"ip", "addr", "add", hostIP + "/24", "dev", bridge},
		{"ip", "link", "set", bridge, "up"},
	}
	for i := range n {
		ns := nsName(i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", vethName(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", vethName(i), "master", bridge},
			[]string{"ip", "link", "set", vethName(i), "up"},
			[]string{"ip", "-n", ns, "addr", "add", nodeIP(i) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			t.Fatalf("network: %v", err)
		}
	}
	return nw
}

// cut drops every packet node from sends to each of to (one way: what to
// sends to from still arrives).
func (nw *network) cut(from int, to ...int) {
	nw.t.Helper()
	for _, j := range to {
		if j != from && !slices.Contains(nw.cuts[from], j) {
			nw.cuts[from] = append(nw.cuts[from], j)
		}
	}
	nw.apply(from)
}

// partition cuts every node of each group from every node of the other
// groups, both ways.
func (nw *network) partition(groups ...[]int) {
	nw.t.Helper()
	for a, ga := range groups {
		for b, gb := range groups {
			if a == b {
				continue
			}
			for _, i := range ga {
				nw.cut(i, gb...)
			}
		}
	}
}

// heal removes every cut.
func (nw *network) heal() {
	nw.t.Helper()
	for from := range nw.cuts {
		delete(nw.cuts, from)
		nw.apply(from)
	}
}

// apply replaces node i's ruleset with its cuts, in one nftables
// transaction: an output rule dropping packets to the cut addresses.
func (nw *network) apply(i int) {
	nw.t.Helper()
	script := "table inet " + prefix + "\ndelete table inet " + prefix + "\n"
	if dsts := nw.cuts[i]; len(dsts) > 0 {
		var ips []string
		for _, j := range dsts {
			ips = append(ips, nodeIP(j))
		}
		script += fmt.Sprintf("table inet %s {\n\tchain out {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tip daddr { %s } drop\n\t}\n}\n",
			prefix, strings.Join(ips, ", "))
	}
	if err := shIn([]byte(script), "ip", "netns", "exec", nsName(i), "nft", "-f", "-"); err != nil {
		nw.t.Fatalf("nftables on node %d: %v", i, err)
	}
}
