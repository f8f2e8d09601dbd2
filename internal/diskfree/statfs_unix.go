//go:build unix

package diskfree

import "syscall"

// Bytes returns the bytes available to unprivileged writers on the file
// system holding path; ok is false when it cannot tell.
func Bytes(path string) (n int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
