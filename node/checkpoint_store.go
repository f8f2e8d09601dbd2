package node

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/p2pglance/p2pglance/peer"
)

// checkpointStore keeps checkpoint files: ckpt-<index> beside
// ckpt-<index>.json (its size and digest, written once it is certified),
// in a directory of their own, or in memory for an in-memory node.
type checkpointStore struct {
	dir string // "" in memory

	mu  sync.Mutex
	mem map[uint64][]byte
}

func newCheckpointStore(dir string) (*checkpointStore, error) {
	s := &checkpointStore{dir: dir, mem: map[uint64][]byte{}}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create checkpoint dir: %w", err)
		}
	}
	return s, nil
}

func (s *checkpointStore) path(idx uint64) string {
	return filepath.Join(s.dir, "ckpt-"+strconv.FormatUint(idx, 10))
}

// checkpointWriter writes one checkpoint while hashing it.
type checkpointWriter struct {
	s    *checkpointStore
	idx  uint64
	f    *os.File      // on disk
	buf  *bytes.Buffer // in memory
	w    io.Writer
	h    hash.Hash
	size int64
}

// create starts the checkpoint at idx (replacing an unfinished one).
func (s *checkpointStore) create(idx uint64) (*checkpointWriter, error) {
	cw := &checkpointWriter{s: s, idx: idx, h: blake3.New()}
	if s.dir == "" {
		cw.buf = &bytes.Buffer{}
		cw.w = io.MultiWriter(cw.buf, cw.h)
		return cw, nil
	}
	f, err := os.OpenFile(s.path(idx)+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create checkpoint %d: %w", idx, err)
	}
	cw.f = f
	cw.w = io.MultiWriter(f, cw.h)
	return cw, nil
}

func (cw *checkpointWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.size += int64(n)
	return n, err
}

// commit makes the checkpoint durable under its final name and returns
// what it holds.
func (cw *checkpointWriter) commit() (peer.CheckpointInfo, error) {
	info := peer.CheckpointInfo{Index: cw.idx, Size: cw.size, Digest: hex.EncodeToString(cw.h.Sum(nil))}
	if cw.buf != nil {
		cw.s.mu.Lock()
		cw.s.mem[cw.idx] = cw.buf.Bytes()
		cw.s.mu.Unlock()
		return info, nil
	}
	err := cw.f.Sync()
	if cerr := cw.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(cw.f.Name(), cw.s.path(cw.idx))
	}
	if err != nil {
		_ = os.Remove(cw.f.Name())
		return info, fmt.Errorf("write checkpoint %d: %w", cw.idx, err)
	}
	return info, nil
}

// abort drops an unfinished checkpoint.
func (cw *checkpointWriter) abort() {
	if cw.f != nil {
		_ = cw.f.Close()
		_ = os.Remove(cw.f.Name())
	}
}

// certify records info as certified (the file must be there).
func (s *checkpointStore) certify(info peer.CheckpointInfo) error {
	if s.dir == "" {
		return nil
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode checkpoint meta: %w", err)
	}
	tmp := s.path(info.Index) + ".json.tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write checkpoint meta: %w", err)
	}
	return os.Rename(tmp, s.path(info.Index)+".json")
}

// open returns a reader of the checkpoint at idx.
func (s *checkpointStore) open(idx uint64) (io.ReadCloser, error) {
	if s.dir == "" {
		s.mu.Lock()
		b, ok := s.mem[idx]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("checkpoint %d: %w", idx, os.ErrNotExist)
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	f, err := os.Open(s.path(idx))
	if err != nil {
		return nil, fmt.Errorf("open checkpoint %d: %w", idx, err)
	}
	return f, nil
}

// remove deletes the checkpoint at idx and its meta.
func (s *checkpointStore) remove(idx uint64) {
	if s.dir == "" {
		s.mu.Lock()
		delete(s.mem, idx)
		s.mu.Unlock()
		return
	}
	_ = os.Remove(s.path(idx))
	_ = os.Remove(s.path(idx) + ".json")
}

// certified lists the certified checkpoints on disk, newest first
// (nothing in memory: an in-memory node starts empty).
func (s *checkpointStore) certified() []peer.CheckpointInfo {
	if s.dir == "" {
		return nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var out []peer.CheckpointInfo
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "ckpt-") || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		var info peer.CheckpointInfo
		if err != nil || json.Unmarshal(data, &info) != nil {
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b peer.CheckpointInfo) int { return cmp.Compare(b.Index, a.Index) })
	return out
}

// verify re-reads the checkpoint at info.Index and checks its size and
// digest.
func (s *checkpointStore) verify(info peer.CheckpointInfo) error {
	rc, err := s.open(info.Index)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := blake3.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("read checkpoint %d: %w", info.Index, err)
	}
	if n != info.Size || hex.EncodeToString(h.Sum(nil)) != info.Digest {
		return fmt.Errorf("checkpoint %d: %w", info.Index, errCheckpointMismatch)
	}
	return nil
}

// errCheckpointMismatch is a checkpoint whose bytes do not match the
// certified digest.
var errCheckpointMismatch = errors.New("checkpoint does not match its certified digest")
