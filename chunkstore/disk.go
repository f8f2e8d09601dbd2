package chunkstore

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// DirDiskUsage returns the bytes the regular files under dir occupy on
// disk. Where the platform reports allocated blocks (Unix) it counts those,
// like du(1), so sparse files such as Badger's pre-sized, memory-mapped
// value log and memtable files count only for the space really used;
// elsewhere it sums apparent file sizes. Files that vanish during the
// walk are skipped.
func DirDiskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walk, e.g. by value-log GC
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocatedBytes(fi)
		return nil
	})
	return total, err
}
