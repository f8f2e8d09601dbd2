package raftfsm

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// Command types of checkpoints. Both may be skipped by an FSM that does
// not know them.
const (
	CmdCheckpoint       CommandType = 9 | IgnoreUnknownFlag
	CmdCheckpointDigest CommandType = 10 | IgnoreUnknownFlag
)

// Checkpoint asks every replica of the catalog to capture its state at
// the index this command commits at. Every replica holds the same state
// there, and a snapshot's encoding is deterministic, so every replica
// writes the same bytes.
type Checkpoint struct{}

// CheckpointDigest certifies the checkpoint taken at Index: its size and
// BLAKE3 digest (hex) as the leader wrote it. A replica whose own capture
// differs has diverged; one that fetches the checkpoint from a peer
// verifies the bytes against it.
type CheckpointDigest struct {
	Index  uint64 `json:"index"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
}

// CheckpointHooks are called synchronously from Apply, in log order; they
// must not block.
type CheckpointHooks struct {
	// Capture receives a point-in-time snapshot of the catalog at the
	// index of a Checkpoint command (applied index idx).
	Capture func(idx uint64, snap raft.FSMSnapshot)
	// Certify receives every CheckpointDigest applied.
	Certify func(d CheckpointDigest)
}

// SetCheckpointHooks registers the checkpoint hooks.
func (f *FSM) SetCheckpointHooks(h CheckpointHooks) {
	f.mu.Lock()
	f.hooks = h
	f.mu.Unlock()
}

// ApplyEntry applies one committed command received from another replica
// (an agent outside Raft), exactly as Raft would have. An entry this FSM
// cannot decode changes nothing and is refused (the error wraps
// ErrBadCommand): it came from a peer, not from this node's Raft log.
// The entry is decoded once.
func (f *FSM) ApplyEntry(e Entry) (*Result, error) {
	cmd, err := decode(e.Data)
	if err != nil {
		return nil, fmt.Errorf("apply entry %d: %w: %w", e.Index, ErrBadCommand, err)
	}
	return f.record(e.Index, e.Data, applier{}.applyDecoded(f.state.Load(), e.Index, cmd)), nil
}
