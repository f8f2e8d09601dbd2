package metadefs

import (
	"context"
	"log/slog"
	"time"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
)

// Store is the catalog the metadefs live in: documents read from the
// local replica and written through Raft. The node implements it (as
// part of api.Backend).
type Store interface {
	// Sync waits until the local replica holds every write committed
	// before the call, so a read-modify-write starts from fresh state.
	Sync(ctx context.Context) error
	// Doc returns a document, or an error wrapping catalog.ErrNotFound.
	Doc(ctx context.Context, kind, id string) (*catalog.Doc, error)
	// Docs returns every document of a kind.
	Docs(ctx context.Context, kind string) ([]*catalog.Doc, error)
	// PutDoc creates (create; an error wrapping catalog.ErrExists if the
	// document exists) or replaces a document, the latter only while its
	// revision is expect (0: any), else the error wraps
	// catalog.ErrConflict.
	PutDoc(ctx context.Context, d *catalog.Doc, create bool, expect uint64) (*catalog.Doc, error)
	// DeleteDoc removes a document, or returns an error wrapping
	// catalog.ErrNotFound.
	DeleteDoc(ctx context.Context, kind, id string) error
}

// Service serves the metadefs API (/v2/metadefs/...) and its schemas
// (/v2/schemas/metadefs/...) over a Store. It is an api.Extension: the
// node passes it in api.Config.Extensions.
type Service struct {
	store Store
	log   *slog.Logger
}

var _ api.Extension = (*Service)(nil)

// New returns a Service over store. log (nil discards) receives the
// failures of the seeding a read may trigger (ensureSeeded).
func New(store Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, log: log.With("component", "metadefs")}
}

// Routes returns the routes of the metadefs API and its schemas
// (glance/api/v2/router.py), each with Glance's Allow list.
func (s *Service) Routes() []api.Route {
	const ns = "/v2/metadefs/namespaces/{namespace}"
	type m = map[string]api.HandlerFunc
	return []api.Route{
		{Path: "/v2/metadefs/resource_types", Methods: m{"GET": s.listResourceTypes}, Allow: "GET"},
		{Path: "/v2/metadefs/namespaces", Methods: m{"GET": s.listNamespaces, "POST": s.createNamespace}, Allow: "GET, POST"},
		{Path: ns, Methods: m{"GET": s.showNamespace, "PUT": s.updateNamespace, "DELETE": s.deleteNamespace}, Allow: "GET, PUT, DELETE"},
		{Path: ns + "/resource_types", Methods: m{"GET": s.listAssociations, "POST": s.createAssociation}, Allow: "GET, POST"},
		{Path: ns + "/resource_types/{name}", Methods: m{"DELETE": s.deleteAssociation}, Allow: "DELETE"},
		{Path: ns + "/properties", Methods: m{"GET": s.listProperties, "POST": s.createProperty, "DELETE": s.deleteContent("properties")}, Allow: "GET, POST, DELETE"},
		{Path: ns + "/properties/{name}", Methods: m{"GET": s.showProperty, "PUT": s.updateProperty, "DELETE": s.deleteNamed("remove_metadef_property", "property", deleteProperty)}, Allow: "GET, PUT, DELETE"},
		{Path: ns + "/objects", Methods: m{"GET": s.listObjects, "POST": s.createObject, "DELETE": s.deleteContent("objects")}, Allow: "GET, POST, DELETE"},
		{Path: ns + "/objects/{name}", Methods: m{"GET": s.showObject, "PUT": s.updateObject, "DELETE": s.deleteNamed("delete_metadef_object", "object", deleteObject)}, Allow: "GET, PUT, DELETE"},
		{Path: ns + "/tags", Methods: m{"GET": s.listTags, "POST": s.createTags, "DELETE": s.deleteContent("tags")}, Allow: "GET, POST, DELETE"},
		{Path: ns + "/tags/{name}", Methods: m{"GET": s.showTag, "POST": s.createTag, "PUT": s.updateTag, "DELETE": s.deleteNamed("delete_metadef_tag", "tag", deleteTag)}, Allow: "GET, POST, PUT, DELETE"},
		{Path: "/v2/schemas/metadefs/{name}", Methods: m{"GET": s.showSchema}, Allow: "GET"},
	}
}

// seedTimeout bounds the lazy seeding a read may trigger.
const seedTimeout = 3 * time.Second

// ensureSeeded loads the default definitions on a cluster that has not
// got them yet (a local read when it has). It never fails a read: without
// quorum the request is served, after at most seedTimeout, from
// whatever the replica holds.
func (s *Service) ensureSeeded(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	if err := Seed(ctx, s.store); err != nil {
		s.log.Warn("loading default metadata definitions failed", "err", err)
	}
}
