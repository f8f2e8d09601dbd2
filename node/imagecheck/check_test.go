package imagecheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
)

// qcow2 returns a qcow2 v3 header of virtual size vsize, padded to n
// bytes.
func qcow2(vsize uint64, n int) []byte {
	b := make([]byte, n)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 3)
	binary.BigEndian.PutUint64(b[24:], vsize)
	return b
}

func image(disk, container string) *catalog.Image {
	return &catalog.Image{ID: "img", DiskFormat: &disk, ContainerFormat: &container}
}

// stored splits data into chunks of the given sizes and returns their
// manifest and a FetchFunc serving them, counting fetches not released.
func stored(data []byte, sizes ...int64) (*catalog.Manifest, FetchFunc, *int) {
	man := &catalog.Manifest{Size: int64(len(data))}
	var chunks [][]byte
	off := int64(0)
	for _, s := range sizes {
		man.Chunks = append(man.Chunks, catalog.ChunkRef{Digest: "d", Size: s})
		chunks = append(chunks, data[off:off+s])
		off += s
	}
	held := new(int)
	fetch := func(_ context.Context, _ *catalog.Image, idx int) ([]byte, func(), error) {
		*held++
		return chunks[idx], func() { *held-- }, nil
	}
	return man, fetch, held
}

func TestInspects(t *testing.T) {
	for _, tc := range []struct {
		img  *catalog.Image
		want bool
	}{
		{image("qcow2", "bare"), true},
		{image("raw", "ovf"), false},
		{&catalog.Image{}, false},
	} {
		if got := Inspects(tc.img); got != tc.want {
			t.Errorf("Inspects(%v/%v) = %v, want %v", tc.img.DiskFormat, tc.img.ContainerFormat, got, tc.want)
		}
	}
}

func TestCheckStream(t *testing.T) {
	data := qcow2(1<<20, 1024)
	for _, tc := range []struct {
		img      *catalog.Image
		vsize    int64
		rejected bool
	}{
		{image("qcow2", "bare"), 1 << 20, false},
		{image("vhd", "bare"), 0, true},
		{image("raw", "ovf"), 0, false}, // not inspected
	} {
		r, in := Watch(bytes.NewReader(data))
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		vsize, err := Check(tc.img, in)
		if got := errors.Is(err, imageformat.ErrRejected); got != tc.rejected || (!tc.rejected && err != nil) {
			t.Fatalf("Check(%s/%s) error %v, want rejected=%v", *tc.img.DiskFormat, *tc.img.ContainerFormat, err, tc.rejected)
		}
		if vsize != tc.vsize {
			t.Fatalf("Check(%s/%s) virtual size %d, want %d", *tc.img.DiskFormat, *tc.img.ContainerFormat, vsize, tc.vsize)
		}
	}
}

func TestCheckStoredReadsAcrossChunks(t *testing.T) {
	data := qcow2(1<<20, 1200)
	man, fetch, held := stored(data, 100, 412, 688)
	vsize, err := CheckStored(context.Background(), image("qcow2", "bare"), man, []string{"n1"}, fetch)
	if err != nil || vsize != 1<<20 {
		t.Fatalf("CheckStored = %d, %v; want %d", vsize, err, 1<<20)
	}
	if *held != 0 {
		t.Fatalf("%d chunks not given back", *held)
	}
	if _, err := CheckStored(context.Background(), image("vmdk", "bare"), man, nil, fetch); !errors.Is(err, imageformat.ErrRejected) {
		t.Fatalf("CheckStored of qcow2 data as vmdk: %v, want a rejection", err)
	}

	r := newChunkReader(context.Background(), &catalog.Image{ID: "img", Manifest: man}, fetch)
	defer r.release()
	for _, off := range []int64{0, 99, 100, 511, 512, 1199} {
		p := make([]byte, 150)
		k, err := r.ReadAt(p, off)
		want := min(int64(len(p)), int64(len(data))-off)
		if int64(k) != want || string(p[:k]) != string(data[off:off+want]) {
			t.Fatalf("ReadAt(%d) read %d bytes (err %v), want %d bytes of the data", off, k, err, want)
		}
	}
}

func TestSetVirtualSize(t *testing.T) {
	img := &catalog.Image{}
	SetVirtualSize(img, 0)
	if img.VirtualSize != nil {
		t.Fatalf("virtual size 0 was recorded as %d", *img.VirtualSize)
	}
	SetVirtualSize(img, 42)
	if img.VirtualSize == nil || *img.VirtualSize != 42 {
		t.Fatalf("virtual size %v, want 42", img.VirtualSize)
	}
}

func TestRefusal(t *testing.T) {
	rej := &imageformat.Rejection{Reason: "Image has a backing file"}
	err := Refusal(rej)
	var fe *catalog.FormatError
	if !errors.As(err, &fe) || fe.Reason != rej.Reason || !errors.Is(err, catalog.ErrUnsupportedFormat) || !errors.Is(err, imageformat.ErrRejected) {
		t.Fatalf("Refusal(rejection) = %v, want a catalog.FormatError with its reason", err)
	}
	other := errors.New("disk full")
	if got := Refusal(other); got != other {
		t.Fatalf("Refusal(%v) = %v, want it unchanged", other, got)
	}
}
