//go:build unix

package chunkstore

import (
	"io/fs"
	"syscall"
)

// allocatedBytes returns the bytes allocated on disk for fi (st_blocks is
// always in 512-byte units).
func allocatedBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
