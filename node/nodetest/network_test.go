package nodetest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/p2pglance/p2pglance/node/nodetest"
)

// listen binds a loopback port in id's view of w and registers it.
func listen(t *testing.T, w *nodetest.Network, id string) net.Listener {
	t.Helper()
	ln, err := w.Node(id).Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	w.Register(id, ln.Addr().String())
	return ln
}

// accept returns the next connection ln lets through.
func accept(ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// roundTripFunc counts the requests it is asked to send.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNetworkPartitionAndHeal: a partition refuses dials and requests
// across it and closes connections open across it; Heal restores both.
func TestNetworkPartitionAndHeal(t *testing.T) {
	ctx := context.Background()
	w := nodetest.NewNetwork()
	lnA := listen(t, w, "a")
	listen(t, w, "b")
	b := w.Node("b")

	accepted := accept(lnA)
	conn, err := b.DialContext(ctx, "tcp", lnA.Addr().String())
	if err != nil {
		t.Fatalf("dial before the partition: %v", err)
	}
	defer conn.Close()
	in := <-accepted
	if in == nil {
		t.Fatal("accept failed")
	}
	defer in.Close()

	sent := 0
	rt := b.PeerTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return nil, errors.New("not a real transport")
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://"+lnA.Addr().String()+"/x", nil)

	w.Partition([]string{"a"}) // b is in the rest
	if _, err := in.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection across the partition: read %v, want EOF", err)
	}
	if _, err := b.DialContext(ctx, "tcp", lnA.Addr().String()); !isDialError(err) {
		t.Errorf("dial across the partition: %v, want a dial error", err)
	}
	if _, err := rt.RoundTrip(req); !isDialError(err) || sent != 0 {
		t.Errorf("request across the partition: %v (%d sent), want a dial error and none sent", err, sent)
	}

	w.Heal()
	accepted = accept(lnA)
	conn2, err := b.DialContext(ctx, "tcp", lnA.Addr().String())
	if err != nil {
		t.Fatalf("dial after Heal: %v", err)
	}
	defer conn2.Close()
	if in := <-accepted; in == nil {
		t.Fatal("accept after Heal failed")
	} else {
		in.Close()
	}
	if _, err := rt.RoundTrip(req); isDialError(err) || sent != 1 {
		t.Errorf("request after Heal: %v (%d sent), want it sent", err, sent)
	}
}

// TestNetworkListenerDropsCutOffNodes: a connection from an address of a
// node cut off from the listener's is closed on accept; one from an
// address of no node (a test's client) is let through.
func TestNetworkListenerDropsCutOffNodes(t *testing.T) {
	w := nodetest.NewNetwork()
	lnA := listen(t, w, "a")
	w.Partition([]string{"a"})

	cut, err := net.Dial("tcp", lnA.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	w.Register("b", cut.LocalAddr().String()) // as if node b had opened it
	accepted := accept(lnA)
	if _, err := cut.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection from a cut-off node: read %v, want EOF", err)
	}
	client, err := net.Dial("tcp", lnA.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	in := <-accepted
	if in == nil {
		t.Fatal("accept failed")
	}
	defer in.Close()
	if in.RemoteAddr().String() != client.LocalAddr().String() {
		t.Errorf("accepted %s, want the client at %s", in.RemoteAddr(), client.LocalAddr())
	}
}
