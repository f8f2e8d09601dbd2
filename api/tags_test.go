package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
)

// memBackend is a one-replica Backend for handler tests: images in a map,
// revisions checked as the FSM checks them. Data calls are not supported.
type memBackend struct {
	mu     sync.Mutex
	rev    uint64
	images map[string]*catalog.Image
	// conflicts makes the next n UpdateImage calls fail with ErrConflict.
	conflicts int
}

func (b *memBackend) Image(_ context.Context, id string) (*catalog.Image, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	img, ok := b.images[id]
	if !ok {
		return nil, catalog.ErrNotFound
	}
	return img, nil
}

func (b *memBackend) ListImages(context.Context, catalog.ListQuery) ([]*catalog.Image, error) {
	return nil, nil
}

func (b *memBackend) Sync(context.Context) error { return nil }

// AppliedIndex is the revision of the last write: every write is applied
// at once.
func (b *memBackend) AppliedIndex() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rev
}

// WaitApplied never waits: every revision issued is applied.
func (b *memBackend) WaitApplied(context.Context, uint64) error { return nil }

func (b *memBackend) CreateImage(_ context.Context, img *catalog.Image) (*catalog.Image, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rev++
	img.Revision = b.rev
	b.images[img.ID] = img
	return img, nil
}

func (b *memBackend) UpdateImage(_ context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.images[img.ID]
	if !ok {
		return nil, catalog.ErrNotFound
	}
	if b.conflicts > 0 || cur.Revision != expect {
		b.conflicts--
		return nil, catalog.ErrConflict
	}
	b.rev++
	img.Revision = b.rev
	b.images[img.ID] = img
	return img, nil
}

func (b *memBackend) DeleteImage(_ context.Context, id string, _ uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.images, id)
	return nil
}

func (b *memBackend) Upload(context.Context, *catalog.Image, io.Reader, int64) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) OpenImage(context.Context, *catalog.Image, int64, int64) (io.ReadCloser, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) PullImage(_ context.Context, img *catalog.Image) (*catalog.Image, error) {
	return img, nil
}

func (b *memBackend) Cluster(context.Context, bool) (*ClusterInfo, error) { return &ClusterInfo{}, nil }

const testImageID = "11111111-2222-3333-4444-555555555555"

func newMemServer(t *testing.T, status string, tags ...string) (*Server, *memBackend) {
	t.Helper()
	b := &memBackend{images: map[string]*catalog.Image{}}
	_, _ = b.CreateImage(context.Background(), &catalog.Image{ID: testImageID, Status: status, Visibility: catalog.VisibilityShared, Tags: tags})
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func memDo(t *testing.T, s *Server, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
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

func TestImageTags(t *testing.T) {
	s, b := newMemServer(t, catalog.StatusActive, "a")
	tagURL := "/v2/images/" + testImageID + "/tags/"
	steps := []struct {
		method, tag, body string
		want              int
		tags              []string
	}{
		{"PUT", "b", "", http.StatusNoContent, []string{"a", "b"}},
		{"PUT", "b", "", http.StatusNoContent, []string{"a", "b"}}, // idempotent
		{"DELETE", "a", "", http.StatusNoContent, []string{"b"}},
		{"DELETE", "a", "", http.StatusNotFound, []string{"b"}},
		{"PUT", "c", "x", http.StatusBadRequest, []string{"b"}},
		{"PUT", strings.Repeat("x", 256), "", http.StatusBadRequest, []string{"b"}},
		{"POST", "c", "", http.StatusMethodNotAllowed, []string{"b"}},
	}
	for _, st := range steps {
		rec := memDo(t, s, st.method, tagURL+st.tag, st.body)
		if rec.Code != st.want {
			t.Fatalf("%s tag %.10q: %d %s, want %d", st.method, st.tag, rec.Code, rec.Body, st.want)
		}
		img, _ := b.Image(context.Background(), testImageID)
		if !slices.Equal(img.Tags, st.tags) {
			t.Fatalf("%s tag %.10q: tags %v, want %v", st.method, st.tag, img.Tags, st.tags)
		}
	}
	if rec := memDo(t, s, "PUT", "/v2/images/00000000-0000-0000-0000-000000000000/tags/x", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("tag on unknown image: %d, want 404", rec.Code)
	}
	// Another project may not tag an image it does not own.
	owner := "p1"
	img, _ := b.Image(context.Background(), testImageID)
	img.Owner = &owner
	if rec := memDo(t, s, "PUT", tagURL+"z", "", "X-Project-Id", "p2"); rec.Code != http.StatusNotFound {
		t.Fatalf("tag by another project: %d, want 404", rec.Code)
	}
	// A lost race is retried on fresh state.
	b.conflicts = 2
	if rec := memDo(t, s, "PUT", tagURL+"d", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("tag after conflicts: %d %s", rec.Code, rec.Body)
	}
}

func TestImageActions(t *testing.T) {
	s, b := newMemServer(t, catalog.StatusActive)
	base := "/v2/images/" + testImageID + "/actions/"
	steps := []struct {
		action string
		want   int
		status string
	}{
		{"deactivate", http.StatusNoContent, catalog.StatusDeactivated},
		{"deactivate", http.StatusNoContent, catalog.StatusDeactivated},
		{"reactivate", http.StatusNoContent, catalog.StatusActive},
		{"reactivate", http.StatusNoContent, catalog.StatusActive},
	}
	for _, st := range steps {
		if rec := memDo(t, s, "POST", base+st.action, ""); rec.Code != st.want {
			t.Fatalf("%s: %d %s, want %d", st.action, rec.Code, rec.Body, st.want)
		}
		if img, _ := b.Image(context.Background(), testImageID); img.Status != st.status {
			t.Fatalf("%s: status %s, want %s", st.action, img.Status, st.status)
		}
	}
	if rec := memDo(t, s, "GET", base+"deactivate", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET deactivate: %d, want 405", rec.Code)
	}
	q, _ := newMemServer(t, catalog.StatusQueued)
	for _, a := range []string{"deactivate", "reactivate"} {
		if rec := memDo(t, q, "POST", base+a, ""); rec.Code != http.StatusForbidden {
			t.Fatalf("%s of a queued image: %d, want 403", a, rec.Code)
		}
	}
}

func (b *memBackend) Member(_ context.Context, imageID, memberID string) (*catalog.Member, error) {
	return nil, catalog.ErrNotFound
}

func (b *memBackend) Members(context.Context, string) ([]*catalog.Member, error) { return nil, nil }

func (b *memBackend) Memberships(context.Context, string) (map[string]*catalog.Member, error) {
	return nil, nil
}

func (b *memBackend) PutMember(context.Context, *catalog.Member, bool, uint64) (*catalog.Member, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) DeleteMember(context.Context, string, string) error {
	return catalog.ErrUnavailable
}

func (b *memBackend) Doc(context.Context, string, string) (*catalog.Doc, error) {
	return nil, catalog.ErrNotFound
}

func (b *memBackend) Docs(context.Context, string) ([]*catalog.Doc, error) { return nil, nil }

func (b *memBackend) PutDoc(context.Context, *catalog.Doc, bool, uint64) (*catalog.Doc, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) DeleteDoc(context.Context, string, string) error { return catalog.ErrUnavailable }

func (b *memBackend) StageImage(context.Context, *catalog.Image, io.Reader, int64) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) StartImport(context.Context, *catalog.ImportJob) error {
	return catalog.ErrUnavailable
}

func (b *memBackend) ImportMethods() []string {
	return []string{catalog.MethodGlanceDirect, catalog.MethodWebDownload, catalog.MethodCopyImage}
}

func (b *memBackend) Stores(context.Context) ([]catalog.Store, error) {
	return []catalog.Store{{ID: catalog.DefaultStore, Default: true}}, nil
}

func (b *memBackend) Usage(context.Context, string) (*catalog.Usage, error) {
	return &catalog.Usage{}, nil
}

func (b *memBackend) Quotas() catalog.Usage { return catalog.Usage{} }

func (b *memBackend) UploadToStore(context.Context, *catalog.Image, io.Reader, int64, string) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

func (b *memBackend) StartLocationImport(context.Context, *catalog.LocationJob) error {
	return catalog.ErrUnavailable
}

func (b *memBackend) LocationSettings() LocationSettings { return LocationSettings{} }
