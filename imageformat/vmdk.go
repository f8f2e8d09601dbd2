package imageformat

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

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
