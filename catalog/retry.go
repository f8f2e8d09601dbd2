package catalog

import (
	"context"
	"errors"
)

// RetryOnConflict runs a read-modify-write until it stops losing races.
// attempt reads fresh state, changes it and writes it back with the
// revision it read as the write's precondition; when that write fails
// with ErrConflict (another write got there first), refresh runs (when
// not nil: e.g. wait for the local replica to catch up) and attempt runs
// again, at most retries more times. RetryOnConflict returns attempt's
// last error (nil, or an ErrConflict once the retries are spent), or
// refresh's or the context's error.
//
// Every read-modify-write of the catalog (tags, store deletes, imports,
// metadefs namespaces, a node's image and task updates) goes through it.
func RetryOnConflict(ctx context.Context, retries int, refresh func(context.Context) error, attempt func(context.Context) error) error {
	for i := 0; ; i++ {
		err := attempt(ctx)
		if !errors.Is(err, ErrConflict) || i >= retries {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if refresh != nil {
			if err := refresh(ctx); err != nil {
				return err
			}
		}
	}
}
