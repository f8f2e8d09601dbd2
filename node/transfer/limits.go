package transfer

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/time/rate"

	"github.com/p2pglance/p2pglance/node/transfer/policy"
)

// rateLimiter paces bytes with a token bucket (golang.org/x/time/rate):
// rate bytes per second, with a burst of one second's worth (at least one
// chunk). A nil limiter, made for rate 0, never waits.
type rateLimiter struct {
	lim *rate.Limiter
}

func newRateLimiter(bytesPerSec int64, minBurst int) *rateLimiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(policy.Burst(bytesPerSec, minBurst))
	return &rateLimiter{lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst)}
}

// reserve takes n bytes' worth of tokens at now and returns how long the
// caller must wait before they may pass. Tokens may go negative (a debt
// paid by later callers), so a large n never deadlocks: n beyond the
// burst is reserved in burst-sized pieces, each queued after the last.
func (l *rateLimiter) reserve(now time.Time, n int) time.Duration {
	var delay time.Duration
	burst := l.lim.Burst()
	for n > 0 {
		k := min(n, burst)
		delay = l.lim.ReserveN(now, k).DelayFrom(now)
		n -= k
	}
	return delay
}

// wait blocks until n bytes may pass, or ctx ends. A wait cut short by ctx
// keeps its debt (the reservation is not given back).
func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	delay := l.reserve(time.Now(), n)
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
