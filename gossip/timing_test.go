package gossip

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestTimingApply(t *testing.T) {
	mc := memberlist.DefaultLANConfig()
	Timing{}.apply(mc)
	lan := memberlist.DefaultLANConfig()
	if mc.GossipInterval != DefaultGossipInterval || mc.ProbeInterval != lan.ProbeInterval || mc.ProbeTimeout != lan.ProbeTimeout || mc.PushPullInterval != lan.PushPullInterval {
		t.Fatalf("zero Timing: gossip %v probe %v/%v push-pull %v", mc.GossipInterval, mc.ProbeInterval, mc.ProbeTimeout, mc.PushPullInterval)
	}

	mc = memberlist.DefaultLANConfig()
	Timing{GossipInterval: 200 * time.Millisecond, ProbeInterval: 400 * time.Millisecond}.apply(mc)
	if mc.GossipInterval != 200*time.Millisecond || mc.ProbeInterval != 400*time.Millisecond || mc.ProbeTimeout != 200*time.Millisecond {
		t.Fatalf("short probe interval: gossip %v probe %v/%v; want the timeout halved", mc.GossipInterval, mc.ProbeInterval, mc.ProbeTimeout)
	}

	mc = memberlist.DefaultLANConfig()
	Timing{ProbeInterval: 400 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond}.apply(mc)
	if mc.ProbeTimeout != 300*time.Millisecond {
		t.Fatalf("explicit probe timeout %v, want 300ms", mc.ProbeTimeout)
	}
}
