package gossip

import (
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

// udpReadBuf is the largest UDP packet netTransport reads. memberlist
// sends packets of at most Config.UDPBufferSize (1400 bytes by default);
// this is the largest a UDP datagram can be.
const udpReadBuf = 65536

// udpRecvBuf is the socket receive buffer netTransport asks for (the
// kernel may grant less), as memberlist's NetTransport does.
const udpRecvBuf = 2 << 20

// netTransport is memberlist's NetTransport for one bind address (UDP
// packets, a TCP connection per stream), except that it reads every
// packet into one reused buffer and hands memberlist a copy of exactly
// the packet's size. memberlist's own allocates a fresh 64 KiB buffer
// for every packet it receives: a few packets a second on an idle node,
// which made them most of an idle node's garbage.
type netTransport struct {
	bindAddr string
	tcp      *net.TCPListener
	udp      *net.UDPConn
	logger   *log.Logger
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	shutdown atomic.Bool
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*netTransport)(nil)

// newNetTransport binds TCP and UDP on the same port of bindAddr (an IP
// address; port 0 picks a free port for both, which may fail if the UDP
// port is taken: the caller retries) and starts listening.
func newNetTransport(bindAddr string, port int, logger *log.Logger) (*netTransport, error) {
	ip := net.ParseIP(bindAddr)
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, fmt.Errorf("start TCP listener on %q port %d: %w", bindAddr, port, err)
	}
	port = tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		_ = tcp.Close()
		return nil, fmt.Errorf("start UDP listener on %q port %d: %w", bindAddr, port, err)
	}
	if err := setUDPRecvBuf(udp); err != nil {
		_ = tcp.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("resize UDP buffer: %w", err)
	}
	t := &netTransport{
		bindAddr: bindAddr,
		tcp:      tcp,
		udp:      udp,
		logger:   logger,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
	}
	t.wg.Add(2)
	go t.tcpListen()
	go t.udpListen()
	return t, nil
}

// setUDPRecvBuf asks for udpRecvBuf, halving until the kernel accepts.
func setUDPRecvBuf(c *net.UDPConn) error {
	var err error
	for size := udpRecvBuf; size > 0; size /= 2 {
		if err = c.SetReadBuffer(size); err == nil {
			return nil
		}
	}
	return err
}

// port is the bound port (TCP and UDP).
func (t *netTransport) port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr implements memberlist.Transport as NetTransport
// does: the given address, else a private address of this host when
// bound to 0.0.0.0, else the bound address.
func (t *netTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, 0, fmt.Errorf("parse advertise address %q", ip)
		}
		if ip4 := addr.To4(); ip4 != nil {
			addr = ip4
		}
		return addr, port, nil
	}
	if t.bindAddr == "0.0.0.0" {
		priv, err := sockaddr.GetPrivateIP()
		if err != nil {
			return nil, 0, fmt.Errorf("get interface addresses: %w", err)
		}
		if priv == "" {
			return nil, 0, errors.New("no private IP address found, and explicit IP not provided")
		}
		addr := net.ParseIP(priv)
		if addr == nil {
			return nil, 0, fmt.Errorf("parse advertise address %q", priv)
		}
		return addr, t.port(), nil
	}
	return t.tcp.Addr().(*net.TCPAddr).IP, t.port(), nil
}

// WriteTo implements memberlist.Transport.
func (t *netTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *netTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	addr, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, addr)
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (t *netTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport.
func (t *netTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *netTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", a.Addr)
}

// StreamCh implements memberlist.Transport.
func (t *netTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport: it closes both sockets and
// waits for the listeners to return.
func (t *netTransport) Shutdown() error {
	t.shutdown.Store(true)
	_ = t.tcp.Close()
	_ = t.udp.Close()
	t.wg.Wait()
	return nil
}

// tcpListen hands accepted connections to memberlist until Shutdown,
// backing off after accept errors as NetTransport does.
func (t *netTransport) tcpListen() {
	defer t.wg.Done()
	const baseDelay, maxDelay = 5 * time.Millisecond, time.Second
	var delay time.Duration
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			delay = min(max(2*delay, baseDelay), maxDelay)
			t.logger.Printf("[ERR] memberlist: Error accepting TCP connection: %v", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		t.streamCh <- conn
	}
}

// udpListen hands each received packet to memberlist, copied out of the
// one read buffer (memberlist keeps packets beyond the call).
func (t *netTransport) udpListen() {
	defer t.wg.Done()
	buf := make([]byte, udpReadBuf)
	for {
		n, addr, err := t.udp.ReadFrom(buf)
		ts := time.Now()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			t.logger.Printf("[ERR] memberlist: Error reading UDP packet: %v", err)
			continue
		}
		if n < 1 {
			t.logger.Printf("[ERR] memberlist: UDP packet too short (%d bytes) %s", n, memberlist.LogAddress(addr))
			continue
		}
		pkt := make([]byte, n)
		copy(pkt, buf)
		t.packetCh <- &memberlist.Packet{Buf: pkt, From: addr, Timestamp: ts}
	}
}
