package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/p2pglance/p2pglance/peer"
)

// fakeServer is a peer.Server whose answers are set by the test and
// which records what it was asked.
type fakeServer struct {
	mu    sync.Mutex
	calls []string // "Method arg"

	err      error  // returned by every call that can fail
	chunk    []byte // served by GetChunk
	stored   []byte // the last PutChunk's data
	lastGet  peer.ChunkRequest
	lastPut  peer.ChunkPut
	missing  []string
	applied  []byte
	catchUp  *peer.CatchUp
	joined   peer.JoinRequest
	progress peer.Progress
	usage    peer.Usage
	holdings peer.Holdings
	query    peer.HoldersQuery
	answer   peer.HoldersAnswer
}

var _ peer.Server = (*fakeServer)(nil)

func (f *fakeServer) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fakeServer) Apply(_ context.Context, cmd []byte, cu *peer.CatchUp) (peer.ApplyResponse, error) {
	f.record("Apply")
	f.applied, f.catchUp = cmd, cu
	out := peer.ApplyResponse{Index: 7, Code: "conflict", Msg: "revision moved"}
	if cu != nil {
		for i := cu.After + 1; i <= out.Index; i++ {
			out.Entries = append(out.Entries, peer.LogEntry{Index: i, Data: []byte{byte(i)}})
		}
	}
	return out, f.err
}

func (f *fakeServer) Join(_ context.Context, req peer.JoinRequest) (peer.JoinResponse, error) {
	f.record("Join " + req.ID)
	f.joined = req
	return peer.JoinResponse{GossipAddrs: []string{"10.0.0.1:7946"}, Suffrage: "Voter"}, f.err
}

func (f *fakeServer) GetChunk(_ context.Context, req peer.ChunkRequest, body peer.ChunkBody) error {
	f.record("GetChunk " + req.Digest)
	f.lastGet = req
	if f.err != nil {
		return f.err
	}
	_, err := body(len(f.chunk)).Write(f.chunk)
	return err
}

func (f *fakeServer) PutChunk(_ context.Context, req peer.ChunkPut, size int64, data io.Reader) error {
	f.record("PutChunk " + req.Digest)
	f.lastPut = req
	b, err := io.ReadAll(data)
	if err != nil || int64(len(b)) != size {
		return errors.New("body does not match its length")
	}
	f.stored = b
	return f.err
}

func (f *fakeServer) Missing(_ context.Context, req peer.MissingRequest) ([]string, error) {
	f.record("Missing " + req.Image)
	return f.missing, f.err
}

func (f *fakeServer) PrefetchProgress(_ context.Context, id string) peer.Progress {
	f.record("PrefetchProgress " + id)
	return f.progress
}

func (f *fakeServer) Replicate(_ context.Context, imageID string) error {
	f.record("Replicate " + imageID)
	return f.err
}

func (f *fakeServer) Stats(context.Context) (peer.Usage, error) {
	f.record("Stats")
	return f.usage, f.err
}

func (f *fakeServer) Holdings(_ context.Context, h peer.Holdings) error {
	f.record("Holdings " + h.Holder)
	f.holdings = h
	return f.err
}

func (f *fakeServer) Holders(_ context.Context, q peer.HoldersQuery) (peer.HoldersAnswer, error) {
	f.record("Holders " + q.Image)
	f.query = q
	return f.answer, f.err
}

// serve runs s's routes on a loopback server and returns a Client of it
// and its address.
func serve(t *testing.T, s peer.Server) (*peer.Client, string) {
	t.Helper()
	srv := httptest.NewServer(peer.Handler(s))
	t.Cleanup(srv.Close)
	return peer.NewClient(srv.Client(), "http"), strings.TrimPrefix(srv.URL, "http://")
}

// TestClientServer: every call of the Client reaches its Server method
// with the request's fields and brings the answer back.
func TestClientServer(t *testing.T) {
	f := &fakeServer{
		chunk:    []byte("chunk bytes"),
		missing:  []string{"bb"},
		progress: peer.Progress{ID: "n2", State: "running", ChunksDone: 3, ChunksTotal: 9},
		usage:    peer.Usage{Chunks: 4, Bytes: 400, PinnedBytes: 100, CacheBytes: 300},
		answer: peer.HoldersAnswer{Partial: true, Holders: []peer.Holder{
			{Node: "n2", Epoch: 5, Version: 9, Total: 3, All: true},
			{Node: "n3", Epoch: 6, Version: 2, Total: 10, Bits: []byte{0x81, 0x02}},
		}},
	}
	c, addr := serve(t, f)
	ctx := context.Background()

	if out, err := c.Apply(ctx, addr, []byte{1, '{', '}'}, nil); err != nil || !reflect.DeepEqual(out, peer.ApplyResponse{Index: 7, Code: "conflict", Msg: "revision moved"}) || !bytes.Equal(f.applied, []byte{1, '{', '}'}) || f.catchUp != nil {
		t.Fatalf("apply: %+v %v (server got %q, catch-up %+v)", out, err, f.applied, f.catchUp)
	}
	// A replica's forwarded write asks to catch up from its applied index.
	out, err := c.Apply(ctx, addr, []byte{1, '{', '}'}, &peer.CatchUp{After: 5})
	if err != nil || f.catchUp == nil || f.catchUp.After != 5 || len(out.Entries) != 2 || out.Entries[0].Index != 6 || !bytes.Equal(out.Entries[1].Data, []byte{7}) {
		t.Fatalf("apply with catch-up: %+v %v (server got catch-up %+v)", out, err, f.catchUp)
	}
	join := peer.JoinRequest{ID: "n9", RaftAddr: "127.0.0.1:7000", GossipAddr: "127.0.0.1:7001"}
	if out, err := c.Join(ctx, addr, join); err != nil || out.Suffrage != "Voter" || len(out.GossipAddrs) != 1 || f.joined != join {
		t.Fatalf("join: %+v %v (server got %+v)", out, err, f.joined)
	}
	if out, err := c.Missing(ctx, addr, peer.MissingRequest{Image: "img", Digests: []string{"aa", "bb"}}); err != nil || !slices.Equal(out, []string{"bb"}) {
		t.Fatalf("missing: %v %v", out, err)
	}
	f.missing = nil
	if out, err := c.Missing(ctx, addr, peer.MissingRequest{Image: "img", Digests: []string{"aa"}}); err != nil || out == nil || len(out) != 0 {
		t.Fatalf("nothing missing: %#v %v (want an empty list)", out, err)
	}
	if err := c.Replicate(ctx, addr, "img"); err != nil {
		t.Fatalf("replicate: %v", err)
	}
	if u, err := c.Stats(ctx, addr); err != nil || u != f.usage {
		t.Fatalf("stats: %+v %v", u, err)
	}
	if p, err := c.PrefetchProgress(ctx, addr, "job-1"); err != nil || p != f.progress {
		t.Fatalf("progress: %+v %v", p, err)
	}
	body, err := c.GetChunk(ctx, addr, peer.ChunkRequest{Digest: "aa", Image: "img", Idx: 3, From: "n1", LastResort: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if want := (peer.ChunkRequest{Digest: "aa", Image: "img", Idx: 3, From: "n1", LastResort: true}); !bytes.Equal(got, f.chunk) || f.lastGet != want {
		t.Fatalf("get chunk: %q, server got %+v", got, f.lastGet)
	}
	if _, err := c.GetChunk(ctx, addr, peer.ChunkRequest{Digest: "aa"}); err != nil || f.lastGet.Located() {
		t.Fatalf("get chunk without image: %v, server got %+v", err, f.lastGet)
	}
	put := peer.ChunkPut{Digest: "cc", Image: "img", Idx: 2, Total: 5}
	if err := c.PutChunk(ctx, addr, put, []byte("pushed")); err != nil || f.lastPut != put || string(f.stored) != "pushed" {
		t.Fatalf("put chunk: %v, server got %+v %q", err, f.lastPut, f.stored)
	}
	hold := peer.Holdings{Holder: "n1", Epoch: 42, Images: []peer.ImageHoldings{
		{Image: "a", Version: 3, Total: 2, All: true},
		{Image: "b", Version: 4, Total: 9, Bits: []byte{0x01, 0x01}},
		{Image: "c", Version: 5, Gone: true},
	}}
	if err := c.Holdings(ctx, addr, hold); err != nil || !reflect.DeepEqual(f.holdings, hold) {
		t.Fatalf("holdings: %v, server got %+v", err, f.holdings)
	}
	q := peer.HoldersQuery{Image: "img", Zone: "z1", Rack: "r1", Limit: 5, Full: true}
	if out, err := c.Holders(ctx, addr, q); err != nil || !reflect.DeepEqual(out, f.answer) || f.query != q {
		t.Fatalf("holders: %+v %v, server got %+v", out, err, f.query)
	}
	f.answer = peer.HoldersAnswer{}
	if out, err := c.Holders(ctx, addr, peer.HoldersQuery{Image: "img"}); err != nil || out.Holders == nil || len(out.Holders) != 0 || f.query.Limit != peer.MaxHolders {
		t.Fatalf("no holders: %#v %v (server got limit %d, want %d)", out, err, f.query.Limit, peer.MaxHolders)
	}
	want := []string{"Apply", "Apply", "Join n9", "Missing img", "Missing img", "Replicate img", "Stats", "PrefetchProgress job-1", "GetChunk aa", "GetChunk aa", "PutChunk cc", "Holdings n1", "Holders img", "Holders img"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
}

// TestRefusals: a Server's errors reach the Client as the protocol's
// errors, through the statuses and headers of the wire.
func TestRefusals(t *testing.T) {
	f := &fakeServer{}
	c, addr := serve(t, f)
	ctx := context.Background()
	get := func() error {
		_, err := c.GetChunk(ctx, addr, peer.ChunkRequest{Digest: "aa", Image: "img", Idx: 0})
		return err
	}
	var busy *peer.BusyError

	f.err = &peer.BusyError{Origin: true, Try: []string{"n2", "n3"}}
	if err := get(); !errors.As(err, &busy) || !busy.Origin || !slices.Equal(busy.Try, []string{"n2", "n3"}) || !errors.Is(err, peer.ErrBusy) {
		t.Fatalf("origin refusal: %v", err)
	}
	f.err = &peer.BusyError{Try: []string{"n4"}}
	if err := get(); !errors.As(err, &busy) || busy.Origin || !slices.Equal(busy.Try, []string{"n4"}) {
		t.Fatalf("busy with a hint: %v", err)
	}
	f.err = &peer.BusyError{}
	if err := get(); !errors.As(err, &busy) || busy.Origin || len(busy.Try) != 0 || err.Error() != peer.ErrBusy.Error() {
		t.Fatalf("busy: %v", err)
	}
	f.err = &peer.BusyError{Try: []string{"a", "b", "c", "d", "e", "f"}}
	if err := get(); !errors.As(err, &busy) || len(busy.Try) != peer.MaxTry {
		t.Fatalf("busy naming 6 nodes: %v, want at most %d", err, peer.MaxTry)
	}
	f.err = peer.ErrNotFound
	if err := get(); !errors.Is(err, peer.ErrNotFound) || errors.Is(err, peer.ErrBusy) {
		t.Fatalf("not held: %v", err)
	}
	f.err = errors.New("disk on fire")
	var se *peer.StatusError
	if err := get(); !errors.As(err, &se) || se.Code != http.StatusInternalServerError || !strings.Contains(se.Msg, "disk on fire") {
		t.Fatalf("failure: %v", err)
	}

	put := func() error { return c.PutChunk(ctx, addr, peer.ChunkPut{Digest: "cc", Image: "img"}, []byte("x")) }
	f.err = errors.Join(errors.New("put chunk cc"), peer.ErrMismatch)
	if err := put(); !errors.Is(err, peer.ErrMismatch) || !errors.Is(err, peer.ErrBadRequest) {
		t.Fatalf("mismatch: %v", err)
	}
	f.err = errors.Join(errors.New("chunk too long"), peer.ErrBadRequest)
	if err := put(); errors.Is(err, peer.ErrMismatch) || !errors.Is(err, peer.ErrBadRequest) {
		t.Fatalf("bad push: %v", err)
	}
	f.err = errors.Join(errors.New("put chunk cc"), peer.ErrNoSpace)
	if err := put(); !errors.As(err, &se) || se.Code != http.StatusInsufficientStorage || !errors.Is(err, peer.ErrNoSpace) || errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("disk full: %v", err)
	}

	// Where the sender should try again later or elsewhere, a failure is
	// 503; elsewhere 500.
	f.err = errors.New("no leader")
	if _, err := c.Join(ctx, addr, peer.JoinRequest{ID: "n9", RaftAddr: "127.0.0.1:7000"}); !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("join failure: %v", err)
	}
	if err := c.Replicate(ctx, addr, "img"); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("replicate failure: %v", err)
	}
	if _, err := c.Apply(ctx, addr, []byte{1}, nil); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("apply failure: %v", err)
	}
	if _, err := c.Stats(ctx, addr); !errors.As(err, &se) || se.Code != http.StatusInternalServerError {
		t.Fatalf("stats failure: %v", err)
	}
	if _, err := c.Missing(ctx, addr, peer.MissingRequest{}); !errors.As(err, &se) || se.Code != http.StatusInternalServerError {
		t.Fatalf("missing failure: %v", err)
	}
	if err := c.Holdings(ctx, addr, peer.Holdings{Holder: "n1", Epoch: 1}); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("holdings failure: %v", err)
	}
	if _, err := c.Holders(ctx, addr, peer.HoldersQuery{Image: "img"}); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("holders failure: %v", err)
	}
	// A batch the protocol refuses never reaches the Server.
	f.err, f.calls = nil, nil
	if err := c.Holdings(ctx, addr, peer.Holdings{Holder: "n1", Epoch: 1, Images: []peer.ImageHoldings{{Image: "a", Version: 1, Total: 9, Bits: []byte{1}}}}); !errors.Is(err, peer.ErrBadRequest) || len(f.calls) != 0 {
		t.Fatalf("a bitmap too short for its chunk count: %v (calls %v)", err, f.calls)
	}
}

// TestWire pins the wire format other versions of the node speak: the
// paths, the query of a chunk GET, and the headers of a refusal.
func TestWire(t *testing.T) {
	f := &fakeServer{err: &peer.BusyError{Origin: true, Try: []string{"n2", "n3"}}}
	srv := httptest.NewServer(peer.Handler(f))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/internal/v1/chunks/aa?image=img&idx=4&from=n1", nil)
	req.Header.Set("X-P2pglance-Last-Resort", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusServiceUnavailable || h.Get("X-P2pglance-Busy") != "1" || h.Get("X-P2pglance-Origin") != "1" || h.Get("X-P2pglance-Try") != "n2,n3" {
		t.Fatalf("origin refusal: %d %v", resp.StatusCode, h)
	}
	if want := (peer.ChunkRequest{Digest: "aa", Image: "img", Idx: 4, From: "n1", LastResort: true}); f.lastGet != want {
		t.Fatalf("server got %+v, want %+v", f.lastGet, want)
	}
	f.err = nil
	resp, err = http.Post(srv.URL+"/internal/v1/missing", "application/json", strings.NewReader(`{"image": "i", "digests": ["aa"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `{"missing":[]}` {
		t.Fatalf("missing: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Post(srv.URL+"/internal/v1/holders", "application/json", strings.NewReader(`{"image": "i", "rack": "r1", "limit": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `{"holders":[]}` || f.query != (peer.HoldersQuery{Image: "i", Rack: "r1", Limit: 2}) {
		t.Fatalf("holders: %d %s, server got %+v", resp.StatusCode, b, f.query)
	}
	resp, err = http.Post(srv.URL+"/internal/v1/holdings", "application/json", strings.NewReader(`{"holder": "n1", "epoch": 9, "images": [{"image": "i", "version": 1, "total": 3, "bits": "BQ=="}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := (peer.ImageHoldings{Image: "i", Version: 1, Total: 3, Bits: []byte{5}}); resp.StatusCode != http.StatusNoContent || len(f.holdings.Images) != 1 || !reflect.DeepEqual(f.holdings.Images[0], want) {
		t.Fatalf("holdings: %d, server got %+v", resp.StatusCode, f.holdings)
	}
	// A forwarded write's catch-up index must be a number: anything else
	// is refused before the write reaches the Server.
	f.calls = nil
	for _, q := range []string{"-1", "x", "18446744073709551616", "1.5"} {
		resp, err := http.Post(srv.URL+"/internal/v1/apply?catch_up_after="+q, "application/octet-stream", strings.NewReader("\x01{}"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "catch_up_after") || len(f.calls) != 0 {
			t.Fatalf("apply with catch_up_after=%s: %d %s, server calls %v", q, resp.StatusCode, b, f.calls)
		}
	}
	for _, path := range []string{"/internal/v1/chunks/aa/bb", "/internal/v1/nothing"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestAnswerCaps: the Client decodes at most a capped answer, whether or
// not it is signed: an endless answer from a peer is an error, not a
// read without end; trailing data after the value is refused too.
func TestAnswerCaps(t *testing.T) {
	var mode atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch mode.Load() {
		case "endless":
			// A JSON string that never ends: the handler stops when the
			// client hangs up.
			if _, err := io.WriteString(w, `{"chunks": 1, "gossip_addrs": ["`); err != nil {
				return
			}
			pad := bytes.Repeat([]byte("a"), 64<<10)
			for {
				if _, err := w.Write(pad); err != nil {
					return
				}
			}
		case "under the cap":
			_, _ = io.WriteString(w, `{"chunks": 1, "gossip_addrs": ["`+strings.Repeat("a", peer.MaxAnswerBody-100)+`"], "missing": ["aa"]}`)
		case "trailing":
			_, _ = io.WriteString(w, `{"chunks": 1} {"chunks": 2}`)
		}
	}))
	defer srv.Close()
	c := peer.NewClient(srv.Client(), "http")
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	calls := map[string]func() error{
		"apply": func() error { _, err := c.Apply(ctx, addr, []byte{1}, nil); return err },
		"join": func() error {
			_, err := c.Join(ctx, addr, peer.JoinRequest{ID: "n9", RaftAddr: "127.0.0.1:7000"})
			return err
		},
		"stats":    func() error { _, err := c.Stats(ctx, addr); return err },
		"progress": func() error { _, err := c.PrefetchProgress(ctx, addr, "job"); return err },
		"missing":  func() error { _, err := c.Missing(ctx, addr, peer.MissingRequest{Image: "i"}); return err },
	}
	overCap := map[string]func() error{
		"holders": func() error { _, err := c.Holders(ctx, addr, peer.HoldersQuery{Image: "i"}); return err },
	}
	mode.Store("endless")
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "answer over") {
			t.Errorf("%s, endless answer: %v", name, err)
		}
	}
	for name, call := range overCap {
		if err := call(); err == nil || !strings.Contains(err.Error(), "answer over") {
			t.Errorf("%s, endless answer: %v", name, err)
		}
	}
	mode.Store("under the cap")
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s, answer under the cap: %v", name, err)
		}
	}
	mode.Store("trailing")
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s, trailing data accepted", name)
		}
	}
}
