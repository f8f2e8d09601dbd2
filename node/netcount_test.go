package node

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/p2pglance/p2pglance/peer"
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

// TestRouteBytes: every answer is counted under its path's route, with
// its body's bytes; a path of no route counts as "other"; the stop line's
// format reads back.
func TestRouteBytes(t *testing.T) {
	var b routeBytes
	h := countRoutes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write(make([]byte, n))
	}), &b)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, q := range []struct {
		path string
		n    int
	}{{peer.PathLog, 100}, {peer.PathLog, 50}, {peer.PathCheckpoints + "42", 7000}, {peer.PathChunks + "abc", 3}, {"/internal/v1/nope", 9}, {peer.PathLog + "x", 1}} {
		resp, err := srv.Client().Get(srv.URL + q.path + "?n=" + strconv.Itoa(q.n))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want := []RouteBytes{{"log", 2, 150}, {"checkpoint", 1, 7000}, {"chunk", 1, 3}, {"other", 2, 10}}
	got := b.snapshot()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counted %+v, want %+v", got, want)
	}
	back, err := ParseRouteBytes(FormatRouteBytes(got))
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("read back %+v (%v), want %+v", back, err, want)
	}
	if _, err := ParseRouteBytes("log:1"); err == nil {
		t.Error("a malformed route count parsed")
	}
}
