package raftfsm

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// encoder appends the record encoding: unsigned varints for lengths and
// counts, signed varints for numbers. Strings that are not id, name,
// location URL or upload session are values (val): raw, a dict code, or
// lowercase hex packed as bytes.
type encoder struct {
	b    []byte
	dict *strDict
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// nullStr: 0 for nil, else 1 + length.
func (e *encoder) nullStr(p *string) {
	if p == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(*p)) + 1)
	e.b = append(e.b, *p...)
}

// Value tags: the low two bits of a value's header.
const (
	valRaw  = 0 // header>>2 bytes follow
	valDict = 1 // header>>2 is a dict code
	valHex  = 2 // header>>2 bytes follow, to be written as lowercase hex
	valNil  = 3 // a nil *string
)

// val writes a value string: packed as bytes when it is lowercase hex of
// even length (digests), by code when the dict has it, else raw.
func (e *encoder) val(s string) {
	if isLowerHex(s) {
		e.uvarint(uint64(len(s)/2)<<2 | valHex)
		for i := 0; i < len(s); i += 2 {
			e.b = append(e.b, unhex(s[i])<<4|unhex(s[i+1]))
		}
		return
	}
	if c, ok := e.dict.code(s); ok {
		e.uvarint(uint64(c)<<2 | valDict)
		return
	}
	e.uvarint(uint64(len(s))<<2 | valRaw)
	e.b = append(e.b, s...)
}

func (e *encoder) nullVal(p *string) {
	if p == nil {
		e.uvarint(valNil)
		return
	}
	e.val(*p)
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func isLowerHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// count writes a collection's length, 0 standing for nil.
func (e *encoder) count(isNil bool, n int) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *encoder) strs(ss []string) {
	e.count(ss == nil, len(ss))
	for _, s := range ss {
		e.val(s)
	}
}

// strMap writes a map's entries sorted by key (the encoding of a map does
// not depend on its iteration order).
func (e *encoder) strMap(m map[string]string) {
	e.count(m == nil, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.val(k)
		e.val(m[k])
	}
}

// time writes seconds, nanoseconds and the zone offset: what a time's
// JSON says. The zone's name is not kept (JSON does not carry it).
func (e *encoder) time(t time.Time) {
	_, off := t.Zone()
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
	e.varint(int64(off))
}

func (e *encoder) manifest(m *catalog.Manifest) {
	if m == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.count(m.Chunks == nil, len(m.Chunks))
	for _, c := range m.Chunks {
		e.val(c.Digest)
		e.varint(c.Size)
	}
	e.varint(m.Size)
	e.val(m.Checksum)
	e.val(m.OSHashAlgo)
	e.val(m.OSHashValue)
}

// decoder reads what encoder wrote. The input is always a record this
// process encoded, so a malformed one is a bug: it panics.
type decoder struct {
	s    string
	i    int
	dict []string
}

func (d *decoder) byte() byte {
	b := d.s[d.i]
	d.i++
	return b
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		b := d.s[d.i]
		d.i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// raw returns the next n bytes as a substring (no copy).
func (d *decoder) raw(n int) string {
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *decoder) str() string { return d.raw(int(d.uvarint())) }

// optStr is a decoded nullable string.
type optStr struct {
	s  string
	ok bool
}

// ptr stores the string in *slot and returns slot, or nil.
func (o optStr) ptr(slot *string) *string {
	if !o.ok {
		return nil
	}
	*slot = o.s
	return slot
}

func (d *decoder) nullStr() optStr {
	n := d.uvarint()
	if n == 0 {
		return optStr{}
	}
	return optStr{s: d.raw(int(n - 1)), ok: true}
}

// valOf decodes the value whose header h was just read.
func (d *decoder) valOf(h uint64) string {
	switch h & 3 {
	case valRaw:
		return d.raw(int(h >> 2))
	case valDict:
		return d.dict[h>>2]
	case valHex:
		return string(appendHex(nil, d.raw(int(h>>2))))
	}
	panic("raftfsm: nil value where a string was encoded")
}

func (d *decoder) val() string { return d.valOf(d.uvarint()) }

func (d *decoder) nullVal() optStr {
	h := d.uvarint()
	if h == valNil {
		return optStr{}
	}
	return optStr{s: d.valOf(h), ok: true}
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		b = append(b, hexDigits[raw[i]>>4], hexDigits[raw[i]&15])
	}
	return b
}

func (d *decoder) count() (n int, isNil bool) {
	c := d.uvarint()
	if c == 0 {
		return 0, true
	}
	return int(c - 1), false
}

func (d *decoder) strs() []string {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.val()
	}
	return out
}

func (d *decoder) strMap() map[string]string {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.val()
		m[k] = d.val()
	}
	return m
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := int64(d.uvarint())
	off := int(d.varint())
	t := time.Unix(sec, nsec)
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", off))
}

func (d *decoder) manifest() *catalog.Manifest {
	if d.byte() == 0 {
		return nil
	}
	m := &catalog.Manifest{}
	if n, isNil := d.count(); !isNil {
		m.Chunks = make([]catalog.ChunkRef, n)
		// The hex digests are written into one string, which each
		// slices: one allocation for the whole manifest. The first
		// pass takes the others and measures the hex.
		start, hexLen := d.i, 0
		for i := range m.Chunks {
			h := d.uvarint()
			if h&3 == valHex {
				d.i += int(h >> 2)
				hexLen += int(h>>2) * 2
			} else {
				m.Chunks[i].Digest = d.valOf(h)
			}
			m.Chunks[i].Size = d.varint()
		}
		if hexLen > 0 {
			end := d.i
			buf := make([]byte, 0, hexLen)
			d.i = start
			for range m.Chunks {
				h := d.uvarint()
				if h&3 == valHex {
					buf = appendHex(buf, d.raw(int(h>>2)))
				} else if h&3 == valRaw {
					d.i += int(h >> 2)
				}
				d.varint()
			}
			all := string(buf)
			d.i = start
			for i := range m.Chunks {
				h := d.uvarint()
				if h&3 == valHex {
					m.Chunks[i].Digest, all = all[:h>>2*2], all[h>>2*2:]
					d.i += int(h >> 2)
				} else if h&3 == valRaw {
					d.i += int(h >> 2)
				}
				d.varint()
			}
			d.i = end
		}
	}
	m.Size = d.varint()
	m.Checksum = d.val()
	m.OSHashAlgo = d.val()
	m.OSHashValue = d.val()
	return m
}
