package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Timing tunes memberlist's failure detection and dissemination. A zero
// field keeps memberlist's LAN default (memberlist.DefaultLANConfig),
// given in brackets below; with the defaults a failed node is declared
// dead after several seconds. Nodes on one host can use far shorter
// timers (node/nodetest.Timing notices a failure within 1-2 seconds).
type Timing struct {
	// ProbeInterval is how often a random member is probed [1s], and
	// ProbeTimeout how long a probe waits for its ack [500ms].
	ProbeInterval, ProbeTimeout time.Duration
	// IndirectChecks is how many other members are asked to probe a
	// member whose direct probe failed [3].
	IndirectChecks int
	// SuspicionMult and SuspicionMaxTimeoutMult scale how long a
	// suspected member has to refute the suspicion before it is declared
	// dead: SuspicionMaxTimeoutMult times SuspicionMult * log10(N) *
	// ProbeInterval, shrinking to SuspicionMult * log10(N) *
	// ProbeInterval as other members confirm the suspicion [4 and 6].
	SuspicionMult, SuspicionMaxTimeoutMult int
	// GossipInterval is how often queued messages (membership changes,
	// chunk availability) are sent to a few random members [200ms].
	GossipInterval time.Duration
	// RetransmitMult is how many times each queued message is sent,
	// times log10(N+1) [4].
	RetransmitMult int
	// PushPullInterval is how often the full state is exchanged with a
	// random member over TCP [30s].
	PushPullInterval time.Duration
	// GossipToTheDeadTime is how long a dead member is still gossiped to
	// and listed by Members [30s].
	GossipToTheDeadTime time.Duration
	// TCPTimeout bounds one TCP exchange: a push/pull, a stream probe
	// [10s].
	TCPTimeout time.Duration
}

// apply sets mc's timers from t's non-zero fields.
func (t Timing) apply(mc *memberlist.Config) {
	setDur := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setDur(&mc.ProbeInterval, t.ProbeInterval)
	setDur(&mc.ProbeTimeout, t.ProbeTimeout)
	setInt(&mc.IndirectChecks, t.IndirectChecks)
	setInt(&mc.SuspicionMult, t.SuspicionMult)
	setInt(&mc.SuspicionMaxTimeoutMult, t.SuspicionMaxTimeoutMult)
	setDur(&mc.GossipInterval, t.GossipInterval)
	setInt(&mc.RetransmitMult, t.RetransmitMult)
	setDur(&mc.PushPullInterval, t.PushPullInterval)
	setDur(&mc.GossipToTheDeadTime, t.GossipToTheDeadTime)
	setDur(&mc.TCPTimeout, t.TCPTimeout)
}
