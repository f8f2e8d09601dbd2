package gossip

import (
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Links decides which peers this node can exchange gossip with; tests
// use it to cut the network between nodes (see Config.Links).
type Links interface {
	// Allowed reports whether traffic may flow between this node and the
	// peer at addr: its gossip address, or the remote address of a
	// stream it opened.
	Allowed(addr string) bool
	// Track registers a stream this node opened to the peer at addr and
	// returns the conn to use; the implementation closes it when the link
	// is cut.
	Track(conn net.Conn, addr string) net.Conn
}

// linkTransport is memberlist's network transport with cuttable links:
// packets to or from a cut-off peer are dropped (as a network would),
// streams to it cannot be opened and streams from it are closed on
// arrival.
type linkTransport struct {
	*memberlist.NetTransport
	links    Links
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*linkTransport)(nil)

// newLinkTransport binds memberlist's transport as memberlist would (mc's
// bind address and port, a few tries when the port is picked at random)
// and wraps it. It fills in mc.BindPort and mc.AdvertisePort.
func newLinkTransport(mc *memberlist.Config, links Links, logger *log.Logger) (*linkTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: logger}
	tries := 1
	if mc.BindPort == 0 {
		tries = 10 // TCP and UDP must get the same free port
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gossip transport: %w", err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.GetAutoBindPort()
		mc.AdvertisePort = mc.BindPort
	}
	t := &linkTransport{
		NetTransport: nt,
		links:        links,
		packets:      make(chan *memberlist.Packet),
		streams:      make(chan net.Conn),
		stop:         make(chan struct{}),
	}
	t.wg.Add(2)
	go t.filterPackets()
	go t.filterStreams()
	return t, nil
}

func (t *linkTransport) filterPackets() {
	defer t.wg.Done()
	in := t.NetTransport.PacketCh()
	for {
		select {
		case <-t.stop:
			return
		case p := <-in:
			if !t.links.Allowed(p.From.String()) {
				continue
			}
			select {
			case t.packets <- p:
			case <-t.stop:
				return
			}
		}
	}
}

func (t *linkTransport) filterStreams() {
	defer t.wg.Done()
	in := t.NetTransport.StreamCh()
	for {
		select {
		case <-t.stop:
			return
		case c := <-in:
			if !t.links.Allowed(c.RemoteAddr().String()) {
				_ = c.Close()
				continue
			}
			select {
			case t.streams <- c:
			case <-t.stop:
				_ = c.Close()
				return
			}
		}
	}
}

// PacketCh implements memberlist.Transport.
func (t *linkTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// StreamCh implements memberlist.Transport.
func (t *linkTransport) StreamCh() <-chan net.Conn { return t.streams }

// WriteTo implements memberlist.Transport.
func (t *linkTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport; a packet to a
// cut-off peer is lost without an error, as on a real network.
func (t *linkTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if !t.links.Allowed(a.Addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

// DialTimeout implements memberlist.Transport.
func (t *linkTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *linkTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if !t.links.Allowed(a.Addr) {
		return nil, fmt.Errorf("dial %s: link is cut", a.Addr)
	}
	conn, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return t.links.Track(conn, a.Addr), nil
}

// Shutdown implements memberlist.Transport.
func (t *linkTransport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	t.stopOnce.Do(func() { close(t.stop) })
	t.wg.Wait()
	return err
}
