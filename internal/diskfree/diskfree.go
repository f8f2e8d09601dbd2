// Package diskfree tells the stores how much space their file system has
// left, so that they refuse a write before the disk fills: Badger writes
// through memory-mapped files, and a write to a mapped page a full file
// system cannot back kills the process with SIGBUS instead of returning
// an error.
package diskfree

import (
	"errors"
	"fmt"
)

// ErrNoSpace means a write was refused because it would leave less free
// space on the file system than the reserve. Nothing was written.
var ErrNoSpace = errors.New("no space left on the data directory's file system")

// Check returns an error wrapping ErrNoSpace when writing need bytes under
// dir would leave fewer than reserve bytes available there. A reserve of
// 0, or a platform that cannot tell, never refuses.
func Check(dir string, reserve, need int64) error {
	if reserve <= 0 {
		return nil
	}
	free, ok := Bytes(dir)
	if !ok || free-need >= reserve {
		return nil
	}
	return fmt.Errorf("%w: %d bytes free, %d to write, %d kept in reserve", ErrNoSpace, free, need, reserve)
}
