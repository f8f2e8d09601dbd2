package imageformat

import "bytes"

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
