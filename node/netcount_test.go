package node

import (
	"context"
	"io"
	"net"
	"testing"
)

// TestNetBytes: what one side writes on a counted connection is its sent
// bytes and the other side's received bytes, on accepted and on dialed
// connections alike; an uncounted connection counts nothing.
func TestNetBytes(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var server, client netBytes
	ln := countListener(raw, &server)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var d net.Dialer
	dial := countDial(d.DialContext, &client)
	cc, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer sc.Close()

	exchange := func(from, to net.Conn, n int) {
		t.Helper()
		if _, err := from.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(to, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	exchange(cc, sc, 1000)
	exchange(sc, cc, 70000)
	exchange(cc, sc, 5)
	if got := client.sent.Load(); got != 1005 {
		t.Errorf("dialer sent %d bytes, want 1005", got)
	}
	if got := server.received.Load(); got != 1005 {
		t.Errorf("listener received %d bytes, want 1005", got)
	}
	if got := server.sent.Load(); got != 70000 {
		t.Errorf("listener sent %d bytes, want 70000", got)
	}
	if got := client.received.Load(); got != 70000 {
		t.Errorf("dialer received %d bytes, want 70000", got)
	}
	if ln.Addr().String() != raw.Addr().String() {
		t.Errorf("counted listener's address %s, want %s", ln.Addr(), raw.Addr())
	}
}
