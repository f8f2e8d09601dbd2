//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// allocatedBytes returns the disk space a file occupies.
func allocatedBytes(t *testing.T, path string) (int64, bool) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int64(sys.Blocks) * 512, true
}
