package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Timing tunes memberlist's failure detection and dissemination. A zero
// field keeps the default given in brackets below: memberlist's LAN
// default (memberlist.DefaultLANConfig) except for GossipInterval; with
// the defaults a failed node is declared dead after several seconds.
// Nodes on one host can use far shorter timers (node/nodetest.Timing
// notices a failure within 1-2 seconds).
type Timing struct {
	// ProbeInterval is how often a random member is probed [1s], and
	// ProbeTimeout how long a probe waits for its ack [500ms, or half
	// of a shorter ProbeInterval].
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
	// GossipInterval is how often queued messages (membership changes)
	// are sent to a few random members [DefaultGossipInterval, not
	// memberlist's LAN 200ms].
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

// DefaultGossipInterval is the gossip interval when Timing leaves it
// zero: memberlist's WAN value rather than its LAN 200ms. memberlist
// wakes every node at this interval even when it has nothing to send,
// which made gossip most of an idle node's CPU (an idle replica: about
// 2.7 millicores at 200ms, 2.0 at 500ms, 1.7 at 1s, N = 20 on
// loopback). News also rides on every probe and ack, so it still
// spreads in about a second: one broadcast reached all of 40 nodes in
// 0.5 s at 200ms, 1.1 s at 500ms, 1.6 s at 1s (measured at commit
// 6cf5214, when gossip still carried chunk holdings, by a benchmark
// that went with them).
const DefaultGossipInterval = 500 * time.Millisecond

// apply sets mc's timers from t's non-zero fields.
func (t Timing) apply(mc *memberlist.Config) {
	mc.GossipInterval = DefaultGossipInterval
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
	if t.ProbeTimeout <= 0 && mc.ProbeTimeout > mc.ProbeInterval/2 {
		// A probe must time out before the next one starts.
		mc.ProbeTimeout = mc.ProbeInterval / 2
	}
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
