package chunkstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FlipOnDisk finds the first occurrence of needle in the regular files
// under dir (walked in lexical order) and inverts the byte right after it,
// in place; if the needle ends the file, its own last byte is inverted
// instead. It reports whether it found the needle. Integration tests use
// it to damage a chunk on a stopped node's disk, passing e.g. the chunk's
// first 64 bytes as the needle; the store must be closed meanwhile.
func FlipOnDisk(dir string, needle []byte) (bool, error) {
	if len(needle) == 0 {
		return false, fmt.Errorf("flip on disk: empty needle: %w", os.ErrInvalid)
	}
	errFound := errors.New("found")
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		ok, err := flipInFile(path, needle)
		if err != nil {
			return err
		}
		if ok {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("flip on disk: %w", err)
	}
	return false, nil
}

// flipInFile does FlipOnDisk's work for one file, reading it in blocks
// that overlap by len(needle)-1 bytes.
func flipInFile(path string, needle []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const block = 1 << 20
	buf := make([]byte, block+len(needle)-1)
	var (
		base int64 // file offset of buf[0]
		have int   // valid bytes in buf
	)
	for {
		n, rerr := io.ReadFull(f, buf[have:])
		have += n
		if i := bytes.Index(buf[:have], needle); i >= 0 {
			return true, flipAt(f, base+int64(i+len(needle)))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return false, nil
		}
		if rerr != nil {
			return false, rerr
		}
		keep := len(needle) - 1
		copy(buf, buf[have-keep:have])
		base += int64(have - keep)
		have = keep
	}
}

// flipAt inverts the byte at off, or the file's last byte if off is at
// the end.
func flipAt(f *os.File, off int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if off >= fi.Size() {
		off = fi.Size() - 1
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		return err
	}
	return f.Sync()
}
