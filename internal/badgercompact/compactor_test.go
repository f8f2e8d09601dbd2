package badgercompact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// open opens a Badger database in a temporary directory with small
// memtables and level-0 limits, so a few MiB of writes fill level 0, and
// a Compactor (settle shortened so the test is quick) over it.
func open(t *testing.T) (*badger.DB, *Compactor) {
	t.Helper()
	opts := Options(badger.DefaultOptions(t.TempDir())).
		WithLogger(nil).
		WithMemTableSize(1 << 20).
		WithNumMemtables(1).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(3).
		WithValueThreshold(1 << 10)
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := start(db, slog.New(slog.DiscardHandler), 10*time.Millisecond)
	t.Cleanup(func() {
		c.Stop()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db, c
}

func key(i int) []byte { return fmt.Appendf(nil, "k%08d", i) }

// TestNoCompactorGoroutines checks that a database opened with Options
// runs none of Badger's compactor goroutines, which poll every 50 ms.
func TestNoCompactorGoroutines(t *testing.T) {
	open(t)
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "runCompactor") {
		t.Fatalf("a Badger compactor goroutine runs:\n%s", b.String())
	}
}

// TestCompactsAfterWrites writes far more than level 0 may hold before
// Badger stalls writes: without a compaction the writes would block for
// ever. Afterwards nothing is due, data left level 0, and every key reads
// back.
func TestCompactsAfterWrites(t *testing.T) {
	db, c := open(t)
	const n = 40000 // ~10 MiB: ten memtables
	val := bytes.Repeat([]byte("v"), 200)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i += 200 {
			err := db.Update(func(txn *badger.Txn) error {
				for j := i; j < i+200; j++ {
					if err := txn.Set(key(j), val); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				done <- err
				return
			}
			c.Wrote()
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		// Unblock the writer, or closing the database would hang.
		t.Error("writes stalled: level 0 was never compacted")
		_ = db.Flatten(1)
		<-done
		t.FailNow()
	}
	deadline := time.Now().Add(time.Minute)
	for Due(db) {
		if time.Now().After(deadline) {
			t.Fatalf("compaction still due a minute after the last write: %+v", db.Levels())
		}
		time.Sleep(10 * time.Millisecond)
	}
	below := 0
	for _, l := range db.Levels()[1:] {
		below += l.NumTables
	}
	if below == 0 {
		t.Fatalf("no table left level 0: %+v", db.Levels())
	}
	err := db.View(func(txn *badger.Txn) error {
		for i := range n {
			if _, err := txn.Get(key(i)); err != nil {
				return fmt.Errorf("get %s: %w", key(i), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExclusive checks that Exclusive returns fn's error and that Stop
// may be called twice.
func TestExclusive(t *testing.T) {
	_, c := open(t)
	want := errors.New("from fn")
	if err := c.Exclusive(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("Exclusive returned %v, want %v", err, want)
	}
	c.Stop()
	c.Stop()
}
