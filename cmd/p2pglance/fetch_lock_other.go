//go:build !unix

package main

import "os"

// openNoFollow is 0 where O_NOFOLLOW is not available.
const openNoFollow = 0

// lockFile does nothing where flock is not available.
func lockFile(*os.File) error { return nil }
