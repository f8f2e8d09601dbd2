package objstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/zeebo/blake3"

	"github.com/p2pglance/p2pglance/catalog"
)

// ErrCorrupt: what the object store answered does not match the catalog.
var ErrCorrupt = errors.New("object data does not match the catalog")

// chunker cuts what passes through it into chunks of size bytes and
// hashes each with BLAKE3, as the chunk store names chunks.
type chunker struct {
	r      io.Reader
	size   int64
	cur    hash.Hash
	inCur  int64
	chunks []catalog.ChunkRef
}

func (c *chunker) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if c.cur == nil {
			c.cur, c.inCur = blake3.New(), 0
		}
		take := min(int64(len(b)), c.size-c.inCur)
		c.cur.Write(b[:take])
		c.inCur += take
		b = b[take:]
		if c.inCur == c.size {
			c.close()
		}
	}
	return n, err
}

// close ends the chunk in progress, if any.
func (c *chunker) close() {
	if c.cur == nil || c.inCur == 0 {
		c.cur = nil
		return
	}
	c.chunks = append(c.chunks, catalog.ChunkRef{Digest: hex.EncodeToString(c.cur.Sum(nil)), Size: c.inCur})
	c.cur = nil
}

// PutImage streams r into object key and, in the same pass, cuts it into
// chunks of chunkSize named by their BLAKE3 digests: it returns the
// image's manifest (chunks, size, md5, sha512), with which every later
// read of the object is verified chunk by chunk.
func (s *Store) PutImage(ctx context.Context, key string, r io.Reader, chunkSize int) (*catalog.Manifest, error) {
	if chunkSize <= 0 {
		return nil, fmt.Errorf("object store %s: chunk size %d", s.cfg.Name, chunkSize)
	}
	c := &chunker{r: r, size: int64(chunkSize)}
	w, err := s.Put(ctx, key, c, -1)
	if err != nil {
		return nil, err
	}
	c.close()
	return &catalog.Manifest{Chunks: c.chunks, Size: w.Size, Checksum: w.MD5, OSHashAlgo: "sha512", OSHashValue: w.SHA512}, nil
}

// ReadChunk reads chunk idx of the image stored as object key and returns
// it only if its BLAKE3 digest is the one man records (ErrCorrupt
// otherwise): no unverified byte leaves here.
func (s *Store) ReadChunk(ctx context.Context, key string, man *catalog.Manifest, idx int, buf []byte) ([]byte, error) {
	if idx < 0 || idx >= len(man.Chunks) {
		return nil, fmt.Errorf("object store %s: chunk %d of %s: out of range", s.cfg.Name, idx, key)
	}
	offs, _ := man.Offsets()
	ref := man.Chunks[idx]
	data, err := s.ReadRange(ctx, key, offs[idx], ref.Size, buf)
	if err != nil {
		return nil, err
	}
	sum := blake3.Sum256(data)
	if hex.EncodeToString(sum[:]) != ref.Digest {
		return nil, fmt.Errorf("object store %s: chunk %d of %s: %w", s.cfg.Name, idx, key, ErrCorrupt)
	}
	return data, nil
}
