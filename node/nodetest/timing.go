package nodetest

import (
	"time"

	"github.com/p2pglance/p2pglance/gossip"
	"github.com/p2pglance/p2pglance/node"
	"github.com/p2pglance/p2pglance/node/tracker"
)

// Timing returns Raft and gossip timers for nodes that share one host:
// a failed node is declared dead by gossip within about 1-2 seconds,
// a leader is elected within a second, nodes that gossip lost are
// looked for every half second, holdings reach their trackers within
// 20 ms and answers about holders are reused for 100 ms.
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
		Holders: tracker.Timing{
			FlushDelay:    20 * time.Millisecond,
			LookupTTL:     100 * time.Millisecond,
			LookupTimeout: time.Second,
			Settle:        5 * time.Second,
		},
	}
}
