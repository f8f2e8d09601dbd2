package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// Server is what a node does for its peers; Handler calls it with the
// request decoded and checked as far as the protocol goes (body caps,
// JSON, addresses). The Server checks what it knows: node and image ids
// and digests (ErrBadRequest). An error is answered by the table in
// statusOf: ErrBadRequest and ErrMismatch 400, ErrNotFound 404,
// ErrUnavailable and a BusyError 503; any other error 503 from Apply,
// Join, Replicate, Holdings and Holders (the sender tries later or
// elsewhere), 500 from the rest.
type Server interface {
	// Apply proposes cmd (an encoded raftfsm command, as much of it as
	// MaxApplyBody) if this node leads, and returns the outcome; Code
	// CodeNotLeader if it does not. An error means the outcome is
	// unknown. With cu, the answer may carry the entries the sender
	// lacks up to its write (ApplyResponse.Entries).
	Apply(ctx context.Context, cmd []byte, cu *CatchUp) (ApplyResponse, error)
	// Join adds a node to the cluster (forwarded to the leader).
	Join(ctx context.Context, req JoinRequest) (JoinResponse, error)
	// GetChunk answers a chunk GET: a BusyError to refuse (at the
	// upload limit, or origin protection), ErrNotFound when the chunk is
	// not held, or the chunk's bytes written to body(size).
	GetChunk(ctx context.Context, req ChunkRequest, body ChunkBody) error
	// PutChunk stores a pushed chunk of size bytes read from data:
	// ErrMismatch when they do not match the digest.
	PutChunk(ctx context.Context, req ChunkPut, size int64, data io.Reader) error
	// Missing makes the chunks the node holds durable (fsync) and
	// returns those of req.Digests it lacks; none means it holds a
	// durable copy of every one.
	Missing(ctx context.Context, req MissingRequest) ([]string, error)
	// PrefetchProgress is the node's progress on prefetch job id.
	PrefetchProgress(ctx context.Context, id string) Progress
	// Replicate makes the node a durable holder of every chunk of an
	// image (the leader's repair asks).
	Replicate(ctx context.Context, imageID string) error
	// Stats measures the node's chunk store.
	Stats(ctx context.Context) (Usage, error)
	// Holdings records a holder's batch of holdings (this node tracks
	// those images). The batch is decoded and checked (DecodeHoldings).
	Holdings(ctx context.Context, h Holdings) error
	// Holders answers who holds an image as far as this node tracks it
	// (the query checked by DecodeHoldersQuery).
	Holders(ctx context.Context, q HoldersQuery) (HoldersAnswer, error)
}

// ChunkBody starts the answer to a chunk GET: it sets the headers for a
// chunk of size bytes and returns the writer of the body.
type ChunkBody func(size int) io.Writer

// Handler returns the routes of the internal API, served by s.
func Handler(s Server) http.Handler {
	r := mux.NewRouter()
	Routes(r, s)
	return r
}

// Routes registers every route of the internal API on r, served by s.
func Routes(r *mux.Router, s Server) {
	h := handlers{s: s}
	unavailable, failed := http.StatusServiceUnavailable, http.StatusInternalServerError
	r.Handle(PathApply, route(h.apply, unavailable)).Methods(http.MethodPost)
	r.Handle(PathJoin, route(h.join, unavailable)).Methods(http.MethodPost)
	r.Handle(PathChunks+"{digest}", route(h.getChunk, failed)).Methods(http.MethodGet)
	r.Handle(PathChunks+"{digest}", route(h.putChunk, failed)).Methods(http.MethodPut)
	r.Handle(PathMissing, route(h.missing, failed)).Methods(http.MethodPost)
	r.Handle(PathPrefetch+"{id}", route(h.prefetch, failed)).Methods(http.MethodGet)
	r.Handle(PathReplicate, route(h.replicate, unavailable)).Methods(http.MethodPost)
	r.Handle(PathStats, route(h.stats, failed)).Methods(http.MethodGet)
	r.Handle(PathHoldings, route(h.holdings, unavailable)).Methods(http.MethodPost)
	r.Handle(PathHolders, route(h.holders, unavailable)).Methods(http.MethodPost)
}

// answer tracks whether a handler started its answer.
type answer struct {
	http.ResponseWriter
	started bool
}

func (a *answer) WriteHeader(code int) {
	a.started = true
	a.ResponseWriter.WriteHeader(code)
}

func (a *answer) Write(p []byte) (int, error) {
	a.started = true
	return a.ResponseWriter.Write(p)
}

// route turns a handler that returns an error into an http.Handler: the
// error, unless the answer has started, is answered by statusOf (a
// BusyError with its headers).
func route(fn func(w http.ResponseWriter, r *http.Request) error, fallback int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &answer{ResponseWriter: w}
		err := fn(a, r)
		if err == nil || a.started {
			return
		}
		var busy *BusyError
		if errors.As(err, &busy) {
			refuseBusy(w, busy)
			return
		}
		code, msg := statusOf(err, fallback)
		http.Error(w, msg, code)
	})
}

// refuseBusy answers a chunk GET with a busy or origin refusal.
func refuseBusy(w http.ResponseWriter, e *BusyError) {
	w.Header().Set(HeaderBusy, "1")
	if e.Origin {
		w.Header().Set(HeaderOrigin, "1")
		w.Header().Set(HeaderTry, joinTry(e.Try))
		http.Error(w, "served already: take it from a cached copy", http.StatusServiceUnavailable)
		return
	}
	if len(e.Try) > 0 {
		w.Header().Set(HeaderTry, joinTry(e.Try))
	}
	http.Error(w, "busy", http.StatusServiceUnavailable)
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// handlers decode requests for a Server and encode its answers.
type handlers struct{ s Server }

func (h handlers) apply(w http.ResponseWriter, r *http.Request) error {
	cmd, err := io.ReadAll(io.LimitReader(r.Body, MaxApplyBody))
	if err != nil {
		return fmt.Errorf("%w: read command: %w", ErrBadRequest, err)
	}
	var cu *CatchUp
	if v := r.URL.Query().Get(queryCatchUp); v != "" {
		after, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadRequest, queryCatchUp, err)
		}
		cu = &CatchUp{After: after}
	}
	out, err := h.s.Apply(r.Context(), cmd, cu)
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

func (h handlers) join(w http.ResponseWriter, r *http.Request) error {
	req, err := DecodeJoin(r.Body)
	if err != nil {
		return err
	}
	out, err := h.s.Join(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

func (h handlers) getChunk(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := ChunkRequest{
		Digest: mux.Vars(r)["digest"], Image: q.Get(queryImage), Idx: -1,
		From: q.Get(queryFrom), LastResort: r.Header.Get(HeaderLastResort) != "",
	}
	if idx, err := strconv.Atoi(q.Get(queryIdx)); err == nil && idx >= 0 {
		req.Idx = idx
	}
	return h.s.GetChunk(r.Context(), req, func(size int) io.Writer {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		return w
	})
}

func (h handlers) putChunk(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength < 0 {
		return fmt.Errorf("%w: chunk of unknown length", ErrBadRequest)
	}
	q := r.URL.Query()
	idx, _ := strconv.Atoi(q.Get(queryIdx))
	total, _ := strconv.Atoi(q.Get(queryTotal))
	req := ChunkPut{Digest: mux.Vars(r)["digest"], Image: q.Get(queryImage), Idx: idx, Total: total}
	if err := h.s.PutChunk(r.Context(), req, r.ContentLength, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h handlers) missing(w http.ResponseWriter, r *http.Request) error {
	req, err := DecodeMissing(r.Body)
	if err != nil {
		return err
	}
	missing, err := h.s.Missing(r.Context(), req)
	if err != nil {
		return err
	}
	if missing == nil {
		missing = []string{}
	}
	return writeJSON(w, missingResponse{Missing: missing})
}

func (h handlers) prefetch(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, h.s.PrefetchProgress(r.Context(), mux.Vars(r)["id"]))
}

func (h handlers) replicate(w http.ResponseWriter, r *http.Request) error {
	id, err := DecodeReplicate(r.Body)
	if err != nil {
		return err
	}
	if err := h.s.Replicate(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, replicateRequest{ImageID: id})
}

func (h handlers) stats(w http.ResponseWriter, r *http.Request) error {
	u, err := h.s.Stats(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, u)
}

func (h handlers) holdings(w http.ResponseWriter, r *http.Request) error {
	in, err := DecodeHoldings(r.Body)
	if err != nil {
		return err
	}
	if err := h.s.Holdings(r.Context(), in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h handlers) holders(w http.ResponseWriter, r *http.Request) error {
	q, err := DecodeHoldersQuery(r.Body)
	if err != nil {
		return err
	}
	out, err := h.s.Holders(r.Context(), q)
	if err != nil {
		return err
	}
	if out.Holders == nil {
		out.Holders = []Holder{}
	}
	return writeJSON(w, out)
}
