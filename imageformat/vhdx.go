package imageformat

import (
	"bytes"
	"fmt"
	"math"
)

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
