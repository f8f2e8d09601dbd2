package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/p2pglance/p2pglance/peer"
)

// A node is a Raft voter (it commits the catalog: the first Voters nodes
// of a cluster) or a replica: an agent outside Raft that pulls the
// committed log from its peers (follower.go). A node learns which when it
// first joins; a replica remembers it, with where the voters were, in the
// file role in its data directory, so it restarts as one without asking.
// (A node already in the Raft configuration, voter or non-voter, keeps
// its place there.)

// roleFile is the replica's record.
type roleFile struct {
	Role  string     `json:"role"` // "replica"
	Hints peer.Hints `json:"hints"`
}

const roleReplica = "replica"

// loadRole reads the role file: whether this node is a replica, and the
// voters it knew.
func (n *Node) loadRole() (bool, peer.Hints, error) {
	if n.inMemory {
		return false, peer.Hints{}, nil
	}
	data, err := os.ReadFile(filepath.Join(n.cfg.DataDir, "role"))
	if errors.Is(err, os.ErrNotExist) {
		return false, peer.Hints{}, nil
	}
	if err != nil {
		return false, peer.Hints{}, fmt.Errorf("read role: %w", err)
	}
	var rf roleFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return false, peer.Hints{}, fmt.Errorf("read role: %w", err)
	}
	return rf.Role == roleReplica, rf.Hints, nil
}

// saveRole records that this node is a replica and where the voters are.
func (n *Node) saveRole(h peer.Hints) {
	if n.inMemory {
		return
	}
	data, err := json.Marshal(roleFile{Role: roleReplica, Hints: h})
	if err == nil {
		tmp := filepath.Join(n.cfg.DataDir, "role.tmp")
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, filepath.Join(n.cfg.DataDir, "role"))
		}
	}
	if err != nil {
		n.log.Warn("could not record the node's role", "err", err)
	}
}

// becomeReplica turns a node that joined with no Raft state into a
// replica: it records the role, stops the idle Raft it started with (it
// was never in the configuration) and starts following the log.
func (n *Node) becomeReplica(h peer.Hints) {
	if n.follower.active.Load() {
		n.follower.noteHints(h)
		return
	}
	n.saveRole(h)
	n.follower.begin(h)
	if err := n.raft.Shutdown().Error(); err != nil {
		n.log.Warn("stopping raft", "err", err)
	}
	n.transport.CloseStreams()
	_ = n.transport.Close()
	if err := n.logStore.Close(); err != nil {
		n.log.Warn("closing raft log", "err", err)
	}
	n.logStore = nil
	if !n.inMemory {
		_ = os.RemoveAll(n.dataPath("raft"))
	}
	// The Raft log's Badger memtable (an arena of about 21 MiB, allocated
	// when the node started) is garbage now. Until the next collection
	// the garbage collector's goal still counts it as live, which lets
	// twice as much garbage pile up (and stay resident) before that
	// collection comes: collect now and hand the freed pages back.
	go debug.FreeOSMemory()
	n.log.Info("joined as a replica: the catalog comes from peers", "voters", len(h.Voters), "leader", h.Leader)
}

// IsReplica reports whether this node is a replica: outside Raft, its
// catalog pulled from its peers.
func (n *Node) IsReplica() bool { return n.follower.active.Load() }

// CatalogUpstream returns the id of the node this replica pulls the log
// from now ("" on a voter, or when it has none).
func (n *Node) CatalogUpstream() string {
	if !n.IsReplica() {
		return ""
	}
	return n.follower.Upstream()
}
