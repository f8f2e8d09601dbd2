//go:build !unix

package diskfree

// Bytes cannot tell on this platform.
func Bytes(string) (int64, bool) { return 0, false }
