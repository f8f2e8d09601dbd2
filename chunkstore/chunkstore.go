package chunkstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/p2pglance/p2pglance/internal/diskfree"
)

// DigestSize is the size in bytes of a chunk digest (BLAKE3-256).
const DigestSize = 32

// Digest is the BLAKE3-256 digest of a chunk; it is the chunk's name.
type Digest [DigestSize]byte

// Sentinel errors returned by every Store.
var (
	// ErrNotFound means the store holds no copy of the chunk.
	ErrNotFound = errors.New("chunk not found")
	// ErrCorrupt means the stored copy no longer matches its digest. The
	// store has already dropped the bad copy when it returns this error.
	ErrCorrupt = errors.New("stored chunk is corrupt")
	// ErrDigestMismatch means data handed to Put does not hash to the digest.
	ErrDigestMismatch = errors.New("chunk data does not match its digest")
	// ErrBadDigest means a textual digest could not be parsed.
	ErrBadDigest = errors.New("malformed chunk digest")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("chunk store closed")
	// ErrNoSpace means Put refused a chunk that would leave less free
	// space on the store's file system than its reserve; nothing was
	// written.
	ErrNoSpace = diskfree.ErrNoSpace
)

// Sum returns the BLAKE3-256 digest of data.
func Sum(data []byte) Digest {
	return Digest(blake3.Sum256(data))
}

// String returns the lower-case hex form of d.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest parses the 64-character hex form of a digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*DigestSize {
		return d, fmt.Errorf("parse digest %q: %w", s, ErrBadDigest)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("parse digest %q: %w", s, ErrBadDigest)
	}
	return d, nil
}

// Stats are a store's counters.
type Stats struct {
	Chunks       int64 // chunks held
	Bytes        int64 // sum of chunk sizes held
	CorruptFound int64 // copies found corrupt on read and dropped since open
	DiskBytes    int64 // bytes the store's files take on disk (approximate)
	// Stored counts the chunks written since open (not those already
	// held): unchanged, no chunk arrived.
	Stored int64
}

// Store holds chunks named by their BLAKE3-256 digest. Chunks are small
// (at most a few MiB), so data is passed as byte slices. Every
// implementation verifies the digest on write and on read: a Store never
// returns bytes that do not hash to the digest asked for.
// Implementations are safe for concurrent use.
type Store interface {
	// Put stores data under d. It returns ErrDigestMismatch (and stores
	// nothing) if Sum(data) != d. Putting a chunk already held is a cheap
	// no-op. Put does not promise durability until Sync returns.
	Put(ctx context.Context, d Digest, data []byte) error
	// Get returns the chunk, appended to buf[:0] (buf's capacity is reused
	// when large enough). It returns ErrNotFound if absent, and ErrCorrupt
	// if the stored bytes fail verification; in that case the bad copy has
	// been deleted and Stats().CorruptFound incremented.
	Get(ctx context.Context, d Digest, buf []byte) ([]byte, error)
	// Has reports whether a copy of d is held (without verifying it).
	Has(ctx context.Context, d Digest) (bool, error)
	// Size returns the size of the held chunk d, or ErrNotFound.
	Size(ctx context.Context, d Digest) (int64, error)
	// Delete removes the given chunks; absent ones are ignored.
	Delete(ctx context.Context, ds ...Digest) error
	// List calls fn for every held chunk, in digest order, until fn
	// returns an error (which List returns).
	List(ctx context.Context, fn func(d Digest, size int64) error) error
	// Sync makes every earlier Put and Delete durable.
	Sync(ctx context.Context) error
	// Reclaim gives the disk space of deleted chunks back to the file
	// system (for Badger: value-log garbage collection). It may take time
	// proportional to the data held and honours ctx.
	Reclaim(ctx context.Context) error
	// Stats returns the store's counters.
	Stats() Stats
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}
