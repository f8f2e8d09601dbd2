package imageformat

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Crafted images: the smallest byte layouts each format's inspector
// reads, built from the format specifications (qcow2.txt, VMDK 1.1,
// VHD/VHDX, VDI, ISO 9660, UEFI GPT), so the tests need no download.

const mib = 1 << 20

// qcowOpts varies a crafted qcow2 header.
type qcowOpts struct {
	version  uint32
	backing  bool
	features uint64 // incompatible features
}

// craftQCOW2 returns a qcow2 header of a size-byte disk in a 1 KiB file.
func craftQCOW2(size uint64, o qcowOpts) []byte {
	if o.version == 0 {
		o.version = 3
	}
	b := make([]byte, 1024)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], o.version)
	if o.backing {
		copy(b[512:], "base.qcow2")
		binary.BigEndian.PutUint64(b[8:], 512)
		binary.BigEndian.PutUint32(b[16:], 10)
	}
	binary.BigEndian.PutUint32(b[20:], 16) // cluster bits
	binary.BigEndian.PutUint64(b[24:], size)
	if o.version >= 3 {
		binary.BigEndian.PutUint64(b[72:], o.features)
		binary.BigEndian.PutUint32(b[96:], 4)    // refcount order
		binary.BigEndian.PutUint32(b[100:], 104) // header length
	}
	return b
}

// vmdkOpts varies a crafted monolithicSparse/streamOptimized VMDK.
type vmdkOpts struct {
	createType string
	extent     string // the extent line; default names the file itself
	extraLine  string
	gdAtEnd    bool // streamOptimized with a footer
	badEOS     bool
	descSector uint64
	version    uint32
}

// craftVMDK returns a hosted sparse extent of a size-byte disk.
func craftVMDK(size uint64, o vmdkOpts) []byte {
	if o.createType == "" {
		o.createType = "monolithicSparse"
	}
	if o.extent == "" {
		o.extent = fmt.Sprintf(`RW %d SPARSE "disk.vmdk"`, size/512)
	}
	if o.descSector == 0 {
		o.descSector = 1
	}
	if o.version == 0 {
		o.version = 1
	}
	desc := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n" +
		`createType="` + o.createType + "\"\n\n# Extent description\n" + o.extent + "\n" + o.extraLine +
		"\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n"
	const descSectors = 20
	hdr := make([]byte, 512)
	copy(hdr, "KDMV")
	le.PutUint32(hdr[4:], o.version)
	le.PutUint32(hdr[8:], 3)
	le.PutUint64(hdr[12:], size/512)
	le.PutUint64(hdr[20:], 128)
	le.PutUint64(hdr[28:], o.descSector)
	le.PutUint64(hdr[36:], descSectors)
	le.PutUint32(hdr[44:], 512)
	le.PutUint64(hdr[48:], 21)
	le.PutUint64(hdr[56:], 22)
	if o.gdAtEnd {
		le.PutUint64(hdr[56:], vmdkGDAtEnd)
	}
	copy(hdr[73:], "\n \r\n")
	b := append(hdr, make([]byte, descSectors*512)...)
	copy(b[512:], desc)
	b = append(b, make([]byte, 4*512)...) // grain directory and tables
	if o.gdAtEnd {
		marker := make([]byte, 512)
		le.PutUint64(marker, 1)
		le.PutUint32(marker[12:], 3) // footer marker
		footer := append([]byte(nil), hdr...)
		le.PutUint64(footer[56:], 22)
		eos := make([]byte, 512)
		if o.badEOS {
			eos[100] = 1
		}
		b = append(b, marker...)
		b = append(b, footer...)
		b = append(b, eos...)
	}
	return b
}

// craftVMDKDescriptorFile returns a text VMDK descriptor whose extent is
// a separate file.
func craftVMDKDescriptorFile(createType, extent string) []byte {
	return []byte("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"" + createType +
		"\"\n\n# Extent description\n" + extent + "\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n")
}

// vhdFooter returns a VHD footer (disk type 2 fixed, 3 dynamic) of a
// size-byte disk.
func vhdFooter(size uint64, diskType uint32) []byte {
	f := make([]byte, 512)
	copy(f, "conectix")
	binary.BigEndian.PutUint32(f[8:], 2)
	binary.BigEndian.PutUint32(f[12:], 0x10000)
	binary.BigEndian.PutUint64(f[16:], ^uint64(0))
	if diskType == 3 {
		binary.BigEndian.PutUint64(f[16:], 512)
	}
	copy(f[28:], "test")
	copy(f[36:], "Wi2k")
	binary.BigEndian.PutUint64(f[40:], size)
	binary.BigEndian.PutUint64(f[48:], size)
	binary.BigEndian.PutUint32(f[60:], diskType)
	var sum uint32
	for _, c := range f {
		sum += uint32(c)
	}
	binary.BigEndian.PutUint32(f[64:], ^sum)
	return f
}

// craftVHDDynamic returns a dynamic VHD: footer copy, dynamic header, a
// block table, footer.
func craftVHDDynamic(size uint64) []byte {
	f := vhdFooter(size, 3)
	b := append([]byte(nil), f...)
	dyn := make([]byte, 1024)
	copy(dyn, "cxsparse")
	b = append(b, dyn...)
	b = append(b, make([]byte, 512)...)
	return append(b, f...)
}

// craftVHDFixed returns a fixed VHD around disk.
func craftVHDFixed(disk []byte) []byte {
	return append(append([]byte(nil), disk...), vhdFooter(uint64(len(disk)), 2)...)
}

// craftVHDX returns a VHDX whose metadata region is at metaOff, with the
// Virtual Disk Size item 64 KiB into it; truncate drops the file's end.
func craftVHDX(size uint64, metaOff int, truncate int) []byte {
	n := max(metaOff+(64<<10)+4096, 1*mib+4096)
	b := make([]byte, n)
	copy(b, "vhdxfile")
	copy(b[8:], []byte{'p', 0, '2', 0, 'p', 0})
	rt := b[vhdxRegionTableOff:]
	copy(rt, "regi")
	le.PutUint32(rt[8:], 2)
	bat := msGUID(0x2DC27766, 0xF623, 0x4200, [8]byte{0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08})
	copy(rt[16:], bat)
	le.PutUint64(rt[32:], uint64(n-4096))
	le.PutUint32(rt[40:], 4096)
	copy(rt[48:], vhdxMetadataGUID)
	le.PutUint64(rt[64:], uint64(metaOff))
	le.PutUint32(rt[72:], 1*mib)
	m := b[metaOff:]
	copy(m, "metadata")
	le.PutUint16(m[10:], 2)
	// A first item (file parameters), then the virtual disk size.
	copy(m[32:], msGUID(0xCAA16737, 0xFA36, 0x4D43, [8]byte{0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B}))
	le.PutUint32(m[48:], 64<<10+8)
	le.PutUint32(m[52:], 8)
	copy(m[64:], vhdxDiskSizeGUID)
	le.PutUint32(m[80:], 64<<10)
	le.PutUint32(m[84:], 8)
	le.PutUint64(m[64<<10:], size)
	le.PutUint32(m[64<<10+8:], 32<<20)
	return b[:n-truncate]
}

// craftVDI returns a VDI header of a size-byte disk.
func craftVDI(size uint64) []byte {
	b := make([]byte, 1024)
	copy(b, "<<< Oracle VM VirtualBox Disk Image >>>\n")
	le.PutUint32(b[0x40:], 0xbeda107f)
	le.PutUint32(b[0x44:], 0x00010001)
	le.PutUint64(b[0x170:], size)
	return b
}

// craftISO returns an ISO 9660 image with a primary volume descriptor of
// blocks 2 KiB blocks, then the set terminator.
func craftISO(blocks uint32) []byte {
	b := make([]byte, 36<<10)
	pvd := b[32<<10:]
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	pvd[6] = 1
	copy(pvd[40:], strings.Repeat(" ", 32))
	copy(pvd[40:], "TESTVOL")
	le.PutUint32(pvd[80:], blocks)
	binary.BigEndian.PutUint32(pvd[84:], blocks)
	le.PutUint16(pvd[128:], 2048)
	binary.BigEndian.PutUint16(pvd[130:], 2048)
	term := b[34<<10:]
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	return b
}

// mbrEntry is one MBR partition table entry.
type mbrEntry struct {
	boot, typ byte
	chs       [3]byte
	lba, size uint32
}

// craftMBR returns a disk of n bytes whose first sector is an MBR with
// the given entries.
func craftMBR(n int, entries ...mbrEntry) []byte {
	b := make([]byte, n)
	for i, e := range entries {
		p := b[446+16*i:]
		p[0] = e.boot
		copy(p[1:4], e.chs[:])
		p[4] = e.typ
		p[5], p[6], p[7] = 0xfe, 0xff, 0xff
		le.PutUint32(p[8:], e.lba)
		le.PutUint32(p[12:], e.size)
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

// craftGPT returns a GPT disk: protective MBR, then the GPT header.
func craftGPT(n int, extra ...mbrEntry) []byte {
	entries := append([]mbrEntry{{typ: 0xee, chs: [3]byte{0, 2, 0}, lba: 1, size: uint32(n/512 - 1)}}, extra...)
	b := craftMBR(n, entries...)
	copy(b[512:], "EFI PART")
	return b
}

// craftFAT returns a FAT boot sector (which ends like an MBR).
func craftFAT(n int) []byte {
	b := make([]byte, n)
	copy(b, "\xeb\x3c\x90mkfs.fat")
	le.PutUint16(b[11:], 512)
	b[13] = 4
	b[0x10] = 2
	b[0x15] = 0xf8
	b[510], b[511] = 0x55, 0xaa
	return b
}

// craftQED returns a QED header.
func craftQED() []byte {
	b := make([]byte, 1024)
	copy(b, "QED\x00")
	return b
}

// craftLUKS returns a LUKS header of the given version.
func craftLUKS(version uint16) []byte {
	b := make([]byte, 4096)
	copy(b, "LUKS\xba\xbe")
	binary.BigEndian.PutUint16(b[6:], version)
	copy(b[8:], "aes")
	copy(b[40:], "xts-plain64")
	copy(b[72:], "sha256")
	binary.BigEndian.PutUint32(b[104:], 4) // payload offset (sectors)
	binary.BigEndian.PutUint32(b[108:], 32)
	return b
}

// randomBytes returns n pseudo-random bytes (seeded), as a raw disk.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	// A random disk that ends like an MBR would be taken for one.
	if n >= 512 {
		b[510] = 0
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// at returns b with p written at offset off (growing b if needed).
func at(b []byte, off int, p []byte) []byte {
	if len(b) < off+len(p) {
		b = append(b, make([]byte, off+len(p)-len(b))...)
	}
	copy(b[off:], p)
	return b
}
