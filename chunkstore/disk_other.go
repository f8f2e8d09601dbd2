//go:build !unix

package chunkstore

import "io/fs"

// allocatedBytes returns fi's apparent size; this platform does not report
// allocated blocks.
func allocatedBytes(fi fs.FileInfo) int64 { return fi.Size() }
