package raftbadger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// store is what raft needs from a combined log and stable store.
type store interface {
	raft.LogStore
	raft.StableStore
}

// testWriter forwards output to t.Log until the test's cleanup runs, so
// stray goroutines logging late cannot panic the test binary.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openTest opens a store in dir (NoSync unless sync is wanted) and closes it
// at cleanup.
func openTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func reopen(t testing.TB, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTest(t, dir, Options{NoSync: true})
}

// makeLog builds a deterministic entry exercising every raft.Log field.
func makeLog(idx uint64, size int) *raft.Log {
	l := &raft.Log{
		Index: idx,
		Term:  idx/7 + 1,
		Type:  raft.LogType(idx % 6),
		Data:  make([]byte, size),
	}
	for i := range l.Data {
		l.Data[i] = byte(idx + uint64(i)*31)
	}
	switch idx % 3 {
	case 0:
		l.Extensions = []byte(fmt.Sprintf("ext-%d", idx))
	case 1:
		l.Extensions = []byte{}
	}
	if idx%5 != 0 {
		l.AppendedAt = time.Unix(1_700_000_000+int64(idx), int64(idx*1000+7))
	}
	return l
}

func makeLogs(lo, hi uint64, size int) []*raft.Log {
	logs := make([]*raft.Log, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		logs = append(logs, makeLog(i, size))
	}
	return logs
}

func logsEqual(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil) &&
		bytes.Equal(a.Extensions, b.Extensions) && (a.Extensions == nil) == (b.Extensions == nil) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func wantBounds(t testing.TB, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

func wantLog(t testing.TB, s raft.LogStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if !logsEqual(&got, want) {
		t.Fatalf("GetLog(%d) = %+v, want %+v", want.Index, got, *want)
	}
}

func wantMissing(t testing.TB, s raft.LogStore, idx uint64) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(idx, &got); err != raft.ErrLogNotFound { //nolint:errorlint // raft compares with ==
		t.Fatalf("GetLog(%d) error = %v, want raft.ErrLogNotFound", idx, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testConformance runs assertions that hold for raft.InmemStore as well as
// for Store, proving they behave alike where raft depends on it.
func testConformance(t *testing.T, s store) {
	// Empty store.
	wantBounds(t, s, 0, 0)
	wantMissing(t, s, 0)
	wantMissing(t, s, 1)
	v, err := s.Get([]byte("missing"))
	if err == nil || err.Error() != "not found" || v != nil {
		t.Fatalf("Get(missing) = %q, %v; want nil, \"not found\"", v, err)
	}
	n, err := s.GetUint64([]byte("missing"))
	if err != nil || n != 0 {
		t.Fatalf("GetUint64(missing) = %d, %v; want 0, nil", n, err)
	}
	// raft's own checks for a fresh node.
	if ok, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); err != nil || ok {
		t.Fatalf("HasExistingState = %v, %v; want false, nil", ok, err)
	}

	// Stable store.
	must(t, s.Set([]byte("k"), []byte("v1")))
	must(t, s.Set([]byte("k"), []byte("v2")))
	if v, err := s.Get([]byte("k")); err != nil || string(v) != "v2" {
		t.Fatalf("Get(k) = %q, %v", v, err)
	}
	must(t, s.Set([]byte("empty"), []byte{}))
	if v, err := s.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %#v, %v; want non-nil empty", v, err)
	}
	must(t, s.Set([]byte("k"), nil))
	if v, err := s.Get([]byte("k")); err == nil || err.Error() != "not found" || v != nil {
		t.Fatalf("Get after Set(nil) = %q, %v", v, err)
	}
	must(t, s.SetUint64([]byte("CurrentTerm"), 42))
	must(t, s.SetUint64([]byte("max"), math.MaxUint64))
	if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != 42 {
		t.Fatalf("GetUint64(CurrentTerm) = %d, %v", n, err)
	}
	if n, err := s.GetUint64([]byte("max")); err != nil || n != math.MaxUint64 {
		t.Fatalf("GetUint64(max) = %d, %v", n, err)
	}
	must(t, s.SetUint64([]byte("CurrentTerm"), 0))
	if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != 0 {
		t.Fatalf("GetUint64(CurrentTerm) after reset = %d, %v", n, err)
	}
	must(t, s.SetUint64([]byte("CurrentTerm"), 7))
	// Byte and uint64 values are separate namespaces.
	if v, err := s.Get([]byte("CurrentTerm")); err == nil || v != nil {
		t.Fatalf("Get(CurrentTerm) = %q, %v; want not found", v, err)
	}
	must(t, s.Set([]byte("bytes-only"), []byte("12345678")))
	if n, err := s.GetUint64([]byte("bytes-only")); err != nil || n != 0 {
		t.Fatalf("GetUint64(bytes-only) = %d, %v; want 0, nil", n, err)
	}
	if ok, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); err != nil || !ok {
		t.Fatalf("HasExistingState with a term = %v, %v; want true, nil", ok, err)
	}

	// Log store.
	all := makeLogs(1, 100, 100)
	must(t, s.StoreLog(all[0]))
	wantBounds(t, s, 1, 1)
	wantLog(t, s, all[0])
	must(t, s.StoreLogs(all[1:]))
	wantBounds(t, s, 1, 100)
	for _, l := range all {
		wantLog(t, s, l)
	}
	wantMissing(t, s, 0)
	wantMissing(t, s, 101)
	must(t, s.StoreLogs(nil))
	wantBounds(t, s, 1, 100)

	// Overwrite an entry in place.
	repl := makeLog(50, 10)
	repl.Term = 99
	must(t, s.StoreLog(repl))
	wantLog(t, s, repl)
	all[49] = repl

	// Delete from the front (log compaction).
	must(t, s.DeleteRange(1, 10))
	wantBounds(t, s, 11, 100)
	wantMissing(t, s, 10)
	wantLog(t, s, all[10])

	// Delete from the back (conflict truncation).
	must(t, s.DeleteRange(91, 100))
	wantBounds(t, s, 11, 90)
	wantMissing(t, s, 91)
	wantLog(t, s, all[89])

	// A hole in the middle leaves the bounds alone.
	must(t, s.DeleteRange(40, 45))
	wantBounds(t, s, 11, 90)
	wantMissing(t, s, 42)
	wantLog(t, s, all[38])
	wantLog(t, s, all[45])

	// Overlapping an already deleted prefix.
	must(t, s.DeleteRange(5, 20))
	wantBounds(t, s, 21, 90)

	// Appending after truncation.
	more := makeLogs(91, 120, 10)
	must(t, s.StoreLogs(more))
	wantBounds(t, s, 21, 120)
	wantLog(t, s, more[len(more)-1])

	// Delete everything, then start again higher up.
	must(t, s.DeleteRange(21, 120))
	wantBounds(t, s, 0, 0)
	wantMissing(t, s, 60)
	later := makeLogs(200, 210, 0)
	must(t, s.StoreLogs(later))
	wantBounds(t, s, 200, 210)
	wantLog(t, s, later[0])
	must(t, s.DeleteRange(150, 300))
	wantBounds(t, s, 0, 0)

	// Empty and reversed ranges are no-ops.
	must(t, s.StoreLogs(makeLogs(300, 305, 1)))
	must(t, s.DeleteRange(304, 303))
	wantBounds(t, s, 300, 305)
}

func TestConformance(t *testing.T) {
	t.Run("raft.InmemStore", func(t *testing.T) {
		testConformance(t, raft.NewInmemStore())
	})
	t.Run("Disk", func(t *testing.T) {
		testConformance(t, openTest(t, t.TempDir(), Options{NoSync: true}))
	})
	t.Run("DiskSync", func(t *testing.T) {
		testConformance(t, openTest(t, t.TempDir(), Options{}))
	})
	t.Run("InMemory", func(t *testing.T) {
		testConformance(t, openTest(t, "", Options{InMemory: true}))
	})
}

// TestDifferential applies a random raft-like workload (appends,
// compactions from the front, truncations from the back, stable writes) to
// raft.InmemStore and to a Store that is reopened now and then, and checks
// they agree after every step.
func TestDifferential(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	ref := raft.NewInmemStore()
	rng := rand.New(rand.NewPCG(1, 2))
	next := uint64(1)
	both := func(f func(store) error) {
		t.Helper()
		must(t, f(ref))
		must(t, f(s))
	}
	for step := range 400 {
		first, _ := ref.FirstIndex()
		last, _ := ref.LastIndex()
		switch op := rng.IntN(10); {
		case op < 5 || last == 0:
			n := uint64(rng.IntN(80) + 1)
			logs := makeLogs(next, next+n-1, rng.IntN(300))
			both(func(st store) error { return st.StoreLogs(logs) })
			next += n
		case op < 7:
			hi := first + uint64(rng.IntN(int(last-first+1)))
			both(func(st store) error { return st.DeleteRange(first, hi) })
		case op < 9:
			lo := last - uint64(rng.IntN(int(min(last-first+1, 20))))
			both(func(st store) error { return st.DeleteRange(lo, last) })
			next = lo
			if lo == first {
				next = last + 1 // raft never reuses indexes below a snapshot
			}
		default:
			k := []byte(fmt.Sprintf("key-%d", rng.IntN(5)))
			v := uint64(rng.Int64())
			both(func(st store) error { return st.SetUint64(k, v) })
			both(func(st store) error { return st.Set(k, binary.AppendUvarint(nil, v)) })
		}
		if step%50 == 49 {
			s = reopen(t, s, dir)
		}

		first, _ = ref.FirstIndex()
		last, _ = ref.LastIndex()
		wantBounds(t, s, first, last)
		for range 5 {
			idx := uint64(rng.IntN(int(next+10))) + max(first, 10) - 10
			var a, b raft.Log
			ea, eb := ref.GetLog(idx, &a), s.GetLog(idx, &b)
			if ea != eb || (ea == nil && !logsEqual(&a, &b)) { //nolint:errorlint // sentinel compared as raft does
				t.Fatalf("step %d: GetLog(%d): inmem %v %+v, badger %v %+v", step, idx, ea, a, eb, b)
			}
		}
		for i := range 5 {
			k := []byte(fmt.Sprintf("key-%d", i))
			na, ea := ref.GetUint64(k)
			nb, eb := s.GetUint64(k)
			va, eva := ref.Get(k)
			vb, evb := s.Get(k)
			if na != nb || ea != nil || eb != nil || !bytes.Equal(va, vb) || (eva == nil) != (evb == nil) {
				t.Fatalf("step %d: key %s: inmem %d %v %x %v, badger %d %v %x %v", step, k, na, ea, va, eva, nb, eb, vb, evb)
			}
		}
	}
}

func TestLargeBatch(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	logs := makeLogs(1, 10_000, 1024)
	if size := int64(len(logs) * 1024); size <= s.db.MaxBatchSize() {
		t.Fatalf("batch of %d bytes fits in one transaction (max %d); test does not exercise splitting", size, s.db.MaxBatchSize())
	}
	must(t, s.StoreLogs(logs))
	check := func(s *Store, first uint64) {
		t.Helper()
		wantBounds(t, s, first, 10_000)
		for _, l := range logs[first-1:] {
			wantLog(t, s, l)
		}
		if m := readMeta(t, s, keyPending); m != nil {
			t.Fatalf("pending marker left behind: %x", m)
		}
	}
	check(s, 1)
	s = reopen(t, s, dir)
	check(s, 1)
	must(t, s.DeleteRange(1, 9_000))
	check(s, 9_001)
	s = reopen(t, s, dir)
	check(s, 9_001)
	if s.firstHint != 9_001 {
		t.Fatalf("firstHint = %d, want 9001", s.firstHint)
	}
}

// TestLargeDelete deletes more keys than one transaction can hold.
func TestLargeDelete(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	n := uint64(s.db.MaxBatchCount()) + 5_000
	for lo := uint64(1); lo <= n; lo += 4096 {
		must(t, s.StoreLogs(makeLogs(lo, min(lo+4095, n), 8)))
	}
	wantBounds(t, s, 1, n)
	must(t, s.DeleteRange(2, n-1))
	wantBounds(t, s, 1, n)
	wantMissing(t, s, 2)
	wantMissing(t, s, n-1)
	if m := readMeta(t, s, keyPending); m != nil {
		t.Fatalf("pending marker left behind: %x", m)
	}
	must(t, s.DeleteRange(1, 1))
	wantBounds(t, s, n, n)
	s = reopen(t, s, dir)
	wantBounds(t, s, n, n)
}

func readMeta(t testing.TB, s *Store, key []byte) []byte {
	t.Helper()
	var v []byte
	must(t, s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getValue(txn, key)
		return err
	}))
	return v
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	logs := makeLogs(1, 500, 200)
	must(t, s.StoreLogs(logs))
	must(t, s.Set([]byte("LastVoteCand"), []byte("node-2")))
	must(t, s.Set([]byte("empty"), []byte{}))
	must(t, s.SetUint64([]byte("CurrentTerm"), 12))
	must(t, s.DeleteRange(1, 100))
	must(t, s.DeleteRange(451, 500))

	s = reopen(t, s, dir)
	wantBounds(t, s, 101, 450)
	for _, l := range logs[100:450] {
		wantLog(t, s, l)
	}
	wantMissing(t, s, 100)
	wantMissing(t, s, 451)
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("Get(LastVoteCand) = %q, %v", v, err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %#v, %v", v, err)
	}
	if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != 12 {
		t.Fatalf("GetUint64(CurrentTerm) = %d, %v", n, err)
	}

	// Emptying the log raises the first-index hint; storing below it must
	// lower the hint again or the entries would be invisible after reopen.
	must(t, s.DeleteRange(101, 450))
	wantBounds(t, s, 0, 0)
	s = reopen(t, s, dir)
	wantBounds(t, s, 0, 0)
	low := makeLogs(5, 9, 3)
	must(t, s.StoreLogs(low))
	s = reopen(t, s, dir)
	wantBounds(t, s, 5, 9)
	wantLog(t, s, low[0])
}

// TestRecoverInterruptedStoreLogs simulates a crash between the
// transactions of a split StoreLogs: Open must roll the batch back.
func TestRecoverInterruptedStoreLogs(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	must(t, s.StoreLogs(makeLogs(1, 10, 16)))
	must(t, s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(keyPending, encodePending(opStoreLogs, 11, 20)); err != nil {
			return err
		}
		for _, l := range makeLogs(11, 15, 16) {
			if err := txn.Set(logKey(l.Index), encodeLog(l)); err != nil {
				return err
			}
		}
		return nil
	}))
	s = reopen(t, s, dir)
	wantBounds(t, s, 1, 10)
	wantMissing(t, s, 11)
	wantMissing(t, s, 15)
	if m := readMeta(t, s, keyPending); m != nil {
		t.Fatalf("pending marker left behind: %x", m)
	}
	must(t, s.StoreLogs(makeLogs(11, 12, 16)))
	s = reopen(t, s, dir)
	wantBounds(t, s, 1, 12)
}

// TestRecoverInterruptedDeleteRange simulates a crash between the
// transactions of a split DeleteRange: Open must finish it.
func TestRecoverInterruptedDeleteRange(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	logs := makeLogs(1, 20, 16)
	must(t, s.StoreLogs(logs))
	must(t, s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(keyPending, encodePending(opDeleteRange, 1, 10)); err != nil {
			return err
		}
		for i := uint64(1); i <= 3; i++ {
			if err := txn.Delete(logKey(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	s = reopen(t, s, dir)
	wantBounds(t, s, 11, 20)
	wantMissing(t, s, 5)
	wantLog(t, s, logs[10])
	if m := readMeta(t, s, keyPending); m != nil {
		t.Fatalf("pending marker left behind: %x", m)
	}
}

func TestLargeEntries(t *testing.T) {
	t.Run("Disk", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir, Options{NoSync: true})
		logs := append(makeLogs(1, 20, 300<<10), makeLogs(21, 22, 3<<20)...)
		must(t, s.StoreLogs(logs))
		s = reopen(t, s, dir)
		wantBounds(t, s, 1, 22)
		for _, l := range logs {
			wantLog(t, s, l)
		}
		must(t, s.DeleteRange(1, 21))
		s.runValueLogGC() // must be harmless whatever it finds
		wantBounds(t, s, 22, 22)
		wantLog(t, s, logs[21])
	})
	t.Run("InMemory", func(t *testing.T) {
		s := openTest(t, "", Options{InMemory: true})
		// 6 MB of inline values: more than one transaction.
		logs := makeLogs(1, 20, 300<<10)
		must(t, s.StoreLogs(logs))
		wantBounds(t, s, 1, 20)
		for _, l := range logs {
			wantLog(t, s, l)
		}
		// Badger rejects values over 1 MiB in memory mode; nothing of the
		// batch may be left behind.
		if err := s.StoreLogs(makeLogs(21, 22, 2<<20)); err == nil {
			t.Fatal("StoreLogs of 2 MiB entries succeeded in memory mode")
		}
		wantBounds(t, s, 1, 20)
		wantMissing(t, s, 21)
		must(t, s.StoreLogs(makeLogs(21, 21, 10)))
		wantBounds(t, s, 1, 21)
	})
}

// TestSplitStoreLogsRollback makes a split StoreLogs fail after some of its
// transactions committed: the committed part must be rolled back.
func TestSplitStoreLogsRollback(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	must(t, s.StoreLogs(makeLogs(1, 10, 16)))
	var kvs []kv
	for _, l := range makeLogs(11, 5_010, 1024) {
		kvs = append(kvs, kv{key: logKey(l.Index), val: encodeLog(l)})
	}
	kvs = append(kvs, kv{key: nil, val: []byte("x")}) // Badger rejects empty keys
	s.writeMu.Lock()
	err := s.storeLogs(kvs, 11, 5_011, true)
	s.writeMu.Unlock()
	if !errors.Is(err, badger.ErrEmptyKey) {
		t.Fatalf("storeLogs error = %v, want ErrEmptyKey", err)
	}
	if s.failed != nil {
		t.Fatalf("store marked failed: %v", s.failed)
	}
	wantBounds(t, s, 1, 10)
	wantMissing(t, s, 11)
	wantMissing(t, s, 5_000)
	if m := readMeta(t, s, keyPending); m != nil {
		t.Fatalf("pending marker left behind: %x", m)
	}
	s = reopen(t, s, dir)
	wantBounds(t, s, 1, 10)
	must(t, s.StoreLogs(makeLogs(11, 11, 16)))
	wantBounds(t, s, 1, 11)
}

func TestCodec(t *testing.T) {
	cases := []*raft.Log{
		{Index: 1},
		{Index: 2, Term: math.MaxUint64, Type: raft.LogConfiguration, Data: []byte{}, Extensions: []byte{}},
		{Index: 3, Term: 5, Data: []byte("hello"), Extensions: []byte("ext"), AppendedAt: time.Now()},
		{Index: 4, Term: 5, AppendedAt: time.Date(1900, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Index: 5, AppendedAt: time.Unix(0, 0)},
	}
	for _, want := range cases {
		buf := encodeLog(want)
		var got raft.Log
		if err := decodeLog(want.Index, buf, &got); err != nil {
			t.Fatalf("decode %+v: %v", want, err)
		}
		if !logsEqual(&got, want) {
			t.Fatalf("round trip: got %+v, want %+v", got, *want)
		}
		for n := range len(buf) {
			if err := decodeLog(want.Index, buf[:n], &got); !errors.Is(err, errCorrupt) {
				t.Fatalf("decode of %d/%d bytes: error = %v, want errCorrupt", n, len(buf), err)
			}
		}
		if err := decodeLog(want.Index, append(bytes.Clone(buf), 0), &got); !errors.Is(err, errCorrupt) {
			t.Fatalf("decode with trailing byte: error = %v", err)
		}
		bad := bytes.Clone(buf)
		bad[0] = 99
		if err := decodeLog(want.Index, bad, &got); !errors.Is(err, errCorrupt) {
			t.Fatalf("decode of unknown version: error = %v", err)
		}
	}
	if n := len(encodeLog(&raft.Log{Index: 9, Term: 3, Data: make([]byte, 100), AppendedAt: time.Now()})); n > 120 {
		t.Fatalf("encoding of a 100-byte entry is %d bytes", n)
	}
}

func TestConcurrentAccess(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{NoSync: true})
	const total = 3000
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				last, _ := s.LastIndex()
				first, _ := s.FirstIndex()
				if last == 0 {
					continue
				}
				var l raft.Log
				if err := s.GetLog(last, &l); err != nil {
					// Only a deletion published before it ran may explain
					// a missing entry.
					if f, _ := s.FirstIndex(); err != raft.ErrLogNotFound || f <= last { //nolint:errorlint // raft compares with ==
						errs <- fmt.Errorf("GetLog(last=%d) with first=%d: %w", last, f, err)
						return
					}
				}
				if first > last {
					errs <- fmt.Errorf("first %d > last %d", first, last)
					return
				}
			}
		})
	}
	first := uint64(1)
	for lo := uint64(1); lo <= total; lo += 30 {
		must(t, s.StoreLogs(makeLogs(lo, lo+29, 64)))
		if lo > 300 {
			first = lo - 299
			must(t, s.DeleteRange(1, first-1))
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantBounds(t, s, first, total)
}

func TestBadgerLogger(t *testing.T) {
	var buf bytes.Buffer
	l := badgerLogger{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Infof("info %d\n", 1)
	l.Debugf("debug %d\n", 2)
	l.Warningf("warning %d\n", 3)
	l.Errorf("error %d\n", 4)
	out := buf.String()
	if strings.Contains(out, "info") || strings.Contains(out, "debug") ||
		!strings.Contains(out, `level=WARN msg="warning 3"`) || !strings.Contains(out, `level=ERROR msg="error 4"`) {
		t.Fatalf("unexpected log output:\n%s", out)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	dir := t.TempDir()
	s := openTest(t, dir, Options{NoSync: true})
	if s2, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
	must(t, s.Close())
	must(t, s.Close())
}

// countFSM counts applied commands and hashes them in order.
type countFSM struct {
	mu   sync.Mutex
	n    uint64
	hash uint64
}

func (f *countFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.hash = f.hash*1099511628211 ^ h.Sum64()
	return f.n
}

func (f *countFSM) state() (n, hash uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.hash
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	n, h := f.state()
	return countSnapshot{n: n, hash: h}, nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var buf [16]byte
	if _, err := io.ReadFull(rc, buf[:]); err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.hash = binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])
	return nil
}

type countSnapshot struct{ n, hash uint64 }

func (c countSnapshot) Persist(sink raft.SnapshotSink) error {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], c.n)
	binary.BigEndian.PutUint64(buf[8:], c.hash)
	if _, err := sink.Write(buf[:]); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

type testNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	dir   string
	store *Store
	trans *raft.InmemTransport
	fsm   *countFSM
	raft  *raft.Raft
}

func startNode(t *testing.T, n *testNode, w io.Writer) {
	t.Helper()
	var err error
	n.store, err = Open(filepath.Join(n.dir, "badger"), Options{
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("open store of %s: %v", n.id, err)
	}
	snaps, err := raft.NewFileSnapshotStore(n.dir, 2, io.Discard)
	if err != nil {
		t.Fatalf("open snapshots of %s: %v", n.id, err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = n.id
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotInterval = 100 * time.Millisecond
	conf.SnapshotThreshold = 100
	conf.TrailingLogs = 50
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: string(n.id), Output: w, Level: hclog.Warn})
	n.fsm = &countFSM{}
	n.raft, err = raft.NewRaft(conf, n.fsm, n.store, n.store, snaps, n.trans)
	if err != nil {
		t.Fatalf("start raft %s: %v", n.id, err)
	}
}

func stopNode(t *testing.T, n *testNode) {
	t.Helper()
	if n.raft == nil {
		return
	}
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Errorf("shut down %s: %v", n.id, err)
	}
	if err := n.store.Close(); err != nil {
		t.Errorf("close store of %s: %v", n.id, err)
	}
	n.raft = nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if n.raft != nil && n.raft.State() == raft.Leader {
			return n
		}
	}
	return nil
}

// applyAll applies count commands, retrying through leader changes. It
// returns how many commands may have been applied twice.
func applyAll(t *testing.T, nodes []*testNode, start, count int) (retries int) {
	t.Helper()
	pending := make([]int, 0, count)
	for i := range count {
		pending = append(pending, start+i)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("could not apply %d commands", len(pending))
		}
		var leader *testNode
		waitFor(t, "a leader", 5*time.Second, func() bool { leader = leaderOf(nodes); return leader != nil })
		futures := make([]raft.ApplyFuture, len(pending))
		for i, c := range pending {
			futures[i] = leader.raft.Apply([]byte(fmt.Sprintf("command-%d", c)), 5*time.Second)
		}
		var failed []int
		for i, f := range futures {
			if err := f.Error(); err != nil {
				failed = append(failed, pending[i])
			}
		}
		retries += len(failed)
		pending = failed
	}
	return retries
}

func TestRaftCluster(t *testing.T) {
	w := newTestWriter(t)
	nodes := make([]*testNode, 3)
	var servers []raft.Server
	for i := range nodes {
		n := &testNode{id: raft.ServerID(fmt.Sprintf("node%d", i)), dir: t.TempDir()}
		n.addr, n.trans = raft.NewInmemTransport("")
		nodes[i] = n
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	for _, n := range nodes {
		startNode(t, n, w)
	}
	t.Cleanup(func() {
		// Cut the network first so shutting nodes down does not wait on
		// RPC timeouts or trigger elections.
		for _, n := range nodes {
			n.trans.DisconnectAll()
		}
		for _, n := range nodes {
			stopNode(t, n)
		}
	})
	must(t, nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error())

	retries := applyAll(t, nodes, 0, 500)
	converged := func(want uint64) func() bool {
		return func() bool {
			n0, h0 := nodes[0].fsm.state()
			if n0 < want || n0 > want+uint64(retries) {
				return false
			}
			for _, n := range nodes[1:] {
				if n.raft == nil {
					continue
				}
				if ni, hi := n.fsm.state(); ni != n0 || hi != h0 {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "all FSMs to apply 500 commands", 10*time.Second, converged(500))

	// Restart a follower, making the cluster move on while it is down.
	leader := leaderOf(nodes)
	if leader == nil {
		t.Fatal("no leader")
	}
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	stopNode(t, follower)
	for _, n := range nodes {
		if n != follower {
			n.trans.Disconnect(follower.addr)
		}
	}
	retries += applyAll(t, nodes, 500, 150)

	// The reopened store must hold the follower's durable state.
	st, err := Open(filepath.Join(follower.dir, "badger"), Options{Logger: testLogger(t)})
	must(t, err)
	last, _ := st.LastIndex()
	term, err := st.GetUint64([]byte("CurrentTerm"))
	if last < 500 || err != nil || term == 0 {
		t.Fatalf("reopened follower store: last index %d, term %d, err %v", last, term, err)
	}
	must(t, st.Close())

	_, follower.trans = raft.NewInmemTransport(follower.addr)
	for _, n := range nodes {
		if n != follower {
			n.trans.Connect(follower.addr, follower.trans)
			follower.trans.Connect(n.addr, n.trans)
		}
	}
	startNode(t, follower, w)
	waitFor(t, "the restarted follower to catch up", 10*time.Second, func() bool {
		l := leaderOf(nodes)
		return l != nil && converged(650)() && follower.raft.AppliedIndex() == l.raft.AppliedIndex()
	})

	// New entries must land in the restarted follower's store too. (If it
	// caught up through InstallSnapshot its log may be empty until now.)
	retries += applyAll(t, nodes, 650, 20)
	waitFor(t, "the restarted follower to store new entries", 10*time.Second, func() bool {
		l := leaderOf(nodes)
		if l == nil || !converged(670)() {
			return false
		}
		ll, _ := l.store.LastIndex()
		fl, _ := follower.store.LastIndex()
		return ll == fl
	})
	var entry raft.Log
	last, _ = follower.store.LastIndex()
	must(t, follower.store.GetLog(last, &entry))
	if entry.Type != raft.LogCommand || !strings.HasPrefix(string(entry.Data), "command-") || entry.AppendedAt.IsZero() {
		t.Fatalf("follower's last entry = %+v", entry)
	}

	// Snapshots must have compacted the leader's log through DeleteRange.
	waitFor(t, "log compaction", 5*time.Second, func() bool {
		l := leaderOf(nodes)
		if l == nil {
			return false
		}
		first, _ := l.store.FirstIndex()
		return first > 1
	})
	n, _ := follower.fsm.state()
	t.Logf("follower applied %d commands after restart (retries %d)", n, retries)
}

func BenchmarkStoreLogs(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{NoSync: noSync})
			data := bytes.Repeat([]byte{'x'}, 512)
			batch := make([]*raft.Log, 64)
			idx := uint64(1)
			now := time.Now()
			b.SetBytes(int64(len(batch) * len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = &raft.Log{Index: idx, Term: 1, Data: data, AppendedAt: now}
					idx++
				}
				if err := s.StoreLogs(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetLog(b *testing.B) {
	s := openTest(b, b.TempDir(), Options{NoSync: true})
	const n = 10_000
	for lo := uint64(1); lo <= n; lo += 1000 {
		if err := s.StoreLogs(makeLogs(lo, lo+999, 512)); err != nil {
			b.Fatal(err)
		}
	}
	var l raft.Log
	i := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		i = i%n + 1
		if err := s.GetLog(i, &l); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReserve: StoreLogs refuses a batch that would leave less free space
// than the reserve, before writing anything (ErrNoSpace); the stable store
// is not checked (Raft panics when it fails).
func TestReserve(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{NoSync: true, Reserve: 1 << 62})
	err := s.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")}})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("StoreLogs past the reserve: %v, want ErrNoSpace", err)
	}
	if last, err := s.LastIndex(); err != nil || last != 0 {
		t.Fatalf("LastIndex after a refused StoreLogs: %d %v", last, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatalf("SetUint64 past the reserve: %v", err)
	}
}

// TestNoCompactorGoroutines checks that an open store runs none of
// Badger's compactor goroutines, which wake every 50 ms even when nothing
// is written (internal/badgercompact compacts after writes instead).
func TestNoCompactorGoroutines(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{NoSync: true})
	if err := s.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "runCompactor") {
		t.Fatalf("a Badger compactor goroutine runs:\n%s", b.String())
	}
}
