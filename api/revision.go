package api

// Read-your-writes across nodes. Every answer to a write names the
// catalog revision it left behind — the Raft index the answering node had
// applied when it answered — in RevisionHeader and in RevisionCookie. A
// request that brings a revision back (the cookie, which cookie-keeping
// clients send to every node of one host name, or the header) is served
// only once the local replica has applied it: the read waits for
// replication that is already under way and asks nothing of the leader.
// Requests without a revision are served from the local replica at once,
// as before.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RevisionHeader carries a catalog revision (a Raft index, in decimal).
// Every answer to a POST, PUT, PATCH or DELETE carries it, whatever its
// status (a failed write may have changed state: a refused upload queues
// its image again); a request that carries it is served once the
// answering node has applied that revision. A p2pglance extension:
// Glance clients never send it, but they keep and return RevisionCookie.
const RevisionHeader = "X-P2pglance-Revision"

// RevisionCookie is the cookie that carries the same revision as
// RevisionHeader: "p2pglance-rev=<index>; Path=/; HttpOnly;
// SameSite=Strict" (and Secure over TLS). A request with both is held to
// the larger; an answer never lowers the revision its request carried.
const RevisionCookie = "p2pglance-rev"

// DefaultRevisionWait is how long a request waits for the revision it
// carries before the node passes a read barrier instead
// (Config.RevisionWait).
const DefaultRevisionWait = 2 * time.Second

// errBadRevision marks a RevisionHeader given more than once.
var errBadRevision = errors.New("revision header repeated")

// revisionWriter is a request's ResponseWriter that stamps the answer
// with the catalog revision: always for a write, and for a read whose
// revision this cluster never issued (so the client forgets it).
type revisionWriter struct {
	http.ResponseWriter
	backend Backend
	want    uint64 // the revision the request carries; 0: none
	bad     error  // a malformed RevisionHeader (400 once the request is admitted)
	stamp   bool   // the answer carries the revision
	secure  bool   // the request came over TLS: the cookie is Secure
	done    bool   // the header was written (or stamped)
}

// newRevisionWriter reads the revision r carries and wraps w.
func newRevisionWriter(w http.ResponseWriter, r *http.Request, b Backend) *revisionWriter {
	rw := &revisionWriter{
		ResponseWriter: w, backend: b, secure: r.TLS != nil,
		stamp: r.Method != http.MethodGet && r.Method != http.MethodHead,
	}
	for _, c := range r.Cookies() {
		if c.Name != RevisionCookie {
			continue
		}
		// A malformed cookie is ignored: the next write's answer
		// replaces it.
		if n, err := strconv.ParseUint(c.Value, 10, 64); err == nil {
			rw.want = max(rw.want, n)
		}
	}
	if v, ok := r.Header[http.CanonicalHeaderKey(RevisionHeader)]; ok {
		var n uint64
		err := errBadRevision
		if len(v) == 1 {
			n, err = strconv.ParseUint(strings.TrimSpace(v[0]), 10, 64)
		}
		if err != nil {
			rw.bad = &Error{Status: http.StatusBadRequest, Explanation: RevisionHeader + " must be one catalog revision, a non-negative integer."}
		} else {
			rw.want = max(rw.want, n)
		}
	}
	return rw
}

// awaitRevision holds the request until the local replica has applied
// the revision it carries. A revision not applied within RevisionWait
// (a node far behind, or cut off from the leader) is looked for after a
// read barrier: the request then proceeds, or answers 503 when the
// barrier fails. A revision still ahead of the replica after a barrier
// was never issued by this cluster (a cookie from a cluster since
// rebuilt): it is ignored, and the answer replaces the cookie.
func (s *Server) awaitRevision(r *http.Request, rw *revisionWriter) error {
	if rw.bad != nil {
		return rw.bad
	}
	b := s.cfg.Backend
	if rw.want == 0 || b.AppliedIndex() >= rw.want {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RevisionWait)
	err := b.WaitApplied(ctx, rw.want)
	cancel()
	if err == nil {
		return nil
	}
	if err := r.Context().Err(); err != nil {
		return err
	}
	if err := b.Sync(r.Context()); err != nil {
		return err
	}
	if applied := b.AppliedIndex(); applied < rw.want {
		s.log.Warn("request revision ahead of the cluster: ignored", "revision", rw.want, "applied", applied)
		rw.want, rw.stamp = 0, true
	}
	return nil
}

// stampOnce adds the revision to the answer's headers, before they are
// written.
func (rw *revisionWriter) stampOnce() {
	if rw.done {
		return
	}
	rw.done = true
	if !rw.stamp {
		return
	}
	rev := max(rw.want, rw.backend.AppliedIndex())
	if rev == 0 {
		return
	}
	v := strconv.FormatUint(rev, 10)
	h := rw.ResponseWriter.Header()
	h.Set(RevisionHeader, v)
	c := &http.Cookie{Name: RevisionCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: rw.secure}
	h.Add("Set-Cookie", c.String())
}

// WriteHeader stamps the answer, then writes its header.
func (rw *revisionWriter) WriteHeader(code int) {
	if code >= 200 {
		rw.stampOnce()
	}
	rw.ResponseWriter.WriteHeader(code)
}

// Write stamps the answer if its header is not written yet, then writes.
func (rw *revisionWriter) Write(p []byte) (int, error) {
	rw.stampOnce()
	return rw.ResponseWriter.Write(p)
}

// FlushError stamps the answer, then flushes it.
func (rw *revisionWriter) FlushError() error {
	rw.stampOnce()
	return http.NewResponseController(rw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (rw *revisionWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
