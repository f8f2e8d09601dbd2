package gossip

import (
	"bytes"
	"io"
	"log"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func newTestTransport(t *testing.T) *netTransport {
	t.Helper()
	nt, err := newNetTransport("127.0.0.1", 0, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nt.Shutdown() })
	return nt
}

func recvPacket(t *testing.T, nt *netTransport) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-nt.PacketCh():
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no packet received")
		return nil
	}
}

// TestNetTransportPackets checks that each packet is handed over in a
// buffer of its own, exactly its size, that later packets do not
// overwrite, with the sender's address.
func TestNetTransportPackets(t *testing.T) {
	a, b := newTestTransport(t), newTestTransport(t)
	ip, port, err := b.FinalAdvertiseAddr("", 0)
	if err != nil {
		t.Fatal(err)
	}
	to := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	first, second := []byte("first packet"), bytes.Repeat([]byte("x"), 1200)
	if _, err := a.WriteTo(first, to); err != nil {
		t.Fatal(err)
	}
	p1 := recvPacket(t, b)
	if _, err := a.WriteToAddress(second, memberlist.Address{Addr: to, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	p2 := recvPacket(t, b)
	if !bytes.Equal(p1.Buf, first) || cap(p1.Buf) != len(first) {
		t.Fatalf("first packet: %q (cap %d), want %q", p1.Buf, cap(p1.Buf), first)
	}
	if !bytes.Equal(p2.Buf, second) || cap(p2.Buf) != len(second) {
		t.Fatalf("second packet: %d bytes (cap %d), want %d", len(p2.Buf), cap(p2.Buf), len(second))
	}
	if got := p1.From.(*net.UDPAddr).Port; got != a.port() {
		t.Fatalf("packet from port %d, want %d", got, a.port())
	}
	if p1.Timestamp.IsZero() {
		t.Fatal("packet without a timestamp")
	}
}

// TestNetTransportStream checks that a dialled connection arrives on
// StreamCh and carries bytes both ways.
func TestNetTransportStream(t *testing.T) {
	a, b := newTestTransport(t), newTestTransport(t)
	ip, port, err := b.FinalAdvertiseAddr("", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.DialTimeout(net.JoinHostPort(ip.String(), strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var s net.Conn
	select {
	case s = <-b.StreamCh():
	case <-time.After(10 * time.Second):
		t.Fatal("no stream accepted")
	}
	defer s.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// TestNetTransportAdvertise checks FinalAdvertiseAddr: a given address
// wins; otherwise the bound one.
func TestNetTransportAdvertise(t *testing.T) {
	nt := newTestTransport(t)
	ip, port, err := nt.FinalAdvertiseAddr("10.1.2.3", 7946)
	if err != nil || ip.String() != "10.1.2.3" || port != 7946 || len(ip) != net.IPv4len {
		t.Fatalf("given address: %v %d %v", ip, port, err)
	}
	if _, _, err := nt.FinalAdvertiseAddr("not-an-ip", 1); err == nil {
		t.Fatal("an unparsable address was accepted")
	}
	ip, port, err = nt.FinalAdvertiseAddr("", 0)
	if err != nil || ip.String() != "127.0.0.1" || port != nt.port() {
		t.Fatalf("bound address: %v %d %v", ip, port, err)
	}
}
