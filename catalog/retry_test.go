package catalog

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRetryOnConflict(t *testing.T) {
	ctx := context.Background()
	conflict := fmt.Errorf("put: %w", ErrConflict)
	other := errors.New("refused")
	cases := []struct {
		name      string
		fails     int   // attempts that lose a race before the outcome
		outcome   error // what the attempt after them returns
		retries   int
		wantCalls int
		wantErr   error
	}{
		{"first try", 0, nil, 3, 1, nil},
		{"wins after races", 2, nil, 3, 3, nil},
		{"races outlast retries", 10, nil, 3, 4, ErrConflict},
		{"other error stops at once", 0, other, 3, 1, other},
		{"no retries", 1, nil, 0, 1, ErrConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, refreshes := 0, 0
			err := RetryOnConflict(ctx, c.retries, func(context.Context) error { refreshes++; return nil }, func(context.Context) error {
				calls++
				if calls <= c.fails {
					return conflict
				}
				return c.outcome
			})
			if calls != c.wantCalls {
				t.Errorf("attempts = %d, want %d", calls, c.wantCalls)
			}
			if refreshes != calls-1 {
				t.Errorf("refreshes = %d, want one between attempts (%d)", refreshes, calls-1)
			}
			if (c.wantErr == nil) != (err == nil) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
	t.Run("refresh error ends it", func(t *testing.T) {
		bad := errors.New("sync failed")
		err := RetryOnConflict(ctx, 5, func(context.Context) error { return bad }, func(context.Context) error { return conflict })
		if !errors.Is(err, bad) {
			t.Fatalf("err = %v, want the refresh error", err)
		}
	})
	t.Run("cancelled context ends it", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		err := RetryOnConflict(cctx, 5, nil, func(context.Context) error { calls++; cancel(); return conflict })
		if calls != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("calls = %d, err = %v; want 1 call and context.Canceled", calls, err)
		}
	})
}
