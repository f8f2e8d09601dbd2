package node

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// rateLimiter is a token bucket over bytes: rate bytes per second, with
// a burst of one second's worth (at least one chunk). A nil limiter, or
// one with rate 0, never waits.
type rateLimiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

func newRateLimiter(bytesPerSec int64, minBurst int) *rateLimiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := max(float64(bytesPerSec), float64(minBurst))
	return &rateLimiter{rate: float64(bytesPerSec), burst: burst, tokens: burst, last: time.Now()}
}

// wait blocks until n bytes may pass, or ctx ends. Tokens may go
// negative (a debt paid by later callers), so a large n never deadlocks.
func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var delay time.Duration
	if l.tokens < 0 {
		delay = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rate limit wait: %w", ctx.Err())
	}
}

// limitedWriter writes through a rate limiter in small pieces, so a
// throttled transfer streams smoothly instead of in bursts.
type limitedWriter struct {
	ctx context.Context
	w   io.Writer
	l   *rateLimiter
}

const limiterPiece = 64 << 10

func (lw limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), limiterPiece)
		if err := lw.l.wait(lw.ctx, k); err != nil {
			return written, err
		}
		m, err := lw.w.Write(p[:k])
		written += m
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}

// limitedReader reads through a rate limiter.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rateLimiter
}

func (lr limitedReader) Read(p []byte) (int, error) {
	if len(p) > limiterPiece {
		p = p[:limiterPiece]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.l.wait(lr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// slots bounds concurrent peer uploads; acquire never queues.
type slots struct{ ch chan struct{} }

func newSlots(n int) *slots { return &slots{ch: make(chan struct{}, n)} }

// tryAcquire takes a slot if one is free.
func (s *slots) tryAcquire() bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *slots) release() { <-s.ch }

// inUse returns the number of slots taken.
func (s *slots) inUse() int { return len(s.ch) }
