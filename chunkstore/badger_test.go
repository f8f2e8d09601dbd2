package chunkstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/chunkstore/chunkstoretest"
)

// quiet keeps Badger's warnings out of test output unless -v is used.
func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openDisk(t testing.TB, dir string) *chunkstore.BadgerStore {
	t.Helper()
	s, err := chunkstore.OpenBadger(dir, chunkstore.BadgerOptions{Logger: quiet()})
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	return s
}

func TestBadgerSuite(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store { return openDisk(t, t.TempDir()) })
}

func TestBadgerInMemorySuite(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		s, err := chunkstore.OpenBadger("", chunkstore.BadgerOptions{InMemory: true, Logger: quiet()})
		if err != nil {
			t.Fatalf("OpenBadger(InMemory): %v", err)
		}
		return s
	})
}

func TestOpenBadgerBadOptions(t *testing.T) {
	if _, err := chunkstore.OpenBadger(t.TempDir(), chunkstore.BadgerOptions{InMemory: true}); err == nil {
		t.Error("OpenBadger(dir, InMemory) succeeded")
	}
	if _, err := chunkstore.OpenBadger("", chunkstore.BadgerOptions{}); err == nil {
		t.Error(`OpenBadger("") succeeded`)
	}
	dir := t.TempDir()
	s := openDisk(t, dir)
	defer s.Close()
	if _, err := chunkstore.OpenBadger(dir, chunkstore.BadgerOptions{Logger: quiet()}); err == nil {
		t.Error("second OpenBadger of an open directory succeeded")
	}
}

// TestBadgerReclaim proves that Reclaim gives the space of deleted chunks
// back to the file system, and that the chunks kept survive it and a
// reopen.
func TestBadgerReclaim(t *testing.T) {
	const total, keep = 40, 3
	ctx := t.Context()
	dir := t.TempDir()
	s := openDisk(t, dir)
	defer func() { _ = s.Close() }()
	var ds []chunkstore.Digest
	var datas [][]byte
	for i := range total {
		d, data := chunkstoretest.Chunk(uint64(i), 4<<20)
		if err := s.Put(ctx, d, data); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
		if i < keep {
			datas = append(datas, data)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().DiskBytes
	if err := s.Delete(ctx, ds[keep:]...); err != nil {
		t.Fatal(err)
	}
	deleted := s.Stats().DiskBytes
	if err := s.Reclaim(ctx); err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
	after := s.Stats().DiskBytes
	t.Logf("disk usage: %d MiB with %d chunks, %d MiB after deleting %d, %d MiB after Reclaim",
		before>>20, total, deleted>>20, total-keep, after>>20)
	if before < total*4<<20 {
		t.Fatalf("disk usage %d before deleting is less than the data written", before)
	}
	if after > before*4/10 {
		t.Fatalf("Reclaim left %d of %d bytes on disk; want < 40%%", after, before)
	}
	check := func(when string) {
		t.Helper()
		for i := range keep {
			got, err := s.Get(ctx, ds[i], nil)
			if err != nil || !bytes.Equal(got, datas[i]) {
				t.Fatalf("%s: Get(kept chunk %d): %v", when, i, err)
			}
		}
		if ok, err := s.Has(ctx, ds[keep]); err != nil || ok {
			t.Fatalf("%s: Has(deleted chunk) = %v, %v", when, ok, err)
		}
		st := s.Stats()
		if st.Chunks != keep || st.Bytes != keep*4<<20 {
			t.Fatalf("%s: Stats = %+v", when, st)
		}
	}
	check("after Reclaim")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir)
	check("after reopen")
	if du := s.Stats().DiskBytes; du > before*4/10 {
		t.Fatalf("after reopen %d bytes on disk", du)
	}
}

// TestBadgerFlipOnDisk damages a chunk in the files of a closed store, as
// integration tests do, and checks that the reopened store reports it
// corrupt, drops it, and still serves the chunks around it.
func TestBadgerFlipOnDisk(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openDisk(t, dir)
	var ds []chunkstore.Digest
	var datas [][]byte
	for i := range 5 {
		d, data := chunkstoretest.Chunk(uint64(200+i), 1<<20)
		if err := s.Put(ctx, d, data); err != nil {
			t.Fatal(err)
		}
		ds, datas = append(ds, d), append(datas, data)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const bad = 2
	found, err := chunkstoretest.FlipOnDisk(dir, datas[bad][:64])
	if err != nil || !found {
		t.Fatalf("FlipOnDisk = %v, %v", found, err)
	}
	s = openDisk(t, dir)
	defer func() { _ = s.Close() }()
	if _, err := s.Get(ctx, ds[bad], nil); !errors.Is(err, chunkstore.ErrCorrupt) {
		t.Fatalf("Get(flipped chunk) error = %v, want ErrCorrupt", err)
	}
	if ok, err := s.Has(ctx, ds[bad]); err != nil || ok {
		t.Fatalf("Has(flipped chunk) after Get = %v, %v", ok, err)
	}
	for i := range ds {
		if i == bad {
			continue
		}
		got, err := s.Get(ctx, ds[i], nil)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("Get(intact chunk %d): %v", i, err)
		}
	}
	if st := s.Stats(); st.CorruptFound != 1 || st.Chunks != 4 {
		t.Fatalf("Stats = %+v, want CorruptFound 1 and 4 chunks", st)
	}
}

func TestFlipOnDiskNotFound(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	found, err := chunkstoretest.FlipOnDisk(dir, []byte("no such bytes anywhere in here"))
	if err != nil || found {
		t.Fatalf("FlipOnDisk(absent needle) = %v, %v", found, err)
	}
}

func BenchmarkBadgerPut4MiB(b *testing.B) {
	s := openDisk(b, b.TempDir())
	defer s.Close()
	_, data := chunkstoretest.Chunk(1, 4<<20)
	b.SetBytes(int64(len(data)))
	var i uint64
	for b.Loop() {
		b.StopTimer()
		i++
		binary.LittleEndian.PutUint64(data, i)
		d := chunkstore.Sum(data)
		b.StartTimer()
		if err := s.Put(b.Context(), d, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBadgerGet4MiB(b *testing.B) {
	s := openDisk(b, b.TempDir())
	defer s.Close()
	const n = 16
	var ds []chunkstore.Digest
	for i := range n {
		d, data := chunkstoretest.Chunk(uint64(i), 4<<20)
		if err := s.Put(b.Context(), d, data); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	b.SetBytes(4 << 20)
	buf := make([]byte, 0, 4<<20)
	var i int
	for b.Loop() {
		var err error
		if buf, err = s.Get(b.Context(), ds[i%n], buf); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestBadgerReclaimConcurrent runs Reclaim while other goroutines put,
// get and delete chunks: writers must not see Badger's "writes blocked"
// errors from the flush phase, and nothing kept may be lost.
func TestBadgerReclaimConcurrent(t *testing.T) {
	ctx := t.Context()
	s := openDisk(t, t.TempDir())
	defer func() { _ = s.Close() }()
	const workers, perWorker = 4, 40
	done := make(chan struct{})
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			var buf []byte
			for i := range perWorker {
				d, data := chunkstoretest.Chunk(uint64(w*1000+i), 64<<10)
				if err := s.Put(ctx, d, data); err != nil {
					errc <- err
					return
				}
				var err error
				if buf, err = s.Get(ctx, d, buf); err != nil {
					errc <- err
					return
				}
				if i%2 == 1 {
					if err := s.Delete(ctx, d); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}()
	}
	go func() {
		defer close(done)
		for range 5 {
			if err := s.Reclaim(ctx); err != nil {
				t.Errorf("Reclaim: %v", err)
				return
			}
		}
	}()
	for range workers {
		if err := <-errc; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	<-done
	if err := s.Reclaim(ctx); err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
	for w := range workers {
		for i := 0; i < perWorker; i += 2 {
			d, data := chunkstoretest.Chunk(uint64(w*1000+i), 64<<10)
			got, err := s.Get(ctx, d, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get(kept chunk %d/%d): %v", w, i, err)
			}
		}
	}
	if st := s.Stats(); st.Chunks != workers*perWorker/2 || st.CorruptFound != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestBadgerNoCompactorGoroutines checks that an open store runs none of
// Badger's compactor goroutines, which wake every 50 ms even when nothing
// is written (internal/badgercompact compacts after writes instead).
func TestBadgerNoCompactorGoroutines(t *testing.T) {
	s := openDisk(t, t.TempDir())
	defer s.Close()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "runCompactor") {
		t.Fatalf("a Badger compactor goroutine runs:\n%s", b.String())
	}
}
