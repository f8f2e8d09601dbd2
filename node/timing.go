package node

import (
	"time"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node/tracker"
)

// Timing tunes how quickly the cluster notices a failed node and elects a
// new leader. A zero field takes its default, given in brackets below and
// chosen for nodes on a LAN. Nodes on one host can use far shorter timers
// (node/nodetest.Timing, which tests and the benchmark's fleet use).
type Timing struct {
	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are
	// hashicorp/raft's settings of the same names [1s, 1s, 500ms, raft's
	// own defaults]: a follower that hears nothing from the leader for
	// HeartbeatTimeout starts an election, and a leader that cannot reach
	// a quorum for LeaderLeaseTimeout steps down. The voters are
	// hypervisors whose tenants compete for the CPU: with half these
	// (tried) a busy host's voters lost their leader over and over when
	// hundreds of agents joined at once.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long the leader may wait before telling
	// followers what committed [15ms]. A follower that forwarded a write
	// learns that it committed from the leader's next AppendEntries, so
	// raft's own default (50ms) would add ~50ms to every write a
	// follower takes.
	CommitTimeout time.Duration
	// RejoinInterval is how often the node looks for Raft members that
	// gossip has lost (after a partition that outlasted failure
	// detection) and joins them again [5s]; see rejoin.go.
	RejoinInterval time.Duration
	// LogPollWait is how long a replica's poll of its upstream waits for
	// a new log entry before it is answered empty [15s]: an idle replica
	// sends one request per LogPollWait. A replica that has heard from no
	// upstream for 3 LogPollWait + 2s stops feeding others.
	LogPollWait time.Duration
	// Gossip tunes memberlist's failure detection and dissemination
	// (zero fields: gossip.Timing's defaults, memberlist's LAN ones but
	// for a 500ms gossip interval).
	Gossip gossip.Timing
	// Holders tunes how quickly holdings reach an image's trackers and
	// how long their answers are reused (zero fields: node/tracker's
	// defaults).
	Holders tracker.Timing
}

// applyDefaults fills in the zero fields.
func (t *Timing) applyDefaults() {
	setDur := func(dst *time.Duration, def time.Duration) {
		if *dst <= 0 {
			*dst = def
		}
	}
	setDur(&t.HeartbeatTimeout, time.Second)
	setDur(&t.ElectionTimeout, time.Second)
	setDur(&t.LeaderLeaseTimeout, 500*time.Millisecond)
	setDur(&t.CommitTimeout, 15*time.Millisecond)
	setDur(&t.RejoinInterval, 5*time.Second)
	setDur(&t.LogPollWait, 15*time.Second)
}
