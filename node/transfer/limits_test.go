package transfer

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestRateLimiterPacesBytes(t *testing.T) {
	l := newRateLimiter(1<<20, 0) // 1 MiB/s, 1 MiB burst
	var buf bytes.Buffer
	w := limitedWriter{ctx: context.Background(), w: &buf, l: l}
	start := time.Now()
	if _, err := w.Write(make([]byte, 3<<20/2)); err != nil { // 1.5 MiB: 0.5 s beyond the burst
		t.Fatal(err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("1.5 MiB through a 1 MiB/s limiter with 1 MiB burst took %s, want about 0.5 s", el)
	}
	if buf.Len() != 3<<20/2 {
		t.Fatalf("wrote %d bytes", buf.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, 10<<20); err == nil {
		t.Fatal("a cancelled wait returned nil")
	}
	var nl *rateLimiter
	if err := nl.wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimiterBurstAndDebt(t *testing.T) {
	const mib = 1 << 20
	l := newRateLimiter(mib, 0) // 1 MiB/s, 1 MiB burst
	now := time.Now()
	if d := l.reserve(now, mib); d != 0 {
		t.Fatalf("the first burst waited %s", d)
	}
	if d := l.reserve(now, mib/2); d != 500*time.Millisecond {
		t.Fatalf("half a MiB past the burst waits %s, want 500ms", d)
	}
	// Beyond the burst: the debt grows, it never deadlocks.
	if d := l.reserve(now, 3*mib); d != 3500*time.Millisecond {
		t.Fatalf("3 MiB more waits %s, want 3.5s", d)
	}
	// Tokens refill at the rate: 10 s later the bucket is full again.
	if d := l.reserve(now.Add(10*time.Second), mib); d != 0 {
		t.Fatalf("a refilled burst waited %s", d)
	}
	// The burst is at least the minimum (one chunk).
	c := newRateLimiter(1024, 8<<20)
	if d := c.reserve(now, 8<<20); d != 0 {
		t.Fatalf("one chunk under a chunk-sized burst waited %s", d)
	}
	if newRateLimiter(0, 8<<20) != nil {
		t.Fatal("rate 0 made a limiter, want nil (unlimited)")
	}
}
