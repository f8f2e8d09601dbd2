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
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
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
