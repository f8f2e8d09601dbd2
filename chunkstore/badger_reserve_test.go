package chunkstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/p2pglance/p2pglance/chunkstore"
)

// TestBadgerReserve: a Put that would leave less free space than the
// reserve is refused with ErrNoSpace before anything is written (Badger
// writes through memory-mapped files: on a full disk the process would
// die of SIGBUS), and a chunk already held is not refused.
func TestBadgerReserve(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	data := []byte("a chunk stored before the disk filled")
	d := chunkstore.Sum(data)
	s, err := chunkstore.OpenBadger(dir, chunkstore.BadgerOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = chunkstore.OpenBadger(dir, chunkstore.BadgerOptions{Logger: quiet(), Reserve: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other := []byte("a chunk that does not fit")
	if err := s.Put(ctx, chunkstore.Sum(other), other); !errors.Is(err, chunkstore.ErrNoSpace) {
		t.Fatalf("Put past the reserve: %v, want ErrNoSpace", err)
	}
	if ok, err := s.Has(ctx, chunkstore.Sum(other)); err != nil || ok {
		t.Fatalf("a refused chunk is held: %v %v", ok, err)
	}
	if st := s.Stats(); st.Chunks != 1 {
		t.Fatalf("stats after a refused Put: %+v", st)
	}
	if err := s.Put(ctx, d, data); err != nil {
		t.Fatalf("Put of a chunk already held, past the reserve: %v", err)
	}
	if got, err := s.Get(ctx, d, nil); err != nil || string(got) != string(data) {
		t.Fatalf("Get past the reserve: %q %v", got, err)
	}
}
