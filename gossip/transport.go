package gossip

import (
	"fmt"
	"log"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Option is a hook New takes beside Config. Production passes none; tests
// use WithTransport to run gossip over a network whose links they can cut
// (see "Test seams" in the package documentation).
type Option func(*options)

type options struct {
	wrap func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

// WithTransport makes memberlist send and receive through wrap(t), where
// t is the UDP and TCP transport New bound at Config.BindAddr. wrap may
// drop packets and refuse or close streams as a network would; the
// transport it returns is shut down with the Gossip.
func WithTransport(wrap func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport) Option {
	return func(o *options) { o.wrap = wrap }
}

// bindTransport binds the network transport as memberlist itself would
// (mc's bind address and port, retried a few times when the port is
// picked at random, since TCP and UDP must get the same free port), and
// fills in mc.BindPort and mc.AdvertisePort when the port was picked.
func bindTransport(mc *memberlist.Config, logger *log.Logger) (*netTransport, error) {
	tries := 1
	if mc.BindPort == 0 {
		tries = 10
	}
	var nt *netTransport
	var err error
	for range tries {
		if nt, err = newNetTransport(mc.BindAddr, mc.BindPort, logger); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gossip transport: %w", err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.port()
		mc.AdvertisePort = mc.BindPort
	}
	return nt, nil
}
