package api

import (
	"context"
	"io"

	"github.com/p2pglance/p2pglance/catalog"
)

// Backend is what the API needs from a p2pglance node. Reads come from the
// node's local replica of the catalog; writes go through Raft and return
// once this node's replica has applied them (read-your-writes).
type Backend interface {
	// Image returns the live image with id from the local replica, or an
	// error wrapping catalog.ErrNotFound. The image is shared: Clone it
	// before changing it.
	Image(ctx context.Context, id string) (*catalog.Image, error)
	// ListImages answers a list query from the local replica.
	ListImages(ctx context.Context, q catalog.ListQuery) ([]*catalog.Image, error)
	// Sync waits until the local replica holds every write committed
	// before the call, so a read-modify-write starts from fresh state.
	Sync(ctx context.Context) error
	// AppliedIndex returns the Raft index of the last write the local
	// replica has applied: every answer of this node reflects at least
	// that revision of the catalog. It never blocks.
	AppliedIndex() uint64
	// WaitApplied waits until the local replica has applied the write
	// at index idx (or a later one), or ctx ends (the error then wraps
	// ctx.Err()). It asks nothing of the leader: it waits for
	// replication already under way.
	WaitApplied(ctx context.Context, idx uint64) error
	// CreateImage adds img (id and timestamps already chosen).
	CreateImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error)
	// UpdateImage replaces the image with img if its revision is still
	// expect; otherwise the error wraps catalog.ErrConflict.
	UpdateImage(ctx context.Context, img *catalog.Image, expect uint64) (*catalog.Image, error)
	// DeleteImage deletes the image if its revision is still expect (0:
	// any revision). Its chunks become garbage.
	DeleteImage(ctx context.Context, id string, expect uint64) error
	// Upload stores the image's data from r (streamed, never held whole)
	// and makes the image active once every chunk has its durable
	// copies. img is the image as validated by the caller (status
	// queued). sizeHint is the client's announced size, or -1.
	Upload(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error)
	// OpenImage returns a stream of the bytes [off, off+n) of an active
	// image, each chunk verified before any of its bytes is returned. It
	// fails before returning if the first chunk cannot be obtained.
	OpenImage(ctx context.Context, img *catalog.Image, off, n int64) (io.ReadCloser, error)
	// PullImage returns img with its data in the cluster: unchanged when
	// it has a manifest (or no data anywhere), else after the data was
	// pulled from the image's locations and verified (by this node, or
	// by another node this one waited for).
	PullImage(ctx context.Context, img *catalog.Image) (*catalog.Image, error)
	// Cluster describes the cluster as this node sees it; with usage,
	// each live node is asked for its store usage (one request per
	// node), else only membership and roles are given.
	Cluster(ctx context.Context, usage bool) (*ClusterInfo, error)

	// Member returns one member of an image, or an error wrapping
	// catalog.ErrNotFound.
	Member(ctx context.Context, imageID, memberID string) (*catalog.Member, error)
	// Members returns an image's members.
	Members(ctx context.Context, imageID string) ([]*catalog.Member, error)
	// Memberships returns the memberships of a project, by image id.
	Memberships(ctx context.Context, project string) (map[string]*catalog.Member, error)
	// PutMember adds (create) or replaces a member; preconditions as in
	// raftfsm.PutMember.
	PutMember(ctx context.Context, m *catalog.Member, create bool, expect uint64) (*catalog.Member, error)
	// DeleteMember removes a member.
	DeleteMember(ctx context.Context, imageID, memberID string) error
	// Doc returns a catalog document (a task, or a document of an
	// Extension).
	Doc(ctx context.Context, kind, id string) (*catalog.Doc, error)
	// Docs returns every document of a kind.
	Docs(ctx context.Context, kind string) ([]*catalog.Doc, error)
	// PutDoc creates (create) or replaces a document.
	PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error)
	// DeleteDoc removes a document.
	DeleteDoc(ctx context.Context, kind, id string) error

	// StageImage stores data for an interoperable import (PUT /stage):
	// the image goes queued -> uploading, the data is chunked and
	// replicated as by Upload, and its manifest is recorded as staged
	// (Image.Staging, StagingPlacement) so any node can import it. Any
	// failure puts the image back to queued.
	StageImage(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64) (*catalog.Image, error)
	// StartImport takes the image's import lock — only if the image is
	// still at job.ImageRevision, else the error wraps
	// catalog.ErrConflict —, records job.Task and runs the import in the
	// background on this node until it ends or the node stops.
	StartImport(ctx context.Context, job *catalog.ImportJob) error
	// ImportMethods lists the enabled import methods, in Glance's order.
	ImportMethods() []string
	// Stores lists the stores: DefaultStore first, then one per zone.
	Stores(ctx context.Context) ([]catalog.Store, error)
	// Usage returns a project's usage ("" is the owner-less images) and
	// the configured quotas.
	Usage(ctx context.Context, project string) (*catalog.Usage, error)
	// Quotas returns the configured quotas alone (Usage with every usage
	// zero), without counting anything.
	Quotas() catalog.Usage

	// UploadToStore is Upload with one of the durable copies on a node of
	// the zone that store (a zone store id, never DefaultStore) names.
	UploadToStore(ctx context.Context, img *catalog.Image, r io.Reader, sizeHint int64, store string) (*catalog.Image, error)
	// StartLocationImport locks the image for a location import — only
	// if it is still at job.ImageRevision, else the error wraps
	// catalog.ErrConflict —, records job.Task and, in the background,
	// reads job.URL into the cluster and makes the image active with
	// job.Locations; a failure fails the task and requeues the image.
	StartLocationImport(ctx context.Context, job *catalog.LocationJob) error
	// LocationSettings says whether image JSON shows locations and
	// direct_url.
	LocationSettings() LocationSettings
}

// ClusterInfo is the body of GET /p2p/v1/cluster.
type ClusterInfo struct {
	Self   string `json:"self"`
	Leader string `json:"leader"`
	// AppliedIndex is the last catalog log index this node applied;
	// Upstream, on a replica, the node it pulls the log from.
	AppliedIndex uint64        `json:"applied_index"`
	Upstream     string        `json:"catalog_upstream,omitempty"`
	Nodes        []ClusterNode `json:"nodes"`
}

// ClusterNode is one node as GET /p2p/v1/cluster lists it. PeerAddr and
// RaftAddr, the internal addresses, are shown to admins only.
type ClusterNode struct {
	ID       string `json:"id"`
	APIAddr  string `json:"api_address"`
	PeerAddr string `json:"peer_address,omitempty"`
	RaftAddr string `json:"raft_address,omitempty"`
	Zone     string `json:"zone"`
	Rack     string `json:"rack"`
	Role     string `json:"role"` // leader, voter, replica (outside Raft), or nonvoter (a Raft non-voter from before replicas)
	Alive    bool   `json:"alive"`
	// Store usage, as the node reports it (absent if it did not answer).
	Chunks      int64 `json:"chunks,omitempty"`
	Bytes       int64 `json:"bytes,omitempty"`
	PinnedBytes int64 `json:"pinned_bytes,omitempty"`
	CacheBytes  int64 `json:"cache_bytes,omitempty"`
	CacheBudget int64 `json:"cache_budget,omitempty"`
	// Chunk bytes served to and fetched from peers since the node
	// started, whether it is ready, and its applied catalog index.
	ServedBytes  int64  `json:"served_bytes,omitempty"`
	FetchedBytes int64  `json:"fetched_bytes,omitempty"`
	Ready        bool   `json:"ready,omitempty"`
	AppliedIndex uint64 `json:"applied_index,omitempty"`
}
