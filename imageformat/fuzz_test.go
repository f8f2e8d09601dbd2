package imageformat

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Fuzzing: `go test -fuzz=FuzzInspect -fuzztime=60s ./imageformat` on
// the shared 2-core machine (load average 14-17 from other jobs), Go
// 1.26, 2026-11-27: 48,320 executions in 60 s (2 workers; the count
// pauses while a worker minimizes a new input, see TestMain), 23 new
// interesting inputs on top of the 46 seeds and cached ones, no failure.
// Plain `go test` runs the seeds only.

// spreadOut lays data out as 1 KiB pieces, piece i at offset
// i*spread*4 KiB (zeros between and after the last), so that small fuzz
// inputs reach the structures that sit far into an image (the ISO volume
// descriptor at 32 KiB, the VHDX region table at 192 KiB and the regions
// it points at). spread 0 or 1 leaves data as it is.
func spreadOut(data []byte, spread uint8) []byte {
	if spread <= 1 || len(data) <= pieceSize {
		return data
	}
	step := int(spread) * spreadUnit
	last := (len(data) - 1) / pieceSize
	out := make([]byte, (last+1)*step)
	for i := 0; i <= last; i++ {
		copy(out[i*step:], data[i*pieceSize:min(len(data), (i+1)*pieceSize)])
	}
	return out
}

// The pieces of spreadOut and their spacing unit.
const (
	pieceSize  = 1 << 10
	spreadUnit = 4 << 10
)

// spreadLen is the length of spreadOut(data, spread).
func spreadLen(n int, spread uint8) int {
	if spread <= 1 || n <= pieceSize {
		return n
	}
	return ((n-1)/pieceSize + 1) * int(spread) * spreadUnit
}

// compact is spreadOut's inverse for the seeds: the 1 KiB pieces of img
// at every spread*4 KiB.
func compact(img []byte, spread uint8) []byte {
	var out []byte
	for off := 0; off < len(img); off += int(spread) * spreadUnit {
		out = append(out, img[off:min(len(img), off+pieceSize)]...)
	}
	return out
}

// FuzzInspect feeds arbitrary images to the inspector three ways (one
// write, fixed-size pieces, InspectAt) and requires the same answer from
// all, no panic, only *Rejection errors from Check, and none of the
// hostile shapes accepted.
func FuzzInspect(f *testing.F) {
	const size = 10 * mib
	seeds := [][]byte{
		craftQCOW2(size, qcowOpts{}),
		craftQCOW2(size, qcowOpts{version: 2}),
		craftQCOW2(size, qcowOpts{backing: true}),
		craftQCOW2(size, qcowOpts{features: 0x4}),
		craftQCOW2(size, qcowOpts{features: 0x10}),
		craftVMDK(size, vmdkOpts{}),
		craftVMDK(size, vmdkOpts{createType: "streamOptimized", gdAtEnd: true}),
		craftVMDK(size, vmdkOpts{extent: `RW 20480 FLAT "/etc/shadow" 0`}),
		craftVMDKDescriptorFile("monolithicFlat", `RW 20480 FLAT "disk-flat.vmdk" 0`),
		craftVHDDynamic(size),
		craftVHDFixed(make([]byte, 2048)),
		craftVDI(size),
		craftMBR(2048, mbrEntry{boot: 0x80, typ: 0x83, lba: 2048, size: 100}),
		craftGPT(2048),
		craftGPT(2048, mbrEntry{typ: 0x83, lba: 100, size: 10}),
		craftFAT(1024),
		craftQED(),
		craftLUKS(1),
		craftLUKS(2),
		randomBytes(1, 3000),
		nil,
	}
	for i, s := range seeds {
		f.Add(s, uint16(i*37), uint8(0))
	}
	// Far-reaching layouts, compacted.
	f.Add(compact(craftISO(18), 8), uint16(512), uint8(8))
	f.Add(compact(at(craftISO(18), 0, craftGPT(512)), 8), uint16(4096), uint8(8))
	f.Add(compact(craftVHDX(size, 256<<10, 0), 16), uint16(1000), uint8(16))
	f.Add(compact(craftVHDX(size, 256<<10, 0), 16)[:16<<10], uint16(3), uint8(16))
	f.Add(compact(craftVHDX(size, 512<<10, 0), 16), uint16(65535), uint8(16))
	f.Add(compact(craftVHDX(size, 512<<10, 0), 8), uint16(77), uint8(8))

	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, spread uint8) {
		// Small inputs and images up to the head plus the regions past
		// it reach every structure; bigger ones only slow the fuzzer (and
		// its minimizer) down.
		if len(data) > 16<<10 || spreadLen(len(data), spread) > HeadSize+256<<10 {
			return
		}
		img := spreadOut(data, spread)
		whole := New()
		_, _ = whole.Write(img)
		whole.Finish()
		want := outcomeOf(whole)

		pieces := New()
		step := max(int(chunk)%8192+1, len(img)/4096)
		for off := 0; off < len(img); off += step {
			_, _ = pieces.Write(img[off:min(len(img), off+step)])
		}
		pieces.Finish()
		if got := outcomeOf(pieces); !reflect.DeepEqual(got, want) {
			t.Fatalf("pieces of %d differ:\n got %+v\nwant %+v", step, got, want)
		}
		stored, err := InspectAt(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("InspectAt: %v", err)
		}
		if got := outcomeOf(stored); !reflect.DeepEqual(got, want) {
			t.Fatalf("InspectAt differs:\n got %+v\nwant %+v", got, want)
		}

		for _, df := range diskFormats {
			vs, err := whole.Check(df)
			var rej *Rejection
			switch {
			case err != nil && (!errors.As(err, &rej) || vs != 0):
				t.Fatalf("Check(%s) = %d, %v: not a rejection", df, vs, err)
			case err == nil && vs < 0:
				t.Fatalf("Check(%s): negative virtual size %d", df, vs)
			case err != nil:
				continue
			}
			if f, _ := whole.Format(); Inspectable(df) && df != "raw" && string(f) != df {
				t.Fatalf("Check(%s) accepted data detected as %s", df, f)
			}
			if len(img) >= 512 && bytes.HasPrefix(img, []byte("QFI\xfb")) {
				if be.Uint64(img[8:]) != 0 || img[0x4f]&0x04 != 0 {
					t.Fatalf("Check(%s) accepted a qcow2 with a backing or data file", df)
				}
			}
			if df == "vmdk" && !bytes.HasPrefix(img, []byte("KDMV")) {
				t.Fatalf("Check(vmdk) accepted a VMDK without a sparse header (a descriptor file)")
			}
		}
	})
}

// TestSpreadSeeds: the compacted seeds expand back into images of their
// format, so the fuzzer starts from valid far-reaching layouts.
func TestSpreadSeeds(t *testing.T) {
	for _, c := range []struct {
		img    []byte
		spread uint8
		disk   string
		vsize  int64
	}{
		{craftISO(18), 8, "iso", 18 * 2048},
		{craftVHDX(10*mib, 256<<10, 0), 16, "vhdx", 10 * mib},
		{craftVHDX(10*mib, 512<<10, 0), 8, "vhdx", 10 * mib},
	} {
		in, err := Inspect(bytes.NewReader(spreadOut(compact(c.img, c.spread), c.spread)))
		if err != nil {
			t.Fatal(err)
		}
		if vs, err := in.Check(c.disk); err != nil || vs != c.vsize {
			t.Fatalf("%s seed: %d, %v", c.disk, vs, err)
		}
	}
}
