package node

import (
	"context"
	"testing"
	"time"

	"github.com/p2pglance/p2pglance/gossip"
)

// A voter keeps forwarding to a leader its gossip has declared dead and
// dropped: peerAddr answers the address gossip last gave for it.
func TestPeerAddrOutlivesGossip(t *testing.T) {
	timing := gossip.Timing{
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		IndirectChecks: 1, SuspicionMult: 2, SuspicionMaxTimeoutMult: 2,
		GossipInterval: 20 * time.Millisecond, RetransmitMult: 2,
		PushPullInterval: time.Second, GossipToTheDeadTime: 300 * time.Millisecond,
		TCPTimeout: time.Second,
	}
	start := func(id, peerAddr string) *gossip.Gossip {
		g, err := gossip.New(gossip.Config{Meta: gossip.Meta{ID: id, PeerAddr: peerAddr}, BindAddr: "127.0.0.1:0", Timing: timing})
		if err != nil {
			t.Fatalf("gossip %s: %v", id, err)
		}
		t.Cleanup(func() { _ = g.Shutdown() })
		return g
	}
	self := start("v1", "127.0.0.1:1")
	leader := start("v0", "127.0.0.1:2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := self.Join(ctx, []string{leader.Addr()}); err != nil {
		t.Fatalf("join: %v", err)
	}
	v := &clusterView{self: "v1", gossip: self}
	if got := v.peerAddr("v0"); got != "127.0.0.1:2" {
		t.Fatalf("peerAddr(v0) = %q while gossip lists it", got)
	}
	if got := v.peerAddr("v9"); got != "" {
		t.Fatalf("peerAddr of a node never seen = %q", got)
	}
	if err := leader.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := self.Member("v0"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gossip never dropped the stopped member")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := v.peerAddr("v0"); got != "127.0.0.1:2" {
		t.Fatalf("peerAddr(v0) = %q after gossip dropped it, want the last address it gave", got)
	}
}
