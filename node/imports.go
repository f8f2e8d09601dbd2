package node

import (
	"context"
	"io"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/importer"
)

// Imports, stages, location imports and location pulls run in the
// importer (package node/importer); the node builds it over three small
// adapters and serves the api.Backend methods by delegating to it.

// newImporter builds the node's importer; n.log, n.id and
// n.importFilter must be set.
func (n *Node) newImporter() *importer.Importer {
	return importer.New(importer.Config{
		Replicas:                 n.cfg.Replicas,
		WriteTimeout:             n.cfg.WriteTimeout,
		UploadGrace:              n.cfg.UploadGrace,
		LocationPullTimeout:      n.cfg.LocationPullTimeout,
		MaxImageSize:             n.cfg.MaxImageSize,
		EagerLocations:           n.cfg.EagerLocations,
		GlanceDownloadEndpoints:  n.cfg.GlanceDownloadEndpoints,
		GlanceDownloadProperties: n.cfg.GlanceDownloadProperties,
		Filter:                   n.importFilter,
		IdleTimeout:              n.cfg.ImportIdleTimeout,
		Started:                  n.started,
		Logger:                   n.log.With("component", "importer"),
	}, importer.Deps{Catalog: importCatalog{n}, Data: importData{n}, Cluster: importCluster{n}})
}

// StartImport implements api.Backend.
func (n *Node) StartImport(ctx context.Context, job *catalog.ImportJob) error {
	return n.imports.StartImport(ctx, job)
}

// StartLocationImport implements api.Backend.
func (n *Node) StartLocationImport(ctx context.Context, job *catalog.LocationJob) error {
	return n.imports.StartLocationImport(ctx, job)
}

// StageImage implements api.Backend.
func (n *Node) StageImage(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error) {
	return n.imports.StageImage(ctx, img, r, sizeHint)
}

// PullImage implements api.Backend.
func (n *Node) PullImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error) {
	return n.imports.PullImage(ctx, img)
}

// ImportMethods implements api.Backend.
func (n *Node) ImportMethods() []string { return n.imports.Methods() }

// ImportsSettled reports whether the node has caught up with the catalog
// since it started and has run its first recovery pass over interrupted
// imports, stages and uploads (importer.Importer.Settled).
func (n *Node) ImportsSettled() bool { return n.imports.Settled() }

// LocationSettings implements api.Backend.
func (n *Node) LocationSettings() api.LocationSettings {
	return api.LocationSettings{ShowMultipleLocations: n.cfg.ShowMultipleLocations, ShowImageDirectURL: n.cfg.ShowImageDirectURL}
}

// importCatalog is the node's catalog as importer.Catalog.
type importCatalog struct{ n *Node }

var _ importer.Catalog = importCatalog{}

func (c importCatalog) Image(id string) (*catalog.Image, error) { return c.n.fsm.State().Image(id) }
func (c importCatalog) EachLocked(fn func(*catalog.Image) bool) { c.n.locked.each(lockedKey, fn) }
func (c importCatalog) Doc(kind, id string) (*catalog.Doc, error) {
	return c.n.fsm.State().Doc(kind, id)
}
func (c importCatalog) Docs(kind string) []*catalog.Doc { return c.n.fsm.State().Docs(kind) }
func (c importCatalog) UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error) {
	return c.n.replica.UpdateImage(ctx, img, expect)
}
func (c importCatalog) MutateImage(ctx context.Context, id string, fn func(*catalog.Image) error) (*catalog.Image, error) {
	return c.n.replica.mutateImage(ctx, id, fn)
}
func (c importCatalog) PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error) {
	return c.n.replica.PutDoc(ctx, d, create, expect)
}
func (c importCatalog) DeleteDoc(ctx context.Context, kind, id string) error {
	return c.n.replica.DeleteDoc(ctx, kind, id)
}
func (c importCatalog) Sync(ctx context.Context) error { return c.n.replica.Sync(ctx) }
func (c importCatalog) Ready() bool                    { return c.n.ready.Load() }

// importData is the node's data path as importer.Data.
type importData struct{ n *Node }

var _ importer.Data = importData{}

func (d importData) Ingest(ctx context.Context, imageID string, r io.Reader) (*catalog.Manifest, []string, error) {
	return d.n.xfer.Ingest(ctx, imageID, r)
}
func (d importData) FetchChunk(ctx context.Context, src *catalog.Image, idx int) ([]byte, func(), error) {
	buf, data, err := d.n.xfer.FetchChunk(ctx, src, idx)
	if err != nil {
		return nil, nil, err
	}
	return data, buf.Release, nil
}
func (d importData) CopyToZone(ctx context.Context, imageID string, man *catalog.Manifest, sources []string, zone string) (string, error) {
	return d.n.xfer.CopyToZone(ctx, imageID, man, sources, zone)
}
func (d importData) Unprotect(imageID string)            { d.n.unprotect(imageID) }
func (d importData) KickGC()                             { d.n.kickGC() }
func (d importData) AbortUpload(imageID, session string) { d.n.abortUpload(imageID, session) }

// importCluster is the node's view of the cluster as importer.Cluster.
type importCluster struct{ n *Node }

var _ importer.Cluster = importCluster{}

func (c importCluster) Self() string { return c.n.id }
func (c importCluster) Alive(id string) bool {
	m, ok := c.n.gossip.Member(id)
	return ok && m.Alive
}
func (c importCluster) IsLeader() bool { return c.n.IsLeader() }
func (c importCluster) ZoneHolds(zone string, nodes []string) bool {
	return c.n.xfer.ZoneHolds(zone, nodes)
}
func (c importCluster) AnnounceAll(imageID string, chunks int) {
	c.n.tracker.AnnounceAll(imageID, chunks)
}
