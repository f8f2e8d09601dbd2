package raftbadger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Key prefixes; see the package documentation.
const (
	prefixLog   byte = 'l'
	prefixBytes byte = 's'
	prefixUint  byte = 'u'
	prefixMeta  byte = 'm'
)

// logKeyLen is the length of a log key: prefix plus big-endian index.
const logKeyLen = 1 + 8

var (
	// keyPending marks an operation split over several transactions.
	keyPending = []byte{prefixMeta, 'p', 'e', 'n', 'd', 'i', 'n', 'g'}
	// keyFirstHint holds an index below which no log key exists.
	keyFirstHint = []byte{prefixMeta, 'f', 'i', 'r', 's', 't'}
)

// Operation codes stored in the pending marker.
const (
	opStoreLogs   byte = 'S'
	opDeleteRange byte = 'D'
)

// logEncodingV1 is the first byte of every encoded log entry.
const logEncodingV1 byte = 1

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt value")

func logKey(index uint64) []byte {
	k := make([]byte, logKeyLen)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

func parseLogKey(k []byte) (uint64, error) {
	if len(k) != logKeyLen || k[0] != prefixLog {
		return 0, fmt.Errorf("parse log key %x: %w", k, errCorrupt)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func prefixed(prefix byte, key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefix
	copy(k[1:], key)
	return k
}

func encodeUint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

func decodeUint64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("decode uint64 of %d bytes: %w", len(b), errCorrupt)
	}
	return binary.BigEndian.Uint64(b), nil
}

// encodePending encodes the marker of a split operation over [lo, hi].
func encodePending(op byte, lo, hi uint64) []byte {
	b := make([]byte, 0, 17)
	b = append(b, op)
	b = binary.BigEndian.AppendUint64(b, lo)
	return binary.BigEndian.AppendUint64(b, hi)
}

func decodePending(b []byte) (op byte, lo, hi uint64, err error) {
	if len(b) != 17 || (b[0] != opStoreLogs && b[0] != opDeleteRange) {
		return 0, 0, 0, fmt.Errorf("decode pending marker %x: %w", b, errCorrupt)
	}
	return b[0], binary.BigEndian.Uint64(b[1:9]), binary.BigEndian.Uint64(b[9:]), nil
}

// encodeLog encodes every field of l except Index, which is the key.
//
// Layout (v1):
//
//	version byte (1)
//	uvarint Term
//	byte    Type
//	uvarint len(Data)+1, or 0 for a nil slice; then Data
//	uvarint len(Extensions)+1, or 0 for nil;   then Extensions
//	byte    0 for a zero AppendedAt, else 1 followed by
//	        varint Unix seconds and uvarint nanoseconds
func encodeLog(l *raft.Log) []byte {
	n := 1 + binary.MaxVarintLen64 + 1 +
		2*binary.MaxVarintLen64 + len(l.Data) + len(l.Extensions) +
		1 + 2*binary.MaxVarintLen64
	b := make([]byte, 0, n)
	b = append(b, logEncodingV1)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	b = appendBytes(b, l.Data)
	b = appendBytes(b, l.Extensions)
	if l.AppendedAt.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, l.AppendedAt.Unix())
		b = binary.AppendUvarint(b, uint64(l.AppendedAt.Nanosecond()))
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// decodeLog decodes buf into l. Data and Extensions alias buf, which
// the caller must therefore own.
func decodeLog(index uint64, buf []byte, l *raft.Log) error {
	d := decoder{buf: buf}
	if v := d.byte(); d.err == nil && v != logEncodingV1 {
		return fmt.Errorf("decode log %d: unknown encoding version %d: %w", index, v, errCorrupt)
	}
	out := raft.Log{Index: index}
	out.Term = d.uvarint()
	out.Type = raft.LogType(d.byte())
	out.Data = d.bytes()
	out.Extensions = d.bytes()
	if d.byte() == 1 {
		sec := d.varint()
		nsec := d.uvarint()
		if d.err == nil && nsec >= uint64(time.Second) {
			d.err = errCorrupt
		}
		out.AppendedAt = time.Unix(sec, int64(nsec)).UTC()
	}
	if d.err == nil && len(d.buf) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return fmt.Errorf("decode log %d: %w", index, d.err)
	}
	*l = out
	return nil
}

// decoder reads from buf, recording the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.err = errCorrupt
		return 0
	}
	v := d.buf[0]
	d.buf = d.buf[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.buf)) {
		d.err = errCorrupt
		return nil
	}
	v := d.buf[:n:n]
	d.buf = d.buf[n:]
	return v
}
