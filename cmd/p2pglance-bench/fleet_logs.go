package main

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
)

// fleetLogs sends the fleet nodes' warnings and errors to stderr until
// the fleet is being stopped: a 40-node shutdown otherwise prints
// hundreds of "transport shutdown" and "closed network connection" lines.
var fleetLogs = &quietHandler{h: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})}

// quietHandler is a slog.Handler that drops every record once stopping
// is set.
type quietHandler struct {
	h        slog.Handler
	stopping atomic.Bool
}

func (q *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !q.stopping.Load() && q.h.Enabled(ctx, l)
}

func (q *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if q.stopping.Load() {
		return nil
	}
	return q.h.Handle(ctx, r)
}

func (q *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietChild{q: q, h: q.h.WithAttrs(as)}
}

func (q *quietHandler) WithGroup(name string) slog.Handler {
	return &quietChild{q: q, h: q.h.WithGroup(name)}
}

// quietChild is a quietHandler's handler with attributes or a group.
type quietChild struct {
	q *quietHandler
	h slog.Handler
}

func (c *quietChild) Enabled(ctx context.Context, l slog.Level) bool {
	return !c.q.stopping.Load() && c.h.Enabled(ctx, l)
}

func (c *quietChild) Handle(ctx context.Context, r slog.Record) error {
	if c.q.stopping.Load() {
		return nil
	}
	return c.h.Handle(ctx, r)
}

func (c *quietChild) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietChild{q: c.q, h: c.h.WithAttrs(as)}
}

func (c *quietChild) WithGroup(name string) slog.Handler {
	return &quietChild{q: c.q, h: c.h.WithGroup(name)}
}
