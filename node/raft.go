package node

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/p2pglance/p2pglance/raftfsm/raftbadger"
)

// startCatalog brings the catalog up: a replica (role.go) restores its
// newest certified checkpoint and will follow its peers from there; any
// other node starts Raft.
func (n *Node) startCatalog() error {
	store, err := newCheckpointStore(n.dataPath("catalog"))
	if err != nil {
		return err
	}
	c := newCheckpoints(store, n.fsm, n.log)
	c.isLeader, c.propose, c.onDiverged = n.replica.IsLeader, n.replica.proposeCmd, n.follower.wantResync
	c.every, c.maxLogBytes = uint64(n.cfg.CheckpointEvery), maxKeptLogBytes
	n.ckpt = c
	f := n.follower
	f.self, f.fsm, f.ckpt, f.log = n.id, n.fsm, c, n.log
	f.wait, f.degree, f.saveHints = n.cfg.Timing.LogPollWait, n.cfg.FanoutDegree, n.saveRole
	f.restored = func() { n.kickGC() }
	replica, hints, err := n.loadRole()
	if err != nil {
		return err
	}
	if replica {
		if _, err := c.restoreLocal(); err != nil {
			return err
		}
		f.begin(hints)
		return nil
	}
	c.loadHeld()
	return n.startRaft()
}

// maxKeptLogBytes makes the leader take a checkpoint sooner when the
// commands kept for downstream agents grow past it.
const maxKeptLogBytes = 4 << 20

// startRaft opens the Raft log, snapshots and transport and starts Raft,
// bootstrapping a one-voter cluster on the first start of a node that is
// not told to join.
func (n *Node) startRaft() error {
	var err error
	n.logStore, err = raftbadger.Open(n.dataPath("raft"), raftbadger.Options{InMemory: n.inMemory, Logger: n.log, Reserve: max(n.cfg.DiskReserve, 0) / 4})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	hlog := hclogFor(n.log, "raft")
	var snaps raft.SnapshotStore
	if n.inMemory {
		snaps = raft.NewInmemSnapshotStore()
	} else if snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(n.cfg.DataDir, "raft"), 2, hlog); err != nil {
		return fmt.Errorf("open raft snapshots: %w", err)
	}
	n.transport, err = n.newRaftTransport(hlog)
	if err != nil {
		return fmt.Errorf("raft transport: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.id)
	rc.Logger = hlog
	rc.HeartbeatTimeout = n.cfg.Timing.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.Timing.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.Timing.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.Timing.CommitTimeout
	rc.SnapshotThreshold = 4096
	rc.TrailingLogs = 4096
	if n.cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	if n.cfg.TrailingLogs > 0 {
		rc.TrailingLogs = n.cfg.TrailingLogs
	}
	existing, err := raft.HasExistingState(n.logStore, n.logStore, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, n.logStore, n.logStore, snaps, n.transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if !existing && len(n.cfg.Join) == 0 {
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: n.transport.LocalAddr(), Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	return nil
}

// Snapshot makes Raft take a snapshot of the catalog now and compact its
// log.
func (n *Node) Snapshot() error {
	if n.follower.active.Load() {
		return errors.New("raft snapshot: this node is a replica, outside Raft")
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("raft snapshot: %w", err)
	}
	return nil
}
