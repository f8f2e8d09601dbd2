package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/chunkstore"
)

// peerRoutes registers the internal API other nodes call.
func (n *Node) peerRoutes() http.Handler {
	m := mux.NewRouter()
	m.HandleFunc("/internal/v1/apply", n.handleApply).Methods(http.MethodPost)
	m.HandleFunc("/internal/v1/join", n.handleJoin).Methods(http.MethodPost)
	m.HandleFunc("/internal/v1/chunks/{digest}", n.handleGetChunk).Methods(http.MethodGet)
	m.HandleFunc("/internal/v1/chunks/{digest}", n.handlePutChunk).Methods(http.MethodPut)
	m.HandleFunc("/internal/v1/missing", n.handleMissing).Methods(http.MethodPost)
	m.HandleFunc("/internal/v1/prefetch/{id}", n.handlePrefetchProgress).Methods(http.MethodGet)
	m.HandleFunc("/internal/v1/replicate", n.handleReplicate).Methods(http.MethodPost)
	m.HandleFunc("/internal/v1/stats", n.handleStats).Methods(http.MethodGet)
	return m
}

// joinRequest asks the cluster to add a node to the Raft configuration.
type joinRequest struct {
	ID         string `json:"id"`
	RaftAddr   string `json:"raft_addr"`
	GossipAddr string `json:"gossip_addr"`
}

// joinResponse tells a joining node whom to gossip with.
type joinResponse struct {
	GossipAddrs []string `json:"gossip_addrs"`
	Suffrage    string   `json:"suffrage"`
}

// handleJoin serves POST /internal/v1/join: the leader adds the node (as
// a voter while there are fewer than Voters, else as a non-voter); any
// other node forwards to the leader.
func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	req, err := parseJoinRequest(r.Body)
	if err != nil {
		http.Error(w, "bad join request", http.StatusBadRequest)
		return
	}
	n.warnInsecure()
	var resp joinResponse
	if n.raft.State() != raft.Leader {
		leader := n.leaderPeerAddr()
		if leader == "" {
			http.Error(w, "no leader", http.StatusServiceUnavailable)
			return
		}
		body, _ := json.Marshal(req)
		if err := n.peerCall(r.Context(), leader, "/internal/v1/join", body, &resp); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	} else {
		suffrage, err := n.addServer(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		resp.Suffrage = suffrage
	}
	for _, m := range n.gossip.Members() {
		if m.Alive && m.Meta.ID != req.ID && m.Addr != "" {
			resp.GossipAddrs = append(resp.GossipAddrs, m.Addr)
		}
	}
	writeJSONResp(w, resp)
}

// addServer adds a node to the Raft configuration on the leader.
func (n *Node) addServer(req joinRequest) (string, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", fmt.Errorf("read raft configuration: %w", err)
	}
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(req.ID) && s.Address == raft.ServerAddress(req.RaftAddr) {
			return s.Suffrage.String(), nil // already a member (a restart)
		}
		if s.Suffrage == raft.Voter && s.ID != raft.ServerID(req.ID) {
			voters++
		}
	}
	if voters < n.cfg.Voters {
		if err := n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 10*time.Second).Error(); err != nil {
			return "", fmt.Errorf("add voter %s: %w", req.ID, err)
		}
		n.log.Info("added voter", "id", req.ID, "raft", req.RaftAddr)
		return raft.Voter.String(), nil
	}
	if err := n.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 10*time.Second).Error(); err != nil {
		return "", fmt.Errorf("add nonvoter %s: %w", req.ID, err)
	}
	n.log.Info("added non-voter", "id", req.ID, "raft", req.RaftAddr)
	return raft.Nonvoter.String(), nil
}

// joinCluster joins the nodes in cfg.Join (Raft and gossip), retrying
// until it succeeds or ctx ends. Without Join it only rejoins the gossip
// peers remembered from an earlier run.
func (n *Node) joinCluster(ctx context.Context) error {
	if len(n.cfg.Join) == 0 {
		return nil
	}
	req, _ := json.Marshal(joinRequest{ID: n.id, RaftAddr: n.RaftAddr(), GossipAddr: n.GossipAddr()})
	backoff := 100 * time.Millisecond
	for {
		for _, addr := range n.cfg.Join {
			var resp joinResponse
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := n.peerCall(cctx, addr, "/internal/v1/join", req, &resp)
			cancel()
			if err != nil {
				n.log.Debug("join attempt failed", "peer", addr, "err", err)
				continue
			}
			if _, err := n.gossip.Join(ctx, resp.GossipAddrs); err != nil {
				n.log.Warn("gossip join failed", "err", err)
				continue
			}
			n.log.Info("joined cluster", "via", addr, "suffrage", resp.Suffrage)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// handleGetChunk serves a verified chunk to a peer.
func (n *Node) handleGetChunk(w http.ResponseWriter, r *http.Request) {
	d, err := chunkstore.ParseDigest(mux.Vars(r)["digest"])
	if err != nil {
		http.Error(w, "bad digest", http.StatusBadRequest)
		return
	}
	if try := n.originRefusal(r, d); len(try) > 0 {
		n.metrics.originRefusals.Add(1)
		refuseAsOrigin(w, try)
		return
	}
	if !n.upSlots.tryAcquire() {
		// At the limit: say so at once, so the peer asks another holder
		// instead of queueing here.
		n.metrics.busyRefusals.Add(1)
		w.Header().Set(busyHeader, "1")
		if try := n.busyHints(r, d); len(try) > 0 {
			w.Header().Set(tryHeader, strings.Join(try, ","))
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	defer n.upSlots.release()
	buf := n.bufs.get()
	defer n.bufs.put(buf)
	data, err := n.chunks.Get(r.Context(), d, buf.b)
	if err != nil {
		if errors.Is(err, chunkstore.ErrCorrupt) {
			n.metrics.corruptLocal.Add(1)
			n.log.Warn("dropped corrupt local chunk", "digest", d.String())
			n.kickHeal() // a durable copy is fetched again
		}
		if errors.Is(err, chunkstore.ErrNotFound) || errors.Is(err, chunkstore.ErrCorrupt) {
			http.Error(w, "chunk not held", http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	var werr error
	if n.upLimit != nil {
		_, werr = limitedWriter{ctx: r.Context(), w: w, l: n.upLimit}.Write(data)
	} else {
		_, werr = w.Write(data)
	}
	if werr == nil {
		n.metrics.servedChunks.Add(1)
		n.metrics.servedBytes.Add(int64(len(data)))
		if r.Header.Get(lastResortHeader) != "" {
			n.metrics.lastResort.Add(int64(len(data)))
			n.origin.forgetRecipients(d)
		}
		// The requester's id is a hint only: kept if gossip knows it.
		from := r.URL.Query().Get("from")
		if _, known := n.gossip.Member(from); !known {
			from = ""
		}
		n.origin.add(d, from)
	}
}

// busyHeader marks a 503 that means "every upload slot is taken".
const busyHeader = "X-P2pglance-Busy"

// handlePutChunk stores a chunk pushed by an uploading node. The query
// names the image and chunk index so the chunk is protected from garbage
// collection until the upload ends, and announced by gossip.
func (n *Node) handlePutChunk(w http.ResponseWriter, r *http.Request) {
	d, err := chunkstore.ParseDigest(mux.Vars(r)["digest"])
	if err != nil {
		http.Error(w, "bad digest", http.StatusBadRequest)
		return
	}
	if r.ContentLength < 0 || r.ContentLength > int64(n.cfg.ChunkSize) {
		http.Error(w, "bad chunk length", http.StatusBadRequest)
		return
	}
	image := r.URL.Query().Get("image")
	idx, _ := strconv.Atoi(r.URL.Query().Get("idx"))
	total, _ := strconv.Atoi(r.URL.Query().Get("total"))
	buf := n.bufs.get()
	defer n.bufs.put(buf)
	data := buf.b[:r.ContentLength]
	if _, err := io.ReadFull(r.Body, data); err != nil {
		http.Error(w, "short chunk", http.StatusBadRequest)
		return
	}
	if image != "" {
		n.protect(image, d)
	}
	if err := n.chunks.Put(r.Context(), d, data); err != nil {
		if errors.Is(err, chunkstore.ErrDigestMismatch) {
			http.Error(w, "digest mismatch", http.StatusBadRequest)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if image != "" && total > 0 {
		n.gossip.Announce(image, total, []int{idx})
	}
	w.WriteHeader(http.StatusNoContent)
}

// missingRequest lists chunks an uploader wants a replica to hold.
type missingRequest struct {
	Image   string   `json:"image"`
	Digests []string `json:"digests"`
}

// handleMissing answers which of the listed chunks this node lacks, after
// making everything it holds durable (fsync): an empty answer means the
// node holds a durable copy of every listed chunk.
func (n *Node) handleMissing(w http.ResponseWriter, r *http.Request) {
	req, digests, err := parseMissingRequest(r.Body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := n.chunks.Sync(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	missing := []string{}
	for i, d := range digests {
		if req.Image != "" {
			n.protect(req.Image, d)
		}
		ok, err := n.chunks.Has(r.Context(), d)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if !ok {
			missing = append(missing, req.Digests[i])
		}
	}
	writeJSONResp(w, map[string][]string{"missing": missing})
}
