package api

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/raftfsm"
	"github.com/p2pglance/p2pglance/raftfsm/fsmtest"
)

// fsmBackend is a Backend over the real catalog state machine, without
// Raft: every write is encoded as the node encodes it, checked with
// raftfsm.Validate (as a leader checks forwarded commands) and applied at
// the next log index. Reads come from the FSM's state, as a node's do.
// Data transfers are not supported (503).
type fsmBackend struct {
	*fsmtest.Catalog
	mu sync.Mutex
	// jobs are the imports started (the task recorded, nothing run).
	jobs int
}

var _ Backend = (*fsmBackend)(nil)

func newFSMBackend(tb testing.TB) *fsmBackend {
	return &fsmBackend{Catalog: fsmtest.New(tb, "the API")}
}

// reset starts over from an empty catalog and no jobs.
func (b *fsmBackend) reset() {
	b.Catalog.Reset()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jobs = 0
}

// index counts the writes that changed the catalog: it moves on every
// accepted command, not on one the FSM refused.
func (b *fsmBackend) index() uint64 { return b.Changes() }

func (b *fsmBackend) state() *raftfsm.State { return b.State() }

func (b *fsmBackend) Image(_ context.Context, id string) (*catalog.Image, error) {
	return b.state().Image(id)
}

func (b *fsmBackend) ListImages(_ context.Context, q catalog.ListQuery) ([]*catalog.Image, error) {
	return b.state().List(q)
}

func (b *fsmBackend) AppliedIndex() uint64 { return b.FSM().AppliedIndex() }

func (b *fsmBackend) WaitApplied(ctx context.Context, idx uint64) error {
	return b.FSM().WaitApplied(ctx, idx)
}

func (b *fsmBackend) CreateImage(_ context.Context, img *catalog.Image) (*catalog.Image, error) {
	res, err := b.Propose(&raftfsm.CreateImage{Image: img})
	if err != nil {
		return nil, err
	}
	return res.Image, res.Err
}

func (b *fsmBackend) UpdateImage(_ context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	res, err := b.Propose(&raftfsm.UpdateImage{Image: img, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Image, res.Err
}

func (b *fsmBackend) DeleteImage(_ context.Context, id string, expect uint64) error {
	res, err := b.Propose(&raftfsm.DeleteImage{ID: id, ExpectRevision: expect})
	if err != nil {
		return err
	}
	return res.Err
}

func (b *fsmBackend) Upload(context.Context, *catalog.Image, io.Reader, int64) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

func (b *fsmBackend) OpenImage(context.Context, *catalog.Image, int64, int64) (io.ReadCloser, error) {
	return nil, catalog.ErrUnavailable
}

func (b *fsmBackend) PullImage(_ context.Context, img *catalog.Image) (*catalog.Image, error) {
	return img, nil
}

func (b *fsmBackend) Cluster(context.Context, bool) (*ClusterInfo, error) {
	return &ClusterInfo{Self: "n1", Leader: "n1"}, nil
}

func (b *fsmBackend) Member(_ context.Context, imageID, memberID string) (*catalog.Member, error) {
	return b.state().Member(imageID, memberID)
}

func (b *fsmBackend) Members(_ context.Context, imageID string) ([]*catalog.Member, error) {
	return b.state().Members(imageID), nil
}

func (b *fsmBackend) Memberships(_ context.Context, project string) (map[string]*catalog.Member, error) {
	return b.state().Memberships(project), nil
}

func (b *fsmBackend) PutMember(_ context.Context, m *catalog.Member, create bool, expect uint64) (*catalog.Member, error) {
	res, err := b.Propose(&raftfsm.PutMember{Member: m, Create: create, ExpectRevision: expect})
	if err != nil {
		return nil, err
	}
	return res.Member, res.Err
}

func (b *fsmBackend) DeleteMember(_ context.Context, imageID, memberID string) error {
	res, err := b.Propose(&raftfsm.DeleteMember{ImageID: imageID, MemberID: memberID})
	if err != nil {
		return err
	}
	return res.Err
}

func (b *fsmBackend) StageImage(context.Context, *catalog.Image, io.Reader, int64) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

// StartImport records the task and takes the import lock, as a node
// does, without running anything.
func (b *fsmBackend) StartImport(ctx context.Context, job *catalog.ImportJob) error {
	img, err := b.Image(ctx, job.ImageID)
	if err != nil {
		return err
	}
	if img.Revision != job.ImageRevision {
		return fmt.Errorf("start import: %w", catalog.ErrConflict)
	}
	d, err := job.Task.Doc()
	if err != nil {
		return err
	}
	if _, err := b.PutDoc(ctx, d, true, 0); err != nil {
		return err
	}
	next := img.Clone()
	if next.Properties == nil {
		next.Properties = map[string]string{}
	}
	next.Properties[catalog.PropImportTask] = d.ID
	if _, err := b.UpdateImage(ctx, next, img.Revision); err != nil {
		return err
	}
	b.mu.Lock()
	b.jobs++
	b.mu.Unlock()
	return nil
}

func (b *fsmBackend) ImportMethods() []string {
	return []string{catalog.MethodGlanceDirect, catalog.MethodWebDownload, catalog.MethodCopyImage, catalog.MethodGlanceDownload}
}

func (b *fsmBackend) Stores(context.Context) ([]catalog.Store, error) {
	return []catalog.Store{{ID: catalog.DefaultStore, Default: true, Nodes: []string{"n1", "n2"}}, {ID: "z1", Nodes: []string{"n1"}}}, nil
}

func (b *fsmBackend) Usage(context.Context, string) (*catalog.Usage, error) {
	return &catalog.Usage{}, nil
}

func (b *fsmBackend) Quotas() catalog.Usage { return catalog.Usage{} }

func (b *fsmBackend) UploadToStore(context.Context, *catalog.Image, io.Reader, int64, string) (*catalog.Image, error) {
	return nil, catalog.ErrUnavailable
}

func (b *fsmBackend) StartLocationImport(ctx context.Context, job *catalog.LocationJob) error {
	d, err := job.Task.Doc()
	if err != nil {
		return err
	}
	_, err = b.PutDoc(ctx, d, true, 0)
	return err
}

func (b *fsmBackend) LocationSettings() LocationSettings { return LocationSettings{} }
