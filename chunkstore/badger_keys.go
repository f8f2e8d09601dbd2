package chunkstore

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
)

// Key layout of a BadgerStore. See the package documentation.
var (
	metaPrefix   = []byte("m/") // "m/" + digest -> metaLen-byte chunk record
	segPrefix    = []byte("c/") // "c/" + digest + uint32 segment index -> chunk bytes
	fillerPrefix = []byte("r/") // "r/" + uint32 -> transient value-log rotation filler
)

const (
	metaKeyLen = 2 + DigestSize
	segKeyLen  = 2 + DigestSize + 4
	// metaLen is the size of a chunk record: uint64 chunk size followed by
	// uint32 segment count, both big-endian.
	metaLen = 12
)

// metaKey returns the key of d's chunk record.
func metaKey(d Digest) []byte {
	k := make([]byte, 0, metaKeyLen)
	k = append(k, metaPrefix...)
	return append(k, d[:]...)
}

// segKey returns the key of segment i of chunk d.
func segKey(d Digest, i uint32) []byte {
	k := make([]byte, 0, segKeyLen)
	k = append(k, segPrefix...)
	k = append(k, d[:]...)
	return binary.BigEndian.AppendUint32(k, i)
}

// fillerKey returns the key of rotation filler i.
func fillerKey(i uint32) []byte {
	k := make([]byte, 0, len(fillerPrefix)+4)
	k = append(k, fillerPrefix...)
	return binary.BigEndian.AppendUint32(k, i)
}

// digestFromMetaKey extracts the digest from a chunk record key.
func digestFromMetaKey(k []byte) (Digest, bool) {
	var d Digest
	if len(k) != metaKeyLen {
		return d, false
	}
	copy(d[:], k[len(metaPrefix):])
	return d, true
}

// chunkMeta is the decoded chunk record.
type chunkMeta struct {
	size int64  // chunk length in bytes
	nseg uint32 // number of segment keys holding the bytes
}

func (m chunkMeta) encode() []byte {
	b := make([]byte, metaLen)
	binary.BigEndian.PutUint64(b, uint64(m.size))
	binary.BigEndian.PutUint32(b[8:], m.nseg)
	return b
}

func decodeMeta(b []byte) (chunkMeta, error) {
	if len(b) != metaLen {
		return chunkMeta{}, fmt.Errorf("decode chunk record of %d bytes: %w", len(b), ErrCorrupt)
	}
	m := chunkMeta{
		size: int64(binary.BigEndian.Uint64(b)),
		nseg: binary.BigEndian.Uint32(b[8:]),
	}
	if m.size < 0 {
		return chunkMeta{}, fmt.Errorf("decode chunk record: negative size: %w", ErrCorrupt)
	}
	return m, nil
}

// segments returns how many segments of at most segSize bytes hold size bytes.
func segments(size, segSize int64) uint32 {
	return uint32((size + segSize - 1) / segSize)
}

// badgerLogger adapts Badger's printf-style logger to slog. Only warnings
// and errors are forwarded: Badger logs every compaction, flush and GC run
// at INFO, which would drown the node's own logs.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Warningf(format string, args ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
