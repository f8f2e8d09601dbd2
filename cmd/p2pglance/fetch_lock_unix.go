//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow makes fetch refuse a PATH.part or PATH.part.json that is
// a symbolic link: whoever can write PATH's directory must not make fetch
// write through a link into another file.
const openNoFollow = syscall.O_NOFOLLOW

// lockFile takes an exclusive, non-blocking flock on f: two fetches into
// the same PATH.part would corrupt each other. Closing f releases it.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errPartBusy
	}
	return err
}
