package chunkstoretest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/p2pglance/p2pglance/chunkstore"
)

// Corrupter is implemented by stores that can damage a held copy for
// tests (chunkstore.MemStore does). Run tests corruption handling only on
// stores implementing it.
type Corrupter interface {
	// Corrupt damages the held copy of d and reports whether it did.
	Corrupt(d chunkstore.Digest) bool
}

// Run runs the conformance suite. open must return a new, empty store;
// each subtest opens its own and Run closes it when the subtest ends
// (ignoring the error, so open may also register a Close).
func Run(t *testing.T, open func(t *testing.T) chunkstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chunkstore.Store)
	}{
		{"PutGet", testPutGet},
		{"Missing", testMissing},
		{"IdempotentPut", testIdempotentPut},
		{"DigestMismatch", testDigestMismatch},
		{"Delete", testDelete},
		{"ListOrder", testListOrder},
		{"ListCancel", testListCancel},
		{"Corruption", testCorruption},
		{"Concurrent", testConcurrent},
		{"GetReusesBuf", testGetReusesBuf},
		{"Reclaim", testReclaim},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// Chunk returns n pseudo-random bytes determined by seed, and their digest.
func Chunk(seed uint64, n int) (chunkstore.Digest, []byte) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return chunkstore.Sum(b), b
}

func put(t *testing.T, s chunkstore.Store, data []byte) chunkstore.Digest {
	t.Helper()
	d := chunkstore.Sum(data)
	if err := s.Put(t.Context(), d, data); err != nil {
		t.Fatalf("Put(%s): %v", d, err)
	}
	return d
}

func mustGet(t *testing.T, s chunkstore.Store, d chunkstore.Digest, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), d, nil)
	if err != nil {
		t.Fatalf("Get(%s): %v", d, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s): got %d bytes, want %d (contents differ)", d, len(got), len(want))
	}
}

func wantStats(t *testing.T, s chunkstore.Store, chunks, size, corrupt int64) {
	t.Helper()
	st := s.Stats()
	if st.Chunks != chunks || st.Bytes != size || st.CorruptFound != corrupt {
		t.Fatalf("Stats = %+v, want Chunks %d Bytes %d CorruptFound %d", st, chunks, size, corrupt)
	}
	if st.DiskBytes < 0 {
		t.Fatalf("Stats.DiskBytes = %d", st.DiskBytes)
	}
}

func testPutGet(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	// Sizes around the value-log threshold and segment boundaries.
	sizes := []int{0, 1, 1023, 1024, 1025, 64 << 10, 1 << 20, 1<<20 + 1, 4 << 20}
	var total int64
	for i, n := range sizes {
		d, data := Chunk(uint64(i), n)
		put(t, s, data)
		total += int64(n)
		if ok, err := s.Has(ctx, d); err != nil || !ok {
			t.Fatalf("Has(%d-byte chunk) = %v, %v", n, ok, err)
		}
		if got, err := s.Size(ctx, d); err != nil || got != int64(n) {
			t.Fatalf("Size(%d-byte chunk) = %d, %v", n, got, err)
		}
		mustGet(t, s, d, data)
	}
	wantStats(t, s, int64(len(sizes)), total, 0)
	// A chunk already held is not stored again.
	_, again := Chunk(1, sizes[1])
	put(t, s, again)
	if st := s.Stats(); st.Stored != int64(len(sizes)) {
		t.Fatalf("Stats.Stored = %d after %d chunks (one put twice), want %d", st.Stored, len(sizes), len(sizes))
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func testMissing(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	d, _ := Chunk(1, 100)
	if _, err := s.Get(ctx, d, nil); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Size(ctx, d); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("Size(missing) error = %v, want ErrNotFound", err)
	}
	if ok, err := s.Has(ctx, d); err != nil || ok {
		t.Fatalf("Has(missing) = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete(missing): %v", err)
	}
	wantStats(t, s, 0, 0, 0)
}

func testIdempotentPut(t *testing.T, s chunkstore.Store) {
	d, data := Chunk(2, 50_000)
	put(t, s, data)
	put(t, s, slices.Clone(data))
	wantStats(t, s, 1, int64(len(data)), 0)
	mustGet(t, s, d, data)
}

func testDigestMismatch(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	d, _ := Chunk(3, 10_000)
	_, other := Chunk(4, 10_000)
	if err := s.Put(ctx, d, other); !errors.Is(err, chunkstore.ErrDigestMismatch) {
		t.Fatalf("Put(wrong data) error = %v, want ErrDigestMismatch", err)
	}
	if ok, err := s.Has(ctx, d); err != nil || ok {
		t.Fatalf("Has after refused Put = %v, %v", ok, err)
	}
	if ok, err := s.Has(ctx, chunkstore.Sum(other)); err != nil || ok {
		t.Fatalf("Has(data's own digest) after refused Put = %v, %v", ok, err)
	}
	wantStats(t, s, 0, 0, 0)
}

func testDelete(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	var ds []chunkstore.Digest
	var datas [][]byte
	for i := range 5 {
		d, data := Chunk(uint64(10+i), 20_000+i)
		put(t, s, data)
		ds, datas = append(ds, d), append(datas, data)
	}
	absent, _ := Chunk(99, 10)
	if err := s.Delete(ctx, ds[1], absent, ds[3], ds[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for i, d := range ds {
		ok, err := s.Has(ctx, d)
		if err != nil || ok != (i != 1 && i != 3) {
			t.Fatalf("Has(chunk %d) after Delete = %v, %v", i, ok, err)
		}
	}
	if _, err := s.Get(ctx, ds[1], nil); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("Get(deleted) error = %v, want ErrNotFound", err)
	}
	wantStats(t, s, 3, int64(len(datas[0])+len(datas[2])+len(datas[4])), 0)
	put(t, s, datas[1])
	mustGet(t, s, ds[1], datas[1])
	wantStats(t, s, 4, int64(len(datas[0])+len(datas[1])+len(datas[2])+len(datas[4])), 0)
}

func testListOrder(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	// More than one page of a paging implementation.
	const n = 1100
	want := make(map[chunkstore.Digest]int64, n)
	for i := range n {
		_, data := Chunk(uint64(1000+i), 1+i%97)
		want[put(t, s, data)] = int64(len(data))
	}
	var got []chunkstore.Digest
	err := s.List(ctx, func(d chunkstore.Digest, size int64) error {
		if want[d] != size {
			t.Errorf("List: %s size %d, want %d", d, size, want[d])
		}
		got = append(got, d)
		if _, err := s.Has(ctx, d); err != nil { // calling back must work
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != n {
		t.Fatalf("List returned %d chunks, want %d", len(got), n)
	}
	if !slices.IsSortedFunc(got, func(a, b chunkstore.Digest) int { return bytes.Compare(a[:], b[:]) }) {
		t.Fatal("List is not in digest order")
	}
	stop := errors.New("stop")
	calls := 0
	err = s.List(ctx, func(chunkstore.Digest, int64) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("List stopped by fn: error %v after %d calls, want stop after 3", err, calls)
	}
}

func testListCancel(t *testing.T, s chunkstore.Store) {
	for i := range 3 {
		_, data := Chunk(uint64(20+i), 100)
		put(t, s, data)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.List(ctx, func(chunkstore.Digest, int64) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("List(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if err := s.Reclaim(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reclaim(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func testCorruption(t *testing.T, s chunkstore.Store) {
	c, ok := s.(Corrupter)
	if !ok {
		t.Skip("store does not implement chunkstoretest.Corrupter")
	}
	ctx := t.Context()
	var ds []chunkstore.Digest
	var datas [][]byte
	for i, n := range []int{30_000, 4 << 20, 40_000} {
		d, data := Chunk(uint64(30+i), n)
		put(t, s, data)
		ds, datas = append(ds, d), append(datas, data)
	}
	for _, i := range []int{0, 1} {
		if !c.Corrupt(ds[i]) {
			t.Fatalf("Corrupt(chunk %d) = false", i)
		}
		if ok, err := s.Has(ctx, ds[i]); err != nil || !ok {
			t.Fatalf("Has(corrupt, unread chunk) = %v, %v; Has must not verify", ok, err)
		}
		if _, err := s.Get(ctx, ds[i], nil); !errors.Is(err, chunkstore.ErrCorrupt) {
			t.Fatalf("Get(corrupt chunk) error = %v, want ErrCorrupt", err)
		}
		if ok, err := s.Has(ctx, ds[i]); err != nil || ok {
			t.Fatalf("Has(corrupt chunk after Get) = %v, %v; the copy must be dropped", ok, err)
		}
		if _, err := s.Get(ctx, ds[i], nil); !errors.Is(err, chunkstore.ErrNotFound) {
			t.Fatalf("second Get(corrupt chunk) error = %v, want ErrNotFound", err)
		}
	}
	mustGet(t, s, ds[2], datas[2])
	wantStats(t, s, 1, int64(len(datas[2])), 2)
	put(t, s, datas[1]) // a good copy can be stored again
	mustGet(t, s, ds[1], datas[1])
}

func testConcurrent(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	const pool, workers, ops = 40, 8, 60
	ds := make([]chunkstore.Digest, pool)
	datas := make([][]byte, pool)
	var total int64
	for i := range pool {
		ds[i], datas[i] = Chunk(uint64(100+i), 16<<10+i*512)
		total += int64(len(datas[i]))
	}
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			var buf []byte
			for range ops {
				i := r.IntN(pool)
				var err error
				switch r.IntN(3) {
				case 0:
					err = s.Put(ctx, ds[i], datas[i])
				case 1:
					buf, err = s.Get(ctx, ds[i], buf)
					if err == nil && !bytes.Equal(buf, datas[i]) {
						err = errors.New("Get returned wrong bytes")
					}
					if errors.Is(err, chunkstore.ErrNotFound) {
						err = nil
					}
				default:
					_, err = s.Has(ctx, ds[i])
				}
				if err != nil {
					errc <- err
					return
				}
			}
			for i := range pool { // every worker ends by storing all
				if err := s.Put(ctx, ds[(i+w)%pool], datas[(i+w)%pool]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatalf("concurrent op: %v", err)
		}
	}
	wantStats(t, s, pool, total, 0)
	// Concurrent deletes of the same chunks count each chunk once.
	for w := range workers {
		go func() { errc <- s.Delete(ctx, ds[w%2:pool/2]...) }()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatalf("concurrent Delete: %v", err)
		}
	}
	var left int64
	for i := pool / 2; i < pool; i++ {
		left += int64(len(datas[i]))
	}
	wantStats(t, s, pool/2, left, 0)
}

func testGetReusesBuf(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	d, data := Chunk(40, 256<<10)
	put(t, s, data)
	buf := make([]byte, 7, 300<<10)
	got, err := s.Get(ctx, d, buf)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("Get with a buffer returned wrong bytes")
	}
	if &got[0] != &buf[:1][0] {
		t.Fatal("Get did not reuse the buffer's capacity")
	}
	got, err = s.Get(ctx, d, make([]byte, 3, 10))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get with a small buffer: %v", err)
	}
}

func testReclaim(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	var ds []chunkstore.Digest
	var datas [][]byte
	for i := range 10 {
		d, data := Chunk(uint64(50+i), 256<<10)
		put(t, s, data)
		ds, datas = append(ds, d), append(datas, data)
	}
	if err := s.Delete(ctx, ds[3:]...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for range 2 { // twice: a second run with nothing to do must work too
		if err := s.Reclaim(ctx); err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
	}
	for i := range 3 {
		mustGet(t, s, ds[i], datas[i])
	}
	if ok, err := s.Has(ctx, ds[5]); err != nil || ok {
		t.Fatalf("Has(deleted) after Reclaim = %v, %v", ok, err)
	}
	wantStats(t, s, 3, 3*256<<10, 0)
	put(t, s, datas[5])
	mustGet(t, s, ds[5], datas[5])
}

func testClosed(t *testing.T, s chunkstore.Store) {
	ctx := t.Context()
	d, data := Chunk(60, 1000)
	put(t, s, data)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, chunkstore.ErrClosed) {
			t.Errorf("%s after Close: error %v, want ErrClosed", op, err)
		}
	}
	check("Put", s.Put(ctx, d, data))
	_, err := s.Get(ctx, d, nil)
	check("Get", err)
	_, err = s.Has(ctx, d)
	check("Has", err)
	_, err = s.Size(ctx, d)
	check("Size", err)
	check("Delete", s.Delete(ctx, d))
	check("List", s.List(ctx, func(chunkstore.Digest, int64) error { return nil }))
	check("Sync", s.Sync(ctx))
	check("Reclaim", s.Reclaim(ctx))
	check("Close", s.Close())
	_ = s.Stats() // must not panic
}
