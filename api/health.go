package api

import (
	"context"
	"net/http"
	"os"
)

// Health tells whether the node can serve (GET /healthcheck) and whether
// it is ready for traffic (GET /p2p/v1/ready).
type Health interface {
	// Healthcheck returns nil when the node can serve requests, or why
	// it cannot (no catalog, data directory not writable).
	Healthcheck(ctx context.Context) error
	// Readiness reports whether the node has joined and its catalog is
	// caught up with the leader's commit index within a bound.
	Readiness(ctx context.Context) Readiness
}

// Readiness is the answer of GET /p2p/v1/ready.
type Readiness struct {
	Ready bool `json:"ready"`
	// Reason says why the node is not ready; empty when it is.
	Reason string `json:"reason,omitempty"`
	// Role is leader, voter or replica.
	Role string `json:"role"`
	// AppliedIndex is the last catalog entry this node applied;
	// CommitIndex the highest committed entry it knows of (Raft's commit
	// index on a voter, its upstream's applied index on a replica); Lag
	// the difference.
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	Lag          uint64 `json:"lag"`
	// MaxLag is the largest Lag that is still ready.
	MaxLag uint64 `json:"max_lag"`
}

// healthcheck answers GET and HEAD /healthcheck as oslo.middleware's
// healthcheck does in Glance's pipeline, before version negotiation and
// auth: 200 "OK" (text/plain) when the node can serve, 503 with the
// reason when it cannot, 503 "DISABLED BY FILE" while the file given as
// HealthcheckDisableFile exists (an operator draining the node from its
// load balancer).
func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	status, body := http.StatusOK, "OK"
	if f := s.cfg.HealthcheckDisableFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			status, body = http.StatusServiceUnavailable, "DISABLED BY FILE"
		}
	}
	if status == http.StatusOK && s.cfg.Health != nil {
		if err := s.cfg.Health.Healthcheck(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "healthcheck failed", "err", err)
			status, body = http.StatusServiceUnavailable, err.Error()
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(body))
	}
}

// ready answers GET /p2p/v1/ready, without auth (an orchestrator's
// probe): 200 with the Readiness when ready, 503 with it when not.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	rd := Readiness{Ready: true, Role: "leader"}
	if s.cfg.Health != nil {
		rd = s.cfg.Health.Readiness(r.Context())
	}
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	_ = writeJSON(w, status, rd)
}

// getOrHead answers a method other than GET or HEAD on the routes served
// outside the route table (health, readiness, the dashboard) as the table
// answers one: 405 with Allow, in Glance's error format. It reports
// whether the request may go on.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	writeError(w, r, methodNotAllowedError("GET, HEAD"))
	return false
}
