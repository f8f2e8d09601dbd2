package imagecheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
)

// Inspects reports whether img's data is inspected: Glance inspects bare
// containers only.
func Inspects(img *catalog.Image) bool {
	return img.DiskFormat != nil && img.ContainerFormat != nil && *img.ContainerFormat == "bare"
}

// Watch returns r with an inspector watching what is read from it.
func Watch(r io.Reader) (io.Reader, *imageformat.Inspector) {
	in := imageformat.New()
	return io.TeeReader(r, in), in
}

// Check finishes in (which saw all of img's data) and applies Glance's
// rule for img: the virtual size to record (0: none), or an
// *imageformat.Rejection. Data of an image that is not inspected passes.
func Check(img *catalog.Image, in *imageformat.Inspector) (int64, error) {
	if !Inspects(img) {
		return 0, nil
	}
	in.Finish()
	return in.Check(*img.DiskFormat)
}

// SetVirtualSize records a checked virtual size (0 leaves it unset, as
// Glance does).
func SetVirtualSize(img *catalog.Image, vsize int64) {
	if vsize > 0 {
		img.VirtualSize = &vsize
	}
}

// FetchFunc returns chunk idx of src (its manifest and holders), its
// bytes verified; release gives the bytes' buffer back.
type FetchFunc func(ctx context.Context, src *catalog.Image, idx int) (data []byte, release func(), err error)

// CheckStored applies Glance's rule to img's data already stored as man,
// held by placement, reading only the chunks the inspector needs.
func CheckStored(ctx context.Context, img *catalog.Image, man *catalog.Manifest, placement []string, fetch FetchFunc) (int64, error) {
	if !Inspects(img) {
		return 0, nil
	}
	r := newChunkReader(ctx, &catalog.Image{ID: img.ID, Manifest: man, Placement: placement}, fetch)
	defer r.release()
	in, err := imageformat.InspectAt(r, man.Size)
	if err != nil {
		return 0, fmt.Errorf("inspect the data of %s: %w", img.ID, err)
	}
	return in.Check(*img.DiskFormat)
}

// chunkReader reads an image's stored bytes at any offset, chunk by
// chunk (through fetch), keeping the last chunk.
type chunkReader struct {
	ctx    context.Context
	src    *catalog.Image
	fetch  FetchFunc
	starts []int64 // offset of each chunk
	idx    int
	data   []byte
	free   func() // gives the kept chunk's buffer back
}

func newChunkReader(ctx context.Context, src *catalog.Image, fetch FetchFunc) *chunkReader {
	r := &chunkReader{ctx: ctx, src: src, fetch: fetch, idx: -1}
	var off int64
	for _, c := range src.Manifest.Chunks {
		r.starts = append(r.starts, off)
		off += c.Size
	}
	return r
}

// ReadAt implements io.ReaderAt.
func (r *chunkReader) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		i := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > off }) - 1
		if i < 0 || off >= r.src.Manifest.Size {
			return done, io.EOF
		}
		if i != r.idx {
			r.release()
			data, release, err := r.fetch(r.ctx, r.src, i)
			if err != nil {
				return done, err
			}
			r.idx, r.data, r.free = i, data, release
		}
		within := off - r.starts[i]
		if within >= int64(len(r.data)) {
			return done, fmt.Errorf("chunk %d of %s is shorter than its manifest says", i, r.src.ID)
		}
		k := copy(p[done:], r.data[within:])
		done += k
		off += int64(k)
	}
	return done, nil
}

// release gives the kept chunk's buffer back.
func (r *chunkReader) release() {
	if r.free != nil {
		r.free()
		r.data, r.idx, r.free = nil, -1, nil
	}
}

// Refusal turns a rejection of uploaded data into the domain's answer, a
// *catalog.FormatError carrying the reason (Glance answers 415 with it
// as detail: glance.api.v2.image_data, since Dalmatian). Other errors
// pass unchanged.
func Refusal(err error) error {
	var rej *imageformat.Rejection
	if errors.As(err, &rej) {
		return &catalog.FormatError{Reason: rej.Reason, Err: err}
	}
	return err
}
