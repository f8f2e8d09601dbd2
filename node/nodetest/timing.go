package nodetest

import (
	"time"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node"
)

// Timing returns Raft and gossip timers for nodes that share one host:
// a failed node is declared dead by gossip within about 1-2 seconds,
// a leader is elected within a second, and nodes that gossip lost are
// looked for every half second.
func Timing() node.Timing {
	return node.Timing{
		// A leader steps down when it has not reached a quorum for
		// LeaderLeaseTimeout: on a loaded 2-core host (a whole test
		// run) 150 ms made leaders step down mid-write.
		HeartbeatTimeout:   400 * time.Millisecond,
		ElectionTimeout:    400 * time.Millisecond,
		LeaderLeaseTimeout: 300 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		RejoinInterval:     500 * time.Millisecond,
		LogPollWait:        time.Second,
		Gossip: gossip.Timing{
			ProbeInterval:           200 * time.Millisecond,
			ProbeTimeout:            100 * time.Millisecond,
			IndirectChecks:          1,
			SuspicionMult:           3, // suspicion lasts >= 600 ms
			SuspicionMaxTimeoutMult: 3, // ... and at most 1.8 s
			GossipInterval:          30 * time.Millisecond,
			RetransmitMult:          3,
			PushPullInterval:        time.Second,
			GossipToTheDeadTime:     2 * time.Second,
			TCPTimeout:              time.Second,
		},
	}
}
