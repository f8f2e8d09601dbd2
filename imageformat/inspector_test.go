package imageformat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// outcome is everything an inspection says, for comparing ways of
// feeding the same data.
type outcome struct {
	Size     int64
	Detected []Format
	Format   Format
	FmtErr   string
	VSize    map[Format]int64
	Safety   map[Format]string
	Checks   map[string]string
}

// diskFormats are the disk_format values Check is asked about.
var diskFormats = []string{"raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ami", "ploop"}

func outcomeOf(in *Inspector) outcome {
	o := outcome{Size: in.Size(), Detected: in.Detected(), VSize: map[Format]int64{}, Safety: map[Format]string{}, Checks: map[string]string{}}
	f, err := in.Format()
	o.Format = f
	if err != nil {
		o.FmtErr = err.Error()
	}
	for _, f := range All {
		o.VSize[f] = in.VirtualSize(f)
		if err := in.SafetyCheck(f); err != nil {
			o.Safety[f] = err.Error()
		}
	}
	for _, df := range diskFormats {
		vs, err := in.Check(df)
		o.Checks[df] = fmt.Sprint(vs)
		if err != nil {
			o.Checks[df] = err.Error()
		}
	}
	return o
}

// inspectChunked writes data in pieces of random sizes (1 byte to a few
// MiB) chosen by seed.
func inspectChunked(data []byte, seed uint64) *Inspector {
	r := rand.New(rand.NewPCG(seed, 7))
	in := New()
	for len(data) > 0 {
		var k int
		switch r.IntN(4) {
		case 0:
			k = 1 + r.IntN(16)
		case 1:
			k = 1 + r.IntN(4096)
		case 2:
			k = 1 + r.IntN(300<<10)
		default:
			k = 1 + r.IntN(4*mib)
		}
		k = min(k, len(data))
		if n, err := in.Write(data[:k]); n != k || err != nil {
			panic(fmt.Sprintf("write %d: %d, %v", k, n, err))
		}
		data = data[k:]
	}
	in.Finish()
	return in
}

// countingReaderAt counts the bytes read.
type countingReaderAt struct {
	r *bytes.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	k, err := c.r.ReadAt(p, off)
	c.n += int64(k)
	return k, err
}

// inspectAll inspects data in one write, in random pieces and through
// InspectAt, fails the test unless all three agree, and returns the
// one-write inspector and how many bytes InspectAt read.
func inspectAll(t *testing.T, data []byte) (*Inspector, int64) {
	t.Helper()
	whole := New()
	_, _ = whole.Write(data)
	whole.Finish()
	want := outcomeOf(whole)
	for seed := range uint64(3) {
		if got := outcomeOf(inspectChunked(data, seed)); !reflect.DeepEqual(got, want) {
			t.Fatalf("chunked (seed %d) differs:\n got %+v\nwant %+v", seed, got, want)
		}
	}
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	at, err := InspectAt(cr, int64(len(data)))
	if err != nil {
		t.Fatalf("InspectAt: %v", err)
	}
	if got := outcomeOf(at); !reflect.DeepEqual(got, want) {
		t.Fatalf("InspectAt differs:\n got %+v\nwant %+v", got, want)
	}
	return whole, cr.n
}

// TestCrafted runs Glance's rule over crafted images of every format and
// every hostile variant the inspector must refuse.
func TestCrafted(t *testing.T) {
	const size = 10 * mib
	gptDisk := craftGPT(64 << 10)
	mbrDisk := craftMBR(64<<10, mbrEntry{boot: 0x80, typ: 0x83, chs: [3]byte{0x20, 0x21, 0}, lba: 2048, size: 100})
	hybridISO := at(craftISO(18), 0, craftMBR(512, mbrEntry{boot: 0x80, typ: 0x17, lba: 0, size: 72}))
	cases := []struct {
		name     string
		data     []byte
		disk     string
		detected []Format
		vsize    int64  // when accepted
		refuse   string // substring of the refusal, "" when accepted
	}{
		{"qcow2 v3", craftQCOW2(size, qcowOpts{}), "qcow2", []Format{QCOW2}, size, ""},
		{"qcow2 v2", craftQCOW2(size, qcowOpts{version: 2}), "qcow2", []Format{QCOW2}, size, ""},
		{"qcow2 dirty+compression bits", craftQCOW2(size, qcowOpts{features: 0x9}), "qcow2", []Format{QCOW2}, size, ""},
		{"qcow2 backing file", craftQCOW2(size, qcowOpts{backing: true}), "qcow2", []Format{QCOW2}, 0, "backing_file (Image has a backing file)"},
		{"qcow2 external data file", craftQCOW2(size, qcowOpts{features: 0x4}), "qcow2", []Format{QCOW2}, 0, "data_file (Image has data_file set)"},
		{"qcow2 extended L2", craftQCOW2(size, qcowOpts{features: 0x10}), "qcow2", []Format{QCOW2}, 0, "Unknown QCOW2 features found"},
		{"qcow2 high feature bit", craftQCOW2(size, qcowOpts{features: 1 << 40}), "qcow2", []Format{QCOW2}, 0, "Unknown QCOW2 features found"},
		{"qcow2 version 4", craftQCOW2(size, qcowOpts{version: 4}), "qcow2", []Format{QCOW2}, 0, "Unsupported qcow2 version 4"},
		{"qcow1", craftQCOW2(size, qcowOpts{version: 1}), "qcow2", []Format{QCOW2}, 0, "Unsupported qcow2 version 1"},
		{"qcow2 truncated header", craftQCOW2(size, qcowOpts{})[:300], "qcow2", nil, 0, "Image disk_format qcow2 does not match stream data raw"},

		{"vmdk monolithicSparse", craftVMDK(size, vmdkOpts{}), "vmdk", []Format{VMDK}, size, ""},
		{"vmdk streamOptimized with footer", craftVMDK(size, vmdkOpts{createType: "streamOptimized", gdAtEnd: true}), "vmdk", []Format{VMDK}, size, ""},
		{"vmdk bad end-of-stream marker", craftVMDK(size, vmdkOpts{createType: "streamOptimized", gdAtEnd: true, badEOS: true}), "vmdk", []Format{VMDK}, 0, "End-of-stream marker is invalid"},
		{"vmdk extent with a path", craftVMDK(size, vmdkOpts{extent: `RW 20480 SPARSE "/etc/shadow"`}), "vmdk", []Format{VMDK}, 0, "Invalid extent filenames found"},
		{"vmdk relative path", craftVMDK(size, vmdkOpts{extent: `RW 20480 FLAT "../../secret" 0`}), "vmdk", []Format{VMDK}, 0, "Invalid extent filenames found"},
		{"vmdk twoGbMaxExtentSparse", craftVMDK(size, vmdkOpts{createType: "twoGbMaxExtentSparse"}), "vmdk", []Format{VMDK}, 0, "Unsupported subformat"},
		{"vmdk monolithicFlat in a sparse header", craftVMDK(size, vmdkOpts{createType: "monolithicFlat"}), "vmdk", []Format{VMDK}, 0, "Unsupported subformat"},
		{"vmdk unknown descriptor line", craftVMDK(size, vmdkOpts{extraLine: "include /etc/passwd"}), "vmdk", []Format{VMDK}, 0, "Invalid VMDK descriptor data"},
		{"vmdk no extent", craftVMDK(size, vmdkOpts{extent: "# none"}), "vmdk", []Format{VMDK}, 0, "No extents found"},
		{"vmdk descriptor elsewhere", craftVMDK(size, vmdkOpts{descSector: 5}), "vmdk", []Format{VMDK}, 0, "wrong descriptor location"},
		{"vmdk version 9", craftVMDK(size, vmdkOpts{version: 9}), "vmdk", []Format{VMDK}, 0, "unsupported VMDK version 9"},
		{"vmdk descriptor file, flat extent", craftVMDKDescriptorFile("monolithicFlat", `RW 20480 FLAT "disk-flat.vmdk" 0`), "vmdk", []Format{VMDK}, 0, "its extents are separate files"},
		{"vmdk descriptor file labelled raw", craftVMDKDescriptorFile("monolithicSparse", `RW 20480 SPARSE "/var/lib/glance/other"`), "raw", []Format{VMDK}, 0, "its extents are separate files"},
		{"vmdk labelled qcow2", craftVMDK(size, vmdkOpts{}), "qcow2", []Format{VMDK}, 0, "Image disk_format qcow2 does not match stream data vmdk"},

		{"vhd dynamic", craftVHDDynamic(size), "vhd", []Format{VHD}, size, ""},
		{"vhd fixed", craftVHDFixed(make([]byte, 64<<10)), "vhd", []Format{VHD}, 64 << 10, ""},
		{"vhd fixed of a gpt disk", craftVHDFixed(gptDisk), "vhd", []Format{VHD, GPT}, 64 << 10, ""},
		{"vhd fixed labelled raw", craftVHDFixed(mbrDisk), "raw", []Format{VHD, GPT}, 64<<10 + 512, ""},
		{"vhd footer with a bad checksum", at(craftVHDFixed(make([]byte, 4096)), 4096+70, []byte{1}), "vhd", nil, 0, "does not match stream data raw"},
		{"vhd truncated", craftVHDDynamic(size)[:100], "vhd", []Format{VHD}, 0, "Incomplete file cannot be safety checked"},

		{"vhdx, metadata after the head", craftVHDX(size, 2*mib, 0), "vhdx", []Format{VHDX}, size, ""},
		{"vhdx, metadata in the head", craftVHDX(size, 512<<10, 0), "vhdx", []Format{VHDX}, size, ""},
		{"vhdx truncated before its size", craftVHDX(size, 2*mib, 8<<10), "vhdx", []Format{VHDX}, 0, "Incomplete file cannot be safety checked"},
		{"vhdx without region table", craftVHDX(size, 2*mib, 0)[:100<<10], "vhdx", []Format{VHDX}, 0, "region table truncated"},
		{"vhdx labelled raw", craftVHDX(size, 2*mib, 0), "raw", []Format{VHDX}, int64(len(craftVHDX(size, 2*mib, 0))), ""},

		{"vdi", craftVDI(size), "vdi", []Format{VDI}, size, ""},
		{"vdi labelled vhd", craftVDI(size), "vhd", []Format{VDI}, 0, "Image disk_format vhd does not match stream data vdi"},

		{"iso", craftISO(18), "iso", []Format{ISO}, 18 * 2048, ""},
		{"iso labelled raw", craftISO(18), "raw", []Format{ISO}, 36 << 10, ""},
		{"hybrid iso with an mbr", hybridISO, "iso", []Format{ISO, GPT}, 18 * 2048, ""},
		{"iso with a qcow2 header", at(craftISO(18), 0, craftQCOW2(size, qcowOpts{})[:512]), "iso", []Format{QCOW2, ISO}, 0, "Multiple formats detected: qcow2,iso"},

		{"gpt as raw", gptDisk, "raw", []Format{GPT}, 64 << 10, ""},
		{"mbr as raw", mbrDisk, "raw", []Format{GPT}, 64 << 10, ""},
		{"gpt with an extra partition", craftGPT(64<<10, mbrEntry{typ: 0x83, lba: 100, size: 10}), "raw", []Format{GPT}, 0, "GPT MBR defines invalid extra partitions"},
		{"gpt protective entry not at LBA 1", craftMBR(64<<10, mbrEntry{typ: 0xee, chs: [3]byte{0, 2, 0}, lba: 7, size: 9}), "raw", []Format{GPT}, 0, "GPT MBR has invalid start LBA"},
		{"gpt protective entry bad CHS", craftMBR(64<<10, mbrEntry{typ: 0xee, chs: [3]byte{1, 1, 0}, lba: 1, size: 9}), "raw", []Format{GPT}, 0, "GPT MBR has invalid start CHS"},
		{"mbr bad boot flag", craftMBR(64<<10, mbrEntry{boot: 0x42, typ: 0x83, lba: 2048, size: 100}), "raw", []Format{GPT}, 0, "MBR PTE 0 has invalid boot flag"},
		{"mbr without partitions", craftMBR(64 << 10), "raw", []Format{GPT}, 0, "GPT MBR has no partitions defined"},
		{"gpt labelled qcow2", gptDisk, "qcow2", []Format{GPT}, 0, "Image disk_format qcow2 does not match stream data gpt"},
		{"fat boot sector is raw", craftFAT(64 << 10), "raw", nil, 64 << 10, ""},

		{"raw", randomBytes(1, 3*mib+17), "raw", nil, 3*mib + 17, ""},
		{"empty raw", nil, "raw", nil, 0, ""},
		{"raw labelled qcow2", randomBytes(2, 1*mib), "qcow2", nil, 0, "Image disk_format qcow2 does not match stream data raw"},
		{"raw labelled vmdk", randomBytes(3, 4096), "vmdk", nil, 0, "Image disk_format vmdk does not match stream data raw"},
		{"empty labelled qcow2", nil, "qcow2", nil, 0, "does not match stream data raw"},
		{"qcow2 labelled raw", craftQCOW2(size, qcowOpts{}), "raw", []Format{QCOW2}, 1024, ""},
		{"qcow2 with backing file labelled raw", craftQCOW2(size, qcowOpts{backing: true}), "raw", []Format{QCOW2}, 0, "backing_file"},
		{"raw labelled ami", randomBytes(4, 8192), "ami", nil, 0, ""},
		{"qcow2 labelled ami", craftQCOW2(size, qcowOpts{}), "ami", []Format{QCOW2}, 0, "Image disk_format ami does not match stream data qcow2"},

		{"qed", craftQED(), "raw", []Format{QED}, 0, "banned (This file format is not allowed)"},
		{"luks v1", craftLUKS(1), "raw", []Format{LUKS}, 4096, ""},
		{"luks v2", craftLUKS(2), "raw", []Format{LUKS}, 0, "LUKS version 2 is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, _ := inspectAll(t, c.data)
			if got := in.Detected(); !reflect.DeepEqual(got, c.detected) {
				t.Fatalf("detected %v, want %v", got, c.detected)
			}
			vs, err := in.Check(c.disk)
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("Check(%s) refused: %v", c.disk, err)
				}
				if vs != c.vsize {
					t.Fatalf("Check(%s): virtual size %d, want %d", c.disk, vs, c.vsize)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) || !errors.Is(err, ErrRejected) {
				t.Fatalf("Check(%s) = %d, %v; want a rejection with %q", c.disk, vs, err, c.refuse)
			}
			if !strings.Contains(rej.Reason, c.refuse) {
				t.Fatalf("Check(%s) refused with %q, want %q in it", c.disk, rej.Reason, c.refuse)
			}
		})
	}
}

// TestInspectAtReadsLittle: InspectAt of a large stored image reads the
// head, the regions the headers point at and the end, not the rest.
func TestInspectAtReadsLittle(t *testing.T) {
	big := at(craftVHDX(64*mib, 40*mib, 0), 100*mib-1, []byte{0})
	in, n := inspectAll(t, big)
	if vs, err := in.Check("vhdx"); err != nil || vs != 64*mib {
		t.Fatalf("vhdx at 40 MiB: %d, %v", vs, err)
	}
	if n > 2*HeadSize {
		t.Fatalf("InspectAt read %d bytes of a %d-byte image", n, len(big))
	}
	raw := randomBytes(9, 50*mib)
	in, n = inspectAll(t, raw)
	if vs, err := in.Check("raw"); err != nil || vs != int64(len(raw)) {
		t.Fatalf("raw: %d, %v", vs, err)
	}
	if n > HeadSize+128<<10 {
		t.Fatalf("InspectAt read %d bytes of a %d-byte raw image", n, len(raw))
	}
}

// TestBoundedMemory: streaming a large image keeps only the head, the
// tail and small regions.
func TestBoundedMemory(t *testing.T) {
	in := New()
	block := randomBytes(5, 4*mib)
	for range 32 {
		_, _ = in.Write(block)
	}
	in.Finish()
	if c := cap(in.head); c > 2*HeadSize {
		t.Fatalf("head holds %d bytes", c)
	}
	if in.Size() != 128*mib {
		t.Fatalf("size %d", in.Size())
	}
	if _, err := in.Write([]byte{1}); !errors.Is(err, ErrFinished) {
		t.Fatalf("write after finish: %v", err)
	}
}

// TestInspectReader covers Inspect and a truncated ReaderAt.
func TestInspectReader(t *testing.T) {
	in, err := Inspect(bytes.NewReader(craftVDI(4 * mib)))
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := in.Check("vdi"); err != nil || vs != 4*mib {
		t.Fatalf("vdi: %d, %v", vs, err)
	}
	if _, err := InspectAt(bytes.NewReader(make([]byte, 100)), 200); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short ReaderAt: %v", err)
	}
	if _, err := New().Format(); err == nil {
		t.Fatal("Format before Finish did not fail")
	}
}
