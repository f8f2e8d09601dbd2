package imageformat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Format is a disk image format, named as Glance's disk_format (and
// qemu-img) name it; GPT stands for any disk with an MBR (protective or
// legacy) partition table.
type Format string

// The formats an Inspector recognises.
const (
	Raw   Format = "raw"
	QCOW2 Format = "qcow2"
	VHD   Format = "vhd"
	VHDX  Format = "vhdx"
	VMDK  Format = "vmdk"
	VDI   Format = "vdi"
	QED   Format = "qed"
	ISO   Format = "iso"
	GPT   Format = "gpt"
	LUKS  Format = "luks"
)

// All lists the formats in the order results name them.
var All = []Format{Raw, QCOW2, VHD, VHDX, VMDK, VDI, QED, ISO, GPT, LUKS}

// Inspectable reports whether disk_format name is a format the inspector
// knows (other disk_formats, such as ami or ploop, cannot be checked).
func Inspectable(name string) bool {
	for _, f := range All {
		if string(f) == name {
			return true
		}
	}
	return false
}

// Violation is a failed safety check.
type Violation struct {
	Check  string // short name, as Glance's: backing_file, data_file, descriptor, mbr, ...
	Reason string
}

// probe is what the inspection says about one format.
type probe struct {
	format     Format
	match      bool   // the data carries this format's signature
	complete   bool   // every byte the checks need was seen
	broken     string // a structure the format needs is invalid
	size       int64  // virtual size, 0 when unknown
	fixed      bool   // vhd recognised by its trailing footer only
	violations []Violation
}

func (p *probe) violate(check, format string, args ...any) {
	p.violations = append(p.violations, Violation{Check: check, Reason: fmt.Sprintf(format, args...)})
}

func (in *Inspector) probeAll() []probe {
	return []probe{
		{format: Raw, match: true, complete: true, size: in.pos},
		in.probeQCOW2(), in.probeVHD(), in.probeVHDX(), in.probeVMDK(),
		in.probeVDI(), in.probeQED(), in.probeISO(), in.probeGPT(), in.probeLUKS(),
	}
}

var (
	be = binary.BigEndian
	le = binary.LittleEndian
)

// size64 turns an on-disk unsigned size into a virtual size (0 if it
// does not fit).
func size64(v uint64) int64 {
	if v > math.MaxInt64 {
		return 0
	}
	return int64(v)
}

// mulSize multiplies two on-disk counts into a virtual size (0 on
// overflow).
func mulSize(a, b uint64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return 0
	}
	return int64(a * b)
}

// qcow2: a big-endian header; magic "QFI\xfb", version at 4, backing file
// offset at 8, virtual size at 24, incompatible features at 72 (v3).
func (in *Inspector) probeQCOW2() probe {
	p := probe{format: QCOW2}
	h := in.head
	if len(h) < 512 || !bytes.HasPrefix(h, []byte("QFI\xfb")) {
		return p
	}
	p.match, p.complete = true, true
	p.size = size64(be.Uint64(h[24:]))
	if be.Uint64(h[8:]) != 0 {
		p.violate("backing_file", "Image has a backing file")
	}
	// Incompatible feature bit 2 (in the last byte of the big-endian
	// field): an external data file.
	if h[0x4f]&0x04 != 0 {
		p.violate("data_file", "Image has data_file set")
	}
	switch v := be.Uint32(h[4:]); v {
	case 2:
	case 3:
		// Bits 0-3 (dirty, corrupt, data file, compression type) are
		// known; anything above is refused.
		if h[0x4f]&0xf0 != 0 || !allZero(h[0x48:0x4f]) {
			p.violate("unknown_features", "Unknown QCOW2 features found")
		}
	default:
		p.violate("unknown_features", "Unsupported qcow2 version %d", v)
	}
	return p
}

// qed: banned outright, as Glance does.
func (in *Inspector) probeQED() probe {
	p := probe{format: QED}
	if len(in.head) >= 512 && bytes.HasPrefix(in.head, []byte("QED\x00")) {
		p.match, p.complete, p.size = true, true, in.pos
		p.violate("banned", "This file format is not allowed")
	}
	return p
}

// vhd: a 512-byte big-endian footer "conectix", at the start of the file
// (a copy, for dynamic and differencing disks) or only at its end (fixed
// disks); the original size is at 40.
func (in *Inspector) probeVHD() probe {
	p := probe{format: VHD}
	h := in.head
	if bytes.HasPrefix(h, []byte("conectix")) {
		p.match = true
		if len(h) >= 512 {
			p.complete = true
			p.size = size64(be.Uint64(h[40:]))
		}
		return p
	}
	t := in.tailBytes()
	if in.pos < 1024 || len(t) < 512 {
		return p
	}
	f := t[len(t)-512:]
	if fixedVHDFooter(f, in.pos) {
		p.match, p.complete, p.fixed = true, true, true
		p.size = size64(be.Uint64(f[40:]))
	}
	return p
}

// fixedVHDFooter reports a valid fixed-disk footer closing a file of
// total bytes: cookie, disk type 2, checksum, and a current size that is
// the rest of the file.
func fixedVHDFooter(f []byte, total int64) bool {
	if !bytes.HasPrefix(f, []byte("conectix")) || be.Uint32(f[60:]) != 2 {
		return false
	}
	var sum uint32
	for i, b := range f {
		if i < 64 || i >= 68 {
			sum += uint32(b)
		}
	}
	return ^sum == be.Uint32(f[64:]) && be.Uint64(f[48:]) == uint64(total-512)
}

// vdi: magic 0xbeda107f (little-endian) at 64, size at 368.
func (in *Inspector) probeVDI() probe {
	p := probe{format: VDI}
	h := in.head
	if len(h) >= 512 && le.Uint32(h[0x40:]) == 0xbeda107f {
		p.match, p.complete = true, true
		p.size = size64(le.Uint64(h[0x170:]))
	}
	return p
}

// iso: a volume descriptor at 32 KiB with identifier CD001 (ISO 9660) or
// NSR02/NSR03 (UDF); a primary one (type 1) gives the volume size.
func (in *Inspector) probeISO() probe {
	p := probe{format: ISO}
	const at = 32 << 10
	h := in.head
	if len(h) < at+2048 {
		return p
	}
	d := h[at : at+2048]
	switch string(d[1:6]) {
	case "CD001", "NSR02", "NSR03":
	default:
		return p
	}
	p.match, p.complete = true, true
	if d[0] == 1 {
		p.size = mulSize(uint64(le.Uint32(d[80:])), uint64(le.Uint16(d[128:])))
	}
	return p
}

// gpt: an MBR (boot signature 0xaa55 at 510) that is not a FAT boot
// sector; its partition entries must be sane, and a protective (0xee)
// entry must be the only one and start at LBA 1.
func (in *Inspector) probeGPT() probe {
	p := probe{format: GPT}
	h := in.head
	if len(h) < 512 || le.Uint16(h[510:]) != 0xaa55 || (h[0x10] == 2 && h[0x15] == 0xf8) {
		return p
	}
	p.match, p.complete, p.size = true, true, in.pos
	var used []int
	gpt := false
	for i := range 4 {
		e := h[446+16*i : 446+16*(i+1)]
		if e[0] != 0 && e[0] != 0x80 {
			p.violate("mbr", "MBR PTE %d has invalid boot flag", i)
			return p
		}
		if e[4] != 0 {
			used = append(used, i)
		}
		if e[4] == 0xee {
			gpt = true
			if e[1] != 0 || e[2] != 2 || e[3] != 0 {
				p.violate("mbr", "GPT MBR has invalid start CHS")
				return p
			}
			if le.Uint32(e[8:]) != 1 {
				p.violate("mbr", "GPT MBR has invalid start LBA")
				return p
			}
		}
	}
	switch {
	case gpt && (len(used) != 1 || used[0] != 0):
		p.violate("mbr", "GPT MBR defines invalid extra partitions")
	case len(used) == 0:
		p.violate("mbr", "GPT MBR has no partitions defined")
	}
	return p
}

// luks: magic "LUKS\xba\xbe", version at 6 (only 1 is allowed), the
// payload offset (sectors) at 104.
func (in *Inspector) probeLUKS() probe {
	p := probe{format: LUKS}
	h := in.head
	if !bytes.HasPrefix(h, []byte("LUKS\xba\xbe")) {
		return p
	}
	p.match = true
	if len(h) < 592 {
		return p
	}
	p.complete = true
	p.size = max(0, in.pos-mulSize(uint64(be.Uint32(h[104:])), 512))
	if v := be.Uint16(h[6:]); v != 1 {
		p.violate("version", "LUKS version %d is not supported", v)
	}
	return p
}

// MS-VHDX GUIDs as stored (the first three fields little-endian).
var (
	vhdxMetadataGUID = msGUID(0x8B7CA206, 0x4790, 0x4B9A, [8]byte{0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E})
	vhdxDiskSizeGUID = msGUID(0x2FA54224, 0xCD1B, 0x4876, [8]byte{0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8})
)

func msGUID(a uint32, b, c uint16, d [8]byte) []byte {
	g := make([]byte, 16)
	le.PutUint32(g, a)
	le.PutUint16(g[4:], b)
	le.PutUint16(g[6:], c)
	copy(g[8:], d[:])
	return g
}

// vhdxMetaRegion reads the region table at 192 KiB and returns the
// metadata table's region (its first 64 KiB).
func vhdxMetaRegion(head []byte) (*region, string) {
	if len(head) < vhdxRegionTableOff+16 {
		return nil, "region table truncated"
	}
	t := head[vhdxRegionTableOff:]
	if string(t[:4]) != "regi" {
		return nil, "region table signature not found"
	}
	count := le.Uint32(t[8:])
	if count >= 2048 {
		return nil, fmt.Sprintf("region count %d (limit 2047)", count)
	}
	for i := range int(count) {
		e := 16 + 32*i
		if e+32 > len(t) {
			return nil, "region table truncated"
		}
		if bytes.Equal(t[e:e+16], vhdxMetadataGUID) {
			off := le.Uint64(t[e+16:])
			if off > math.MaxInt64-vhdxMetaTableLen {
				return nil, "metadata region offset out of range"
			}
			return &region{off: int64(off), n: vhdxMetaTableLen}, ""
		}
	}
	return nil, "metadata region not found"
}

// vhdxSizeRegion reads the metadata table, once enough of it is there
// (or the image ended), and returns the region of the Virtual Disk Size
// item: nil and no error while it waits for more.
func vhdxSizeRegion(meta *region, final bool) (*region, string) {
	d := meta.data
	if len(d) < 32 {
		if final || meta.complete() {
			return nil, "metadata table truncated"
		}
		return nil, ""
	}
	if string(d[:8]) != "metadata" {
		return nil, "metadata table signature not found"
	}
	count := int(le.Uint16(d[10:]))
	if count >= 2048 {
		return nil, fmt.Sprintf("metadata item count %d (limit 2047)", count)
	}
	if len(d) < 32+32*count {
		if final || meta.complete() {
			return nil, "metadata table truncated"
		}
		return nil, ""
	}
	for i := range count {
		e := d[32+32*i : 64+32*i]
		if bytes.Equal(e[:16], vhdxDiskSizeGUID) {
			if n := le.Uint32(e[20:]); n != 8 {
				return nil, fmt.Sprintf("virtual disk size item of %d bytes", n)
			}
			return &region{off: meta.off + int64(le.Uint32(e[16:])), n: 8}, ""
		}
	}
	return nil, "virtual disk size item not found"
}

// vhdx: "vhdxfile" at 0; the size is the Virtual Disk Size metadata item.
func (in *Inspector) probeVHDX() probe {
	p := probe{format: VHDX}
	if !bytes.HasPrefix(in.head, []byte("vhdxfile")) {
		return p
	}
	p.match = true
	switch {
	case in.vhdxErr != "":
		p.broken = in.vhdxErr
	case in.vds != nil && in.vds.complete():
		p.complete = true
		p.size = size64(le.Uint64(in.vds.data))
	}
	return p
}

// VMDK sparse extent header fields (little-endian).
const (
	vmdkDescMax   = 1<<20 - 1
	vmdkGDAtEnd   = math.MaxUint64
	vmdkMinHeader = 64
)

// vmdk: a hosted sparse extent ("KDMV", descriptor embedded at sector 1),
// or a text descriptor file. Only single-file monolithicSparse and
// streamOptimized images are safe: a descriptor file, or any other
// createType, names separate extent files qemu would open.
func (in *Inspector) probeVMDK() probe {
	p := probe{format: VMDK}
	h := in.head
	if !bytes.HasPrefix(h, []byte("KDMV")) {
		if len(h) < vmdkMinHeader || !isText(h[:min(len(h), 512)]) {
			return p
		}
		desc := parseVMDKDescriptor(h[:min(len(h), vmdkDescMax)])
		if desc == nil || desc.createType == "" {
			return p
		}
		p.match, p.complete = true, true
		p.violate("descriptor", "VMDK descriptor file (createType %q): its extents are separate files", desc.createType)
		return p
	}
	p.match = true
	if len(h) < vmdkMinHeader {
		return p
	}
	ver := le.Uint32(h[4:])
	if ver < 1 || ver > 3 {
		p.broken = fmt.Sprintf("unsupported VMDK version %d", ver)
		return p
	}
	if le.Uint64(h[28:]) != 1 {
		p.broken = "wrong descriptor location"
		return p
	}
	descSize := int(min(le.Uint64(h[36:]), vmdkDescMax/512+1) * 512)
	descSize = min(descSize, vmdkDescMax)
	if len(h) < 512+descSize {
		return p
	}
	gdAtEnd := le.Uint64(h[56:]) == vmdkGDAtEnd
	t := in.tailBytes()
	if gdAtEnd && (len(t) < tailSize || in.pos < 512+tailSize) {
		return p
	}
	p.complete = true
	desc := parseVMDKDescriptor(h[512 : 512+descSize])
	switch {
	case desc == nil:
		p.violate("descriptor", "No descriptor found")
	default:
		if desc.safeType() {
			p.size = mulSize(le.Uint64(h[12:]), 512)
		}
		if why := desc.unsafe(); why != "" {
			p.violate("descriptor", "%s", why)
		}
	}
	if gdAtEnd {
		if why := vmdkFooterProblem(h, t); why != "" {
			p.violate("footer", "%s", why)
		}
	}
	return p
}

// vmdkDescriptor is a parsed (lower-cased) VMDK descriptor.
type vmdkDescriptor struct {
	text       string
	createType string // "" when there is none
}

// parseVMDKDescriptor reads a descriptor: ASCII text up to the first NUL;
// nil if it is not ASCII.
func parseVMDKDescriptor(b []byte) *vmdkDescriptor {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	for _, c := range b {
		if c >= 0x80 {
			return nil
		}
	}
	d := &vmdkDescriptor{text: strings.ToLower(string(b))}
	const key = `createtype="`
	if i := strings.Index(d.text, key); i >= 0 {
		rest := d.text[i+len(key):]
		if j := strings.IndexByte(rest, '"'); j >= 0 && j < 64 {
			d.createType = rest[:j]
		}
	}
	return d
}

func (d *vmdkDescriptor) safeType() bool {
	return d.createType == "monolithicsparse" || d.createType == "streamoptimized"
}

// unsafe returns why the descriptor is refused, or "": the createType
// must be a single-file one, every line must be a comment, a ddb entry,
// a key=value field or an extent, and no extent may name a path.
func (d *vmdkDescriptor) unsafe() string {
	if !d.safeType() {
		return "Unsupported subformat"
	}
	extents := 0
	for _, line := range strings.Split(d.text, "\n") {
		line = strings.TrimSpace(line)
		key, _, hasEq := strings.Cut(line, "=")
		switch first, _, _ := strings.Cut(line, " "); {
		case line == "" || strings.HasPrefix(line, "#"), strings.HasPrefix(line, "ddb"):
		case hasEq && !strings.Contains(key, " "):
		case first == "rw" || first == "rdonly" || first == "noaccess":
			if strings.Contains(line, "/") {
				return "Invalid extent filenames found"
			}
			extents++
		default:
			return "Invalid VMDK descriptor data"
		}
	}
	if extents == 0 {
		return "No extents found"
	}
	return ""
}

// vmdkFooterProblem checks the end of a streamOptimized VMDK whose header
// defers to a footer: footer marker, footer (agreeing with the header),
// end-of-stream marker.
func vmdkFooterProblem(h, t []byte) string {
	f := t[512:1024]
	switch {
	case string(f[:4]) != string(h[:4]):
		return "Header and footer signature do not match"
	case le.Uint32(f[4:]) != le.Uint32(h[4:]):
		return "Header and footer versions do not match"
	case le.Uint64(f[28:]) != le.Uint64(h[28:]) || le.Uint64(f[36:]) != le.Uint64(h[36:]):
		return "Footer specifies a different descriptor than header"
	case le.Uint64(f[56:]) == vmdkGDAtEnd:
		return "Footer indicates another footer"
	}
	m := t[:512]
	if le.Uint32(m[8:]) != 0 || le.Uint32(m[12:]) != 3 || !allZero(m[16:]) {
		return "Footer marker is invalid"
	}
	if !allZero(t[1024:]) {
		return "End-of-stream marker is invalid"
	}
	return ""
}

// isText reports printable ASCII and whitespace only.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && !strings.ContainsRune("\t\n\v\f\r", rune(c)) {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
