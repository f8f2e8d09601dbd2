package metadefs

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm/fsmtest"
)

// docStore is a Store with documents kept in a map and the FSM's create
// / replace preconditions.
type docStore struct {
	mu        sync.Mutex
	docs      map[[2]string]*catalog.Doc
	conflicts int // the next n replacing PutDoc calls fail with ErrConflict
	puts      int
	rev       uint64
}

var _ Store = (*docStore)(nil)

func newDocStore() *docStore {
	return &docStore{docs: map[[2]string]*catalog.Doc{}}
}

func (b *docStore) Sync(context.Context) error { return nil }

func (b *docStore) Doc(_ context.Context, kind, id string) (*catalog.Doc, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.docs[[2]string{kind, id}]; ok {
		return d, nil
	}
	return nil, catalog.ErrNotFound
}

func (b *docStore) Docs(_ context.Context, kind string) ([]*catalog.Doc, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*catalog.Doc
	for k, d := range b.docs {
		if k[0] == kind {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *catalog.Doc) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (b *docStore) PutDoc(_ context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.puts++
	k := [2]string{d.Kind, d.ID}
	cur, ok := b.docs[k]
	switch {
	case create && ok:
		return nil, catalog.ErrExists
	case !create && !ok:
		return nil, catalog.ErrNotFound
	case !create && b.conflicts > 0:
		b.conflicts--
		return nil, catalog.ErrConflict
	case !create && expect != 0 && cur.Revision != expect:
		return nil, catalog.ErrConflict
	}
	cp := *d
	b.rev++
	cp.Revision = b.rev
	b.docs[k] = &cp
	return &cp, nil
}

func (b *docStore) DeleteDoc(_ context.Context, kind, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{kind, id}
	if _, ok := b.docs[k]; !ok {
		return catalog.ErrNotFound
	}
	delete(b.docs, k)
	return nil
}

// A Store over the real catalog state machine, without Raft: package
// raftfsm/fsmtest.
var _ Store = (*fsmtest.Catalog)(nil)

func newFSMStore(tb testing.TB) *fsmtest.Catalog { return fsmtest.New(tb, "metadefs") }

// apiBackend is the api.Backend of a test Server: its documents are
// those of a Store. The metadefs routes use nothing else, so every other
// Backend method is the nil embedded interface's, and a call to one
// panics.
type apiBackend struct {
	api.Backend
	st Store
}

func (b apiBackend) Sync(ctx context.Context) error { return b.st.Sync(ctx) }

// AppliedIndex is 0: the test store has no log, so answers carry no
// revision.
func (b apiBackend) AppliedIndex() uint64 { return 0 }

// WaitApplied does not wait: every write of the test store is applied.
func (b apiBackend) WaitApplied(context.Context, uint64) error { return nil }

func (b apiBackend) Doc(ctx context.Context, kind, id string) (*catalog.Doc, error) {
	return b.st.Doc(ctx, kind, id)
}

func (b apiBackend) Docs(ctx context.Context, kind string) ([]*catalog.Doc, error) {
	return b.st.Docs(ctx, kind)
}

func (b apiBackend) PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	return b.st.PutDoc(ctx, d, create, expect)
}

func (b apiBackend) DeleteDoc(ctx context.Context, kind, id string) error {
	return b.st.DeleteDoc(ctx, kind, id)
}

// newServer returns an API server that serves the metadefs over st, as
// the node wires it.
func newServer(tb testing.TB, st Store) *api.Server {
	tb.Helper()
	s, err := api.New(api.Config{Backend: apiBackend{st: st}, Extensions: []api.Extension{New(st, nil)}})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// serve sends one request; hdr are header name, value pairs.
func serve(tb testing.TB, s *api.Server, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}
