// Package bytesize parses the sizes the benchmark and simulator commands
// take on their command lines: a positive whole number with an optional
// KiB, MiB or GiB suffix ("4MiB", "128 MiB", "65536").
package bytesize

import (
	"fmt"
	"strings"
)

// Parse returns the number of bytes s names.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
