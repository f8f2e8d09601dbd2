package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// sparseBlock is the unit of hole punching: an aligned block of this many
// zero bytes is skipped instead of written. It matches the page and block
// size of common file systems.
const sparseBlock = 4096

// partRecord is PATH.part.json: which image PATH.part is a prefix of. A
// part is resumed only when its record names the same image with the same
// size and hashes; anything else starts over.
type partRecord struct {
	ImageID     string    `json:"image_id"`
	Size        int64     `json:"size"`
	Checksum    string    `json:"checksum,omitempty"`
	OSHashAlgo  string    `json:"os_hash_algo,omitempty"`
	OSHashValue string    `json:"os_hash_value,omitempty"`
	StartedAt   time.Time `json:"started_at"`
}

func recordFor(img *catalogImage) partRecord {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return partRecord{
		ImageID: img.ID, Size: *img.Size, Checksum: deref(img.Checksum),
		OSHashAlgo: deref(img.OSHashAlgo), OSHashValue: deref(img.OSHashValue),
		StartedAt: time.Now().UTC().Truncate(time.Second),
	}
}

// sameImage reports whether a record was written for the same image data.
func (r partRecord) sameImage(o partRecord) bool {
	return r.ImageID == o.ImageID && r.Size == o.Size && r.Checksum == o.Checksum &&
		r.OSHashAlgo == o.OSHashAlgo && r.OSHashValue == o.OSHashValue
}

// partFile is PATH.part, locked by this fetch, and the writer into it.
type partFile struct {
	f          *os.File
	path       string // PATH.part
	recordPath string // PATH.part.json
	record     partRecord
	offset     int64 // bytes kept from an earlier run: the resume point
	w          *sparseWriter
}

// partMode is the mode of PATH.part and PATH.part.json when fetch
// creates them, and so of the fetched image: readable by its owner only
// (an image may hold a tenant's data).
const partMode = 0o600

// openPart opens (or creates) the part file of a destination and decides
// whether its bytes can be resumed; if not, it is emptied and a new record
// is written.
func openPart(to string, img *catalogImage, sparse bool) (*partFile, error) {
	path, recPath := partPaths(to)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openNoFollow, partMode)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	p := &partFile{f: f, path: path, recordPath: recPath, record: recordFor(img)}
	p.w = &sparseWriter{f: f, sparse: sparse}
	st, err := f.Stat()
	if err != nil {
		p.close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if old, ok := readRecord(recPath); ok && old.sameImage(p.record) && st.Size() > 0 && st.Size() <= p.record.Size {
		p.record.StartedAt = old.StartedAt
		p.offset, p.w.off = st.Size(), st.Size()
		return p, nil
	}
	if err := p.restart(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// readRecord reads a part record; a missing or unreadable one is absent.
func readRecord(path string) (partRecord, bool) {
	var r partRecord
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &r) != nil || r.ImageID == "" {
		return partRecord{}, false
	}
	return r, true
}

// restart empties the part (a hole must never expose old bytes) and
// writes its record.
func (p *partFile) restart() error {
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", p.path, err)
	}
	p.offset, p.w.off, p.w.holes = 0, 0, 0
	data, err := json.MarshalIndent(p.record, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.recordPath, err)
	}
	if err := writeSynced(p.recordPath, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", p.recordPath, err)
	}
	return nil
}

// writeSynced writes a small file and syncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|openNoFollow, partMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}

// written is the position reached: kept bytes plus bytes received.
func (p *partFile) written() int64 { return p.w.off }

// keep makes the part end at the position reached (zero blocks skipped
// at its end are holes, known zeros: a resume need not ask for them
// again) and syncs it, so a resume finds everything received.
func (p *partFile) keep() error {
	st, err := p.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < p.w.off {
		if err := p.f.Truncate(p.w.off); err != nil {
			return err
		}
	}
	return p.f.Sync()
}

// disclaim removes the part's record after a failed check: the part is
// left for inspection, but no later fetch resumes it.
func (p *partFile) disclaim() {
	_ = os.Remove(p.recordPath)
}

// commit gives the part its final size, syncs it, renames it to to, and
// syncs the directory; then the record goes.
func (p *partFile) commit(to string) error {
	if p.w.off != p.record.Size {
		return fmt.Errorf("fetch %s: %w: wrote %d bytes, catalog size is %d", p.record.ImageID, errVerify, p.w.off, p.record.Size)
	}
	if err := p.f.Truncate(p.record.Size); err != nil { // a trailing hole
		return fmt.Errorf("set size of %s: %w", p.path, err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p.path, err)
	}
	if err := os.Rename(p.path, to); err != nil {
		return fmt.Errorf("rename %s: %w", p.path, err)
	}
	if err := syncDir(dirOf(to)); err != nil {
		return fmt.Errorf("sync directory of %s: %w", to, err)
	}
	if err := os.Remove(p.recordPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p.recordPath, err)
	}
	return nil
}

// holeNote describes the holes left by this run, for the final line.
func (p *partFile) holeNote() string {
	if p.w.holes == 0 {
		return ""
	}
	return fmt.Sprintf("; %s of zero blocks left as holes", fmtBytes(p.w.holes))
}

// close releases the lock and the file.
func (p *partFile) close() {
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
}

// zeroBlock is compared against to find blocks that can be holes.
var zeroBlock = make([]byte, sparseBlock)

// sparseWriter writes sequentially from off into a file. When sparse, an
// aligned, full sparseBlock of zeros is not written: the offset moves on
// and the block stays a hole (the caller sets the final size). The file
// must hold no data past off, so a hole reads back as zeros.
type sparseWriter struct {
	f      *os.File
	off    int64 // where the next byte goes
	sparse bool
	holes  int64 // zero bytes skipped
}

func (w *sparseWriter) Write(p []byte) (int, error) {
	if !w.sparse {
		n, err := w.f.WriteAt(p, w.off)
		w.off += int64(n)
		return n, err
	}
	data := 0 // start of the pending run of data in p
	flush := func(end int) (int, error) {
		if end > data {
			n, err := w.f.WriteAt(p[data:end], w.off+int64(data))
			if err != nil {
				w.off += int64(data + n)
				return data + n, err
			}
		}
		return 0, nil
	}
	for i := 0; i < len(p); {
		pos := w.off + int64(i)
		if r := int(pos % sparseBlock); r != 0 {
			i = min(len(p), i+sparseBlock-r) // up to the next boundary: data
			continue
		}
		if len(p)-i < sparseBlock {
			break // a partial last block: data
		}
		if !bytes.Equal(p[i:i+sparseBlock], zeroBlock) {
			i += sparseBlock
			continue
		}
		if n, err := flush(i); err != nil {
			return n, err
		}
		i += sparseBlock
		data = i
		w.holes += sparseBlock
	}
	if n, err := flush(len(p)); err != nil {
		return n, err
	}
	w.off += int64(len(p))
	return len(p), nil
}
