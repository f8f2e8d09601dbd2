package main

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// copyBuffer is the unit the copy loop reads, hashes and writes. A
// multiple of sparseBlock, so reads stay block-aligned.
const copyBuffer = 1 << 20

// osHashes are the os_hash_algo values a fetch can check (Glance's
// hashing_algorithm takes hashlib names; sha512 is its default).
var osHashes = map[string]func() hash.Hash{
	"sha512": sha512.New, "sha384": sha512.New384, "sha256": sha256.New,
	"sha224": sha256.New224, "sha1": sha1.New, "md5": md5.New,
}

// checkedHash is one hash of the image bytes and its catalog value.
type checkedHash struct {
	name, field, want string
	h                 hash.Hash
	jobs              chan []byte
}

// imageHash hashes the image bytes with every hash the catalog records,
// each in its own goroutine, so md5 and sha512 together cost the time of
// the slower one.
type imageHash struct {
	hs      []*checkedHash
	done    chan struct{}
	skipped string // a recorded hash that cannot be checked, if any
}

func newImageHash(img *catalogImage) *imageHash {
	s := &imageHash{done: make(chan struct{})}
	if img.Checksum != nil && *img.Checksum != "" {
		s.add("md5", "checksum", *img.Checksum, md5.New())
	}
	if img.OSHashValue != nil && *img.OSHashValue != "" && img.OSHashAlgo != nil {
		if mk, ok := osHashes[strings.ToLower(*img.OSHashAlgo)]; ok {
			s.add(strings.ToLower(*img.OSHashAlgo), "os_hash_value", *img.OSHashValue, mk())
		} else {
			s.skipped = *img.OSHashAlgo
		}
	}
	return s
}

func (s *imageHash) add(name, field, want string, h hash.Hash) {
	c := &checkedHash{name: name, field: field, want: strings.ToLower(want), h: h, jobs: make(chan []byte)}
	s.hs = append(s.hs, c)
	go func() {
		for p := range c.jobs {
			c.h.Write(p)
			s.done <- struct{}{}
		}
	}()
}

// write hashes p while w (if not nil) writes it, and returns when both
// are done: p may be reused then.
func (s *imageHash) write(p []byte, w io.Writer) error {
	for _, c := range s.hs {
		c.jobs <- p
	}
	var err error
	if w != nil {
		_, err = w.Write(p)
	}
	for range s.hs {
		<-s.done
	}
	return err
}

// reset forgets every byte hashed so far.
func (s *imageHash) reset() {
	for _, c := range s.hs {
		c.h.Reset()
	}
}

// verify compares every hash with its catalog value.
func (s *imageHash) verify() error {
	var bad []string
	for _, c := range s.hs {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want {
			bad = append(bad, fmt.Sprintf("%s of the data is %s, catalog %s is %s", c.name, got, c.field, c.want))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", errVerify, strings.Join(bad, "; "))
	}
	return nil
}

// names lists what was checked, for the final line.
func (s *imageHash) names() string {
	names := []string{"size"}
	for _, c := range s.hs {
		names = append(names, c.name)
	}
	out := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	if len(names) == 1 {
		out = "size (the catalog records no hash)"
	}
	if s.skipped != "" {
		out += fmt.Sprintf(" (os_hash_algo %q not supported: os_hash_value not checked)", s.skipped)
	}
	return out
}

// close stops the hashing goroutines.
func (s *imageHash) close() {
	for _, c := range s.hs {
		close(c.jobs)
	}
	s.hs = nil
}

// hashPrefix hashes the bytes kept in the part from an earlier run, so the
// hashes of a resumed fetch cover the whole image.
func hashPrefix(ctx context.Context, part *partFile, sum *imageHash, prog *progress) error {
	prog.phase("checking", 0, part.offset)
	r := io.NewSectionReader(part.f, 0, part.offset)
	buf := make([]byte, copyBuffer)
	for done := int64(0); done < part.offset; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fetch %s interrupted while checking the kept %s (%w); %s kept: run the same command again to resume",
				part.record.ImageID, fmtBytes(part.offset), context.Cause(ctx), part.path)
		}
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), part.offset-done)])
		if err != nil {
			return fmt.Errorf("read %s: %w", part.path, err)
		}
		if err := sum.write(buf[:n], nil); err != nil {
			return err
		}
		done += int64(n)
		prog.add(int64(n))
	}
	return nil
}

// readAhead is how many buffers the network reader may fill ahead of
// the hashing and writing.
const readAhead = 3

// filledBuffer is one read of the image data.
type filledBuffer struct {
	b   []byte
	err error
}

// copyImage copies want bytes from body into the part, hashing them. A
// goroutine reads ahead while the previous buffers are hashed and
// written. Reads end on copyBuffer boundaries of the file, so zero blocks
// stay aligned for the sparse writer. On an error the reader goroutine
// ends when the caller closes body.
func copyImage(part *partFile, sum *imageHash, body io.Reader, want int64, prog *progress) (int64, error) {
	free := make(chan []byte, readAhead)
	for range readAhead {
		free <- make([]byte, copyBuffer)
	}
	full := make(chan filledBuffer, readAhead) // never blocks: readAhead buffers in all
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(full)
		off, left := part.w.off, want
		for left > 0 {
			var b []byte
			select {
			case b = <-free:
			case <-quit:
				return
			}
			k := min(int64(copyBuffer)-off%copyBuffer, left)
			m, err := io.ReadFull(body, b[:k])
			off, left = off+int64(m), left-int64(m)
			full <- filledBuffer{b[:m], err}
			if err != nil {
				return
			}
		}
	}()
	var n int64
	for f := range full {
		if len(f.b) > 0 {
			if err := sum.write(f.b, part.w); err != nil {
				return n, fmt.Errorf("write %s: %w", part.path, err)
			}
			n += int64(len(f.b))
			prog.add(int64(len(f.b)))
		}
		if err := f.err; err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("read image data: %w", err)
		}
		free <- f.b[:cap(f.b)]
	}
	return n, nil
}

// idleReader calls stalled when no byte arrives for d.
type idleReader struct {
	r io.Reader
	d time.Duration
	t *time.Timer
}

func newIdleReader(r io.Reader, d time.Duration, stalled func()) *idleReader {
	return &idleReader{r: r, d: d, t: time.AfterFunc(d, stalled)}
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

func (r *idleReader) stop() { r.t.Stop() }
