package importer

import (
	"context"
	"io"

	"github.com/p2pglance/p2pglance/catalog"
)

// Catalog is what the importer reads and writes in the replicated
// catalog. Reads come from the local replica; writes go through the
// leader and return once committed and applied here.
type Catalog interface {
	// Image returns image id from the local replica (catalog.ErrNotFound
	// if there is none).
	Image(id string) (*catalog.Image, error)
	// EachLocked calls fn for every image of the local replica that holds
	// an upload lock (Upload set: an upload, stage, import or location
	// pull under way), until fn returns false. Its cost follows the
	// locked images, not the catalog: the recovery loop runs it often.
	EachLocked(fn func(*catalog.Image) bool)
	// Doc returns one catalog document (catalog.ErrNotFound if none).
	Doc(kind, id string) (*catalog.Doc, error)
	// Docs returns every document of kind.
	Docs(kind string) []*catalog.Doc
	// UpdateImage commits img if the stored image is at revision expect
	// (catalog.ErrConflict otherwise) and returns what was stored.
	UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error)
	// MutateImage applies fn to a fresh copy of image id and commits it,
	// retrying on conflict; an error from fn is returned as it is and
	// nothing is written.
	MutateImage(ctx context.Context, id string, fn func(*catalog.Image) error) (*catalog.Image, error)
	// PutDoc creates (create) or replaces a document at revision expect.
	PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error)
	// DeleteDoc deletes a document.
	DeleteDoc(ctx context.Context, kind, id string) error
	// Sync waits until the local replica has applied everything
	// committed before the call (a read barrier).
	Sync(ctx context.Context) error
	// Ready reports whether the local replica has caught up with the
	// leader once since the node started.
	Ready() bool
}

// Data is the node's data path: image bytes in and out of chunks.
type Data interface {
	// Ingest streams r into chunks stored on this node with durable
	// copies on R nodes in all, and returns the manifest and placement
	// (node ids), not yet committed. The chunks stay protected from
	// garbage collection for imageID until Unprotect.
	Ingest(ctx context.Context, imageID string, r io.Reader) (*catalog.Manifest, []string, error)
	// FetchChunk returns chunk idx of src (manifest and holders), its
	// bytes verified, from this node or a holder; release gives the
	// buffer back.
	FetchChunk(ctx context.Context, src *catalog.Image, idx int) (data []byte, release func(), err error)
	// CopyToZone puts a durable copy of every chunk of man (held by
	// sources) on a live node of zone and returns that node's id.
	CopyToZone(ctx context.Context, imageID string, man *catalog.Manifest, sources []string, zone string) (string, error)
	// Unprotect ends the garbage-collection protection of the chunks
	// stored for imageID.
	Unprotect(imageID string)
	// KickGC asks for a garbage collection soon (a failed import leaves
	// orphan chunks).
	KickGC()
	// AbortUpload returns an image whose upload (session) ended without
	// settling it to queued, if that upload still owns it. Uploads are
	// the node's; the importer's recovery pass finds them.
	AbortUpload(imageID, session string)
}

// Cluster is the importer's view of the cluster's members.
type Cluster interface {
	// Self is this node's id.
	Self() string
	// Alive reports whether gossip sees node id alive.
	Alive(id string) bool
	// IsLeader reports whether this node is the Raft leader.
	IsLeader() bool
	// ZoneHolds reports whether a node of zone is among nodes.
	ZoneHolds(zone string, nodes []string) bool
	// AnnounceAll tells the cluster this node holds every one of the
	// chunks of imageID.
	AnnounceAll(imageID string, chunks int)
}
