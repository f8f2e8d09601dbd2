package api

import (
	"net/http"
	"strings"
)

// ConsistencyHeader lets a client ask for a linearizable read. Reads are
// normally answered from the node's local replica of the catalog, which
// can lag the leader by a few milliseconds (an image changed through
// another node may still show its previous state). With
//
//	X-P2pglance-Consistency: linearizable
//
// the node first passes a read barrier (Backend.Sync: a no-op committed
// through the Raft leader and applied locally), so the answer reflects
// every write acknowledged before the request was sent. The header is a
// p2pglance extension; Glance clients never send it. Any other value is
// a 400. Writes are linearizable with or without it.
const ConsistencyHeader = "X-P2pglance-Consistency"

// ConsistencyLinearizable is the one value ConsistencyHeader accepts.
const ConsistencyLinearizable = "linearizable"

// readBarrier holds the request until the local replica has the catalog
// revision it carries (revision.go), then passes the read barrier when
// the request asks for it.
func (s *Server) readBarrier(r *http.Request, rw *revisionWriter) error {
	if err := s.awaitRevision(r, rw); err != nil {
		return err
	}
	v, ok := r.Header[http.CanonicalHeaderKey(ConsistencyHeader)]
	if !ok {
		if s.cfg.LinearizableReads && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			return s.cfg.Backend.Sync(r.Context())
		}
		return nil
	}
	if len(v) != 1 || !strings.EqualFold(strings.TrimSpace(v[0]), ConsistencyLinearizable) {
		return &Error{Status: http.StatusBadRequest, Explanation: ConsistencyHeader + " accepts only the value " + ConsistencyLinearizable + "."}
	}
	return s.cfg.Backend.Sync(r.Context())
}
