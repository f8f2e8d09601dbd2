// Package reqid carries a request's OpenStack request id
// (X-OpenStack-Request-ID, "req-<uuid>") in its context: from the API
// request that received or made it, through the node's work on it, to the
// internal requests it causes on other nodes (forwarded writes, chunk
// fetches), whose servers put it back in their own contexts. A slog
// handler adds it to every record logged with that context.
package reqid

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Header is the request id's HTTP header, as Glance names it.
const Header = "X-Openstack-Request-Id"

// MaxLen is the longest request id accepted from a client.
const MaxLen = 64

type key struct{}

// New returns a fresh request id.
func New() string { return "req-" + uuid.NewString() }

// Normalize returns the request id a client sent as Glance keeps it
// (prefixed "req-"), a new one when it sent none, and ok false when it is
// longer than MaxLen (Glance answers that 431).
func Normalize(sent string) (id string, ok bool) {
	if sent == "" {
		return New(), true
	}
	if len(sent) > MaxLen {
		return "", false
	}
	if !strings.HasPrefix(sent, "req-") {
		sent = "req-" + sent
	}
	return sent, true
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Inbound returns r's context carrying the request id r's header names,
// when it is well formed (internal requests between nodes carry the id of
// the API request that caused them); otherwise r's context unchanged.
func Inbound(r *http.Request) context.Context {
	sent := r.Header.Get(Header)
	if sent == "" {
		return r.Context()
	}
	id, ok := Normalize(sent)
	if !ok {
		return r.Context()
	}
	return With(r.Context(), id)
}

// Outbound sets req's header to the request id of its context, if any.
func Outbound(req *http.Request) {
	if id := From(req.Context()); id != "" {
		req.Header.Set(Header, id)
	}
}

// Handler wraps h so that every record logged with a context carrying a
// request id has it as the attribute request_id.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
