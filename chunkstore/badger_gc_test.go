package chunkstore_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/p2pglance/p2pglance/chunkstore"
	"github.com/p2pglance/p2pglance/chunkstore/chunkstoretest"
)

// TestBadgerGetDuringReclaim reads kept chunks while Reclaim's value-log
// GC moves them and deletes their old files. Badger does not protect a
// point read from that, so a first read can fail; Get must re-check
// instead of dropping a good chunk as corrupt. (With 1 MiB value-log
// files this hits the race a few times per run.)
func TestBadgerGetDuringReclaim(t *testing.T) {
	ctx := t.Context()
	s, err := chunkstore.OpenBadger(t.TempDir(), chunkstore.BadgerOptions{
		Logger:           quiet(),
		ValueLogFileSize: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const rounds, perRound, readers = 8, 200, 4
	for round := range rounds {
		var kept [][]byte
		var keptDs, gone []chunkstore.Digest
		for i := range perRound {
			d, data := chunkstoretest.Chunk(uint64(round*perRound+i), 64<<10)
			if err := s.Put(ctx, d, data); err != nil {
				t.Fatal(err)
			}
			if i%4 == 0 {
				keptDs, kept = append(keptDs, d), append(kept, data)
			} else {
				gone = append(gone, d)
			}
		}
		if err := s.Delete(ctx, gone...); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for r := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte
				for j := r; ; j = (j + readers) % len(keptDs) {
					select {
					case <-stop:
						return
					default:
					}
					var err error
					buf, err = s.Get(ctx, keptDs[j], buf)
					if err != nil || !bytes.Equal(buf, kept[j]) {
						t.Errorf("Get(kept chunk) during Reclaim: %v", err)
						return
					}
				}
			}()
		}
		err := s.Reclaim(ctx)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
	}
	st := s.Stats()
	if st.CorruptFound != 0 || st.Chunks != rounds*perRound/4 {
		t.Fatalf("Stats = %+v, want no corruption and %d chunks", st, rounds*perRound/4)
	}
}
