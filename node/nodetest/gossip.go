package nodetest

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// gossipTransport is memberlist's network transport with cuttable links:
// packets to or from a node cut off from n are dropped (as a network
// would), streams to it cannot be opened and streams from it are closed
// on arrival.
type gossipTransport struct {
	memberlist.NodeAwareTransport
	n        *nodeNet
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*gossipTransport)(nil)

// newGossipTransport wraps the transport gossip bound and starts
// filtering what it receives.
func newGossipTransport(bound memberlist.NodeAwareTransport, n *nodeNet) *gossipTransport {
	t := &gossipTransport{
		NodeAwareTransport: bound,
		n:                  n,
		packets:            make(chan *memberlist.Packet),
		streams:            make(chan net.Conn),
		stop:               make(chan struct{}),
	}
	t.wg.Add(2)
	go t.filterPackets()
	go t.filterStreams()
	return t
}

func (t *gossipTransport) allowed(addr string) bool { return t.n.w.allowed(t.n.id, addr) }

func (t *gossipTransport) filterPackets() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.PacketCh()
	for {
		select {
		case <-t.stop:
			return
		case p := <-in:
			if !t.allowed(p.From.String()) {
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

func (t *gossipTransport) filterStreams() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-t.stop:
			return
		case c := <-in:
			if !t.allowed(c.RemoteAddr().String()) {
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
func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// StreamCh implements memberlist.Transport.
func (t *gossipTransport) StreamCh() <-chan net.Conn { return t.streams }

// WriteTo implements memberlist.Transport.
func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport; a packet to a
// cut-off node is lost without an error, as on a real network.
func (t *gossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if !t.allowed(a.Addr) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

// DialTimeout implements memberlist.Transport.
func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if !t.allowed(a.Addr) {
		return nil, fmt.Errorf("dial %s: link is cut", a.Addr)
	}
	conn, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return t.n.w.track(t.n.id, conn, a.Addr), nil
}

// Shutdown implements memberlist.Transport.
func (t *gossipTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	t.stopOnce.Do(func() { close(t.stop) })
	t.wg.Wait()
	return err
}
