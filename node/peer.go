package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/p2pglance/p2pglance/internal/reqid"
	"github.com/p2pglance/p2pglance/peer"
	"github.com/p2pglance/p2pglance/raftfsm"
)

// peerServer is what this node does for its peers: package peer's routes
// call it with decoded requests (peer.Handler).
type peerServer struct{ n *Node }

var _ peer.Server = peerServer{}

// peerRoutes is the internal API other nodes call.
func (n *Node) peerRoutes() http.Handler {
	r := mux.NewRouter()
	peer.Routes(r, peerServer{n})
	peer.CatalogRoutes(r, n.feed)
	r.Use(n.peerRequestLog)
	return r
}

// peerRequestLog puts the request id an internal request carries (that of
// the API request that caused it) in its context and logs the request
// with it: forwarded writes at info, as the API's requests are, the rest
// (chunks, log polls: many per API request) at debug.
func (n *Node) peerRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(reqid.Inbound(r))
		level := slog.LevelDebug
		if r.URL.Path == peer.PathApply {
			level = slog.LevelInfo
			n.metrics.forwardedIn.Add(1)
		}
		if !n.log.Enabled(r.Context(), level) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		n.log.LogAttrs(r.Context(), level, "peer request", slog.String("remote", r.RemoteAddr),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.code()),
			slog.Float64("seconds", time.Since(start).Seconds()))
	})
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Apply proposes a forwarded command on the leader.
func (s peerServer) Apply(_ context.Context, cmd []byte, cu *peer.CatchUp) (peer.ApplyResponse, error) {
	n := s.n
	// Only well-formed commands may be proposed: a committed entry that
	// does not decode would stop every replica.
	if err := raftfsm.Validate(cmd); err != nil {
		return peer.ApplyResponse{}, fmt.Errorf("%w: command: %w", peer.ErrBadRequest, err)
	}
	if !n.replica.IsLeader() {
		return peer.ApplyResponse{Code: peer.CodeNotLeader, Leader: n.replica.leaderPeerAddr()}, nil
	}
	start := time.Now()
	f := n.raft.Apply(cmd, n.cfg.WriteTimeout)
	if err := f.Error(); err != nil {
		if notAppended(err) {
			return peer.ApplyResponse{Code: peer.CodeNotLeader, Leader: n.replica.leaderPeerAddr()}, nil
		}
		// Outcome unknown: the forwarding node must not propose again.
		return peer.ApplyResponse{}, fmt.Errorf("apply forwarded command: %w", err)
	}
	res := f.Response().(*raftfsm.Result)
	n.prom.observeWrite(writeForwarded, time.Since(start))
	out := peer.ApplyResponse{Index: res.Index, Code: raftfsm.ErrorCode(res.Err)}
	if res.Err != nil {
		out.Msg = res.Err.Error()
	}
	if cu != nil {
		out.Entries = catchUpEntries(n.fsm, cu.After, res.Index)
	}
	return out, nil
}

// catchUpEntries returns the committed entries after index after up to
// and including upTo, all of them or none: none when there are too many
// (peer.MaxCatchUpEntries, about peer.MaxCatchUpBytes) or this node no
// longer keeps them.
func catchUpEntries(fsm *raftfsm.FSM, after, upTo uint64) []peer.LogEntry {
	if upTo <= after || upTo-after > peer.MaxCatchUpEntries {
		return nil
	}
	// Every command after index after (Raft's own entries leave gaps).
	entries, ok := fsm.Since(after, peer.MaxCatchUpBytes)
	if !ok || len(entries) == 0 {
		return nil
	}
	var out []peer.LogEntry
	for _, e := range entries {
		if e.Index > upTo {
			break
		}
		out = append(out, peer.LogEntry{Index: e.Index, Data: e.Data})
	}
	if len(out) == 0 || out[len(out)-1].Index != upTo {
		return nil
	}
	return out
}

// Join adds a node: the leader adds it (as a voter while there are fewer
// than Voters, else it joins as a replica, outside Raft); any other node
// forwards to the leader.
func (s peerServer) Join(ctx context.Context, req peer.JoinRequest) (peer.JoinResponse, error) {
	n := s.n
	if !validNodeID(req.ID) {
		return peer.JoinResponse{}, fmt.Errorf("%w: node id %q", peer.ErrBadRequest, req.ID)
	}
	n.sec.warnInsecure()
	var resp peer.JoinResponse
	if suffrage, ok := n.members.known(req); ok {
		// A restart of a node this one can place without the leader (a
		// replica, or a member of the Raft configuration it holds): it
		// only needs gossip, which may not have formed yet after a full
		// restart, so the leader's address may be unknown here.
		resp.Suffrage = suffrage
		resp.Hints = n.feed.hints()
	} else if !n.replica.IsLeader() {
		leader := n.replica.leaderPeerAddr()
		if leader == "" {
			return resp, errors.New("no leader")
		}
		var err error
		if resp, err = n.peerClient.Join(ctx, leader, req); err != nil {
			return resp, fmt.Errorf("forward join: %w", err)
		}
	} else {
		suffrage, err := n.members.addServer(req)
		if err != nil {
			return resp, err
		}
		resp.Suffrage = suffrage
		resp.Hints = n.feed.hints()
	}
	resp.GossipAddrs = joinGossipAddrs(n.gossip.Members(), req.ID, joinGossipPeers)
	return resp, nil
}

// GetChunk serves a verified chunk to a peer, unless origin protection
// or the upload slots refuse it (transfer.Transfer.ServeChunk).
func (s peerServer) GetChunk(ctx context.Context, req peer.ChunkRequest, body peer.ChunkBody) error {
	return s.n.xfer.ServeChunk(ctx, req, body)
}

// PutChunk stores a chunk pushed by an uploading node
// (transfer.Transfer.PutChunk).
func (s peerServer) PutChunk(ctx context.Context, req peer.ChunkPut, size int64, r io.Reader) error {
	return s.n.xfer.PutChunk(ctx, req, size, r)
}

// Missing answers which of the listed chunks this node lacks, after
// making everything it holds durable.
func (s peerServer) Missing(ctx context.Context, req peer.MissingRequest) ([]string, error) {
	digests, err := checkMissing(req)
	if err != nil {
		return nil, err
	}
	return s.n.xfer.Lacking(ctx, req.Image, req.Digests, digests)
}

// Replicate makes this node a durable holder of an image (the leader's
// repair asks).
func (s peerServer) Replicate(ctx context.Context, imageID string) error {
	if !validImageID(imageID) {
		return fmt.Errorf("%w: image id %q", peer.ErrBadRequest, imageID)
	}
	return s.n.repairer.replicateLocal(ctx, imageID)
}

// PrefetchProgress is this node's progress on a prefetch job.
func (s peerServer) PrefetchProgress(_ context.Context, id string) peer.Progress {
	return peer.Progress(s.n.prefetcher.localProgress(id))
}

// Stats measures this node's store.
func (s peerServer) Stats(ctx context.Context) (peer.Usage, error) { return s.n.usage(ctx) }
