package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
)

// Image data is checked as Glance checks it (image_format options with
// require_image_format_match on): data in a bare container must be of
// the image's disk_format and pass that format's safety checks, else an
// upload answers 415 with the reason and the image goes back to queued,
// and an import fails with the reason (the image back to queued too). The
// check also gives the virtual size recorded on the image.
//
// An upload, web-download, glance-download and an eager location import
// (Config.EagerLocations) inspect the data as it streams into chunks;
// glance-direct and copy-image inspect the stored chunks, reading only
// the few the inspector needs. A location whose data is pulled on first
// download is inspected as it is pulled (Glance does not inspect location
// data, but this cluster serves what it pulls); a rejection fails the pull.

// inspects reports whether img's data is inspected: Glance inspects bare
// containers only.
func inspects(img *catalog.Image) bool {
	return img.DiskFormat != nil && img.ContainerFormat != nil && *img.ContainerFormat == "bare"
}

// inspectStream returns r with an inspector watching what is read from
// it.
func inspectStream(r io.Reader) (io.Reader, *imageformat.Inspector) {
	in := imageformat.New()
	return io.TeeReader(r, in), in
}

// checkData finishes in (which saw all of img's data) and applies
// Glance's rule for img: the virtual size to record (0: none), or an
// *imageformat.Rejection. Data of an image that is not inspected passes.
func checkData(img *catalog.Image, in *imageformat.Inspector) (int64, error) {
	if !inspects(img) {
		return 0, nil
	}
	in.Finish()
	return in.Check(*img.DiskFormat)
}

// uploadRefusal turns a rejection of uploaded data into Glance's answer:
// 415 with the reason as detail (glance.api.v2.image_data, since
// Dalmatian).
func uploadRefusal(err error) error {
	var rej *imageformat.Rejection
	if errors.As(err, &rej) {
		return &catalog.FormatError{Reason: rej.Reason, Err: err}
	}
	return err
}

// setVirtualSize records a checked virtual size (0 leaves it unset, as
// Glance does).
func setVirtualSize(img *catalog.Image, vsize int64) {
	if vsize > 0 {
		img.VirtualSize = &vsize
	}
}

// checkStored applies Glance's rule to data already stored as man, held
// by placement, reading only the chunks the inspector needs.
func (n *Node) checkStored(ctx context.Context, img *catalog.Image, man *catalog.Manifest, placement []string) (int64, error) {
	if !inspects(img) {
		return 0, nil
	}
	r := newManifestReader(ctx, n, &catalog.Image{ID: img.ID, Manifest: man, Placement: placement})
	defer r.release()
	in, err := imageformat.InspectAt(r, man.Size)
	if err != nil {
		return 0, fmt.Errorf("inspect the data of %s: %w", img.ID, err)
	}
	return in.Check(*img.DiskFormat)
}

// manifestReader reads an image's stored bytes at any offset, chunk by
// chunk (local, else from a holder, verified), keeping the last chunk.
type manifestReader struct {
	ctx    context.Context
	n      *Node
	src    *catalog.Image
	starts []int64 // offset of each chunk
	idx    int
	buf    *buffer
	data   []byte
}

func newManifestReader(ctx context.Context, n *Node, src *catalog.Image) *manifestReader {
	r := &manifestReader{ctx: ctx, n: n, src: src, idx: -1}
	var off int64
	for _, c := range src.Manifest.Chunks {
		r.starts = append(r.starts, off)
		off += c.Size
	}
	return r
}

// ReadAt implements io.ReaderAt.
func (r *manifestReader) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		i := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > off }) - 1
		if i < 0 || off >= r.src.Manifest.Size {
			return done, io.EOF
		}
		if i != r.idx {
			r.release()
			buf, data, err := r.n.fetchChunk(r.ctx, r.src, i)
			if err != nil {
				return done, err
			}
			r.idx, r.buf, r.data = i, buf, data
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
func (r *manifestReader) release() {
	if r.buf != nil {
		r.n.bufs.put(r.buf)
		r.buf, r.data, r.idx = nil, nil, -1
	}
}
