package imageformat

import (
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
