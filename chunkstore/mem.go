package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

var _ Store = (*MemStore)(nil)

// MemStore is an in-memory Store for tests. Like every Store it verifies
// chunks on Put and Get; Corrupt damages a copy to exercise the latter.
// The zero value is not usable; call NewMemStore.
type MemStore struct {
	mu      sync.RWMutex
	closed  bool
	chunks  map[Digest][]byte
	bytes   int64
	corrupt int64
	stored  int64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{chunks: make(map[Digest][]byte)}
}

// Put implements Store. It keeps its own copy of data.
func (m *MemStore) Put(ctx context.Context, d Digest, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put chunk %s: %w", d, err)
	}
	if Sum(data) != d {
		return fmt.Errorf("put chunk %s: %w", d, ErrDigestMismatch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("put chunk %s: %w", d, ErrClosed)
	}
	if _, ok := m.chunks[d]; ok {
		return nil
	}
	m.chunks[d] = bytes.Clone(data)
	m.bytes += int64(len(data))
	m.stored++
	return nil
}

// Get implements Store.
func (m *MemStore) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", d, err)
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, fmt.Errorf("get chunk %s: %w", d, ErrClosed)
	}
	data, ok := m.chunks[d]
	if ok {
		buf = append(buf[:0], data...)
	}
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("get chunk %s: %w", d, ErrNotFound)
	}
	if Sum(buf) == d {
		return buf, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt++
	// Drop the copy unless it was replaced meanwhile.
	if cur, ok := m.chunks[d]; ok && len(cur) == len(data) && (len(cur) == 0 || &cur[0] == &data[0]) {
		delete(m.chunks, d)
		m.bytes -= int64(len(cur))
	}
	return nil, fmt.Errorf("get chunk %s: %w", d, ErrCorrupt)
}

// Has implements Store.
func (m *MemStore) Has(ctx context.Context, d Digest) (bool, error) {
	_, err := m.Size(ctx, d)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("has chunk %s: %w", d, err)
}

// Size implements Store.
func (m *MemStore) Size(ctx context.Context, d Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("size chunk %s: %w", d, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, fmt.Errorf("size chunk %s: %w", d, ErrClosed)
	}
	data, ok := m.chunks[d]
	if !ok {
		return 0, fmt.Errorf("size chunk %s: %w", d, ErrNotFound)
	}
	return int64(len(data)), nil
}

// Delete implements Store.
func (m *MemStore) Delete(ctx context.Context, ds ...Digest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete chunks: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("delete chunks: %w", ErrClosed)
	}
	for _, d := range ds {
		if data, ok := m.chunks[d]; ok {
			delete(m.chunks, d)
			m.bytes -= int64(len(data))
		}
	}
	return nil
}

// List implements Store. It works on a snapshot taken at the start, and
// holds no lock while fn runs.
func (m *MemStore) List(ctx context.Context, fn func(d Digest, size int64) error) error {
	type entry struct {
		d    Digest
		size int64
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return fmt.Errorf("list chunks: %w", ErrClosed)
	}
	snap := make([]entry, 0, len(m.chunks))
	for d, data := range m.chunks {
		snap = append(snap, entry{d, int64(len(data))})
	}
	m.mu.RUnlock()
	slices.SortFunc(snap, func(a, b entry) int { return bytes.Compare(a.d[:], b.d[:]) })
	for _, e := range snap {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list chunks: %w", err)
		}
		if err := fn(e.d, e.size); err != nil {
			return err
		}
	}
	return nil
}

// Sync implements Store; there is nothing to make durable.
func (m *MemStore) Sync(ctx context.Context) error { return m.check(ctx, "sync chunk store") }

// Reclaim implements Store; deleted chunks are already garbage.
func (m *MemStore) Reclaim(ctx context.Context) error { return m.check(ctx, "reclaim chunk store") }

func (m *MemStore) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return nil
}

// Stats implements Store. DiskBytes is always 0.
func (m *MemStore) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Chunks: int64(len(m.chunks)), Bytes: m.bytes, CorruptFound: m.corrupt, Stored: m.stored}
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("close chunk store: %w", ErrClosed)
	}
	m.closed = true
	return nil
}

// Corrupt flips a byte of the held copy of d, for tests of corruption
// handling. It reports false if d is not held or is empty.
func (m *MemStore) Corrupt(d Digest) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.chunks[d]
	if !ok || len(data) == 0 {
		return false
	}
	data[len(data)/2] ^= 0xff
	return true
}
