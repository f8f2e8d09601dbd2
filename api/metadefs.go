package api

// Metadata definitions (metadefs): Glance's catalog of namespaces that
// describe the properties, objects and tags other services (Nova, Cinder,
// Horizon) may set on images, flavors, volumes and so on.
//
// Storage: a namespace and everything in it (resource type associations,
// properties, objects, tags) is ONE catalog document of kind
// mdKindNamespace, id = the namespace name, body = mdNamespace as JSON.
// Every change is a read-modify-write of that document with its revision
// as precondition, retried on a conflict (mdUpdate). Resource types are
// documents of kind mdKindResourceType, id = the type name.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// Document kinds of the metadefs catalog.
const (
	mdKindNamespace    = "metadef_namespace"
	mdKindResourceType = "metadef_resource_type"
	// mdKindSeed marks a cluster whose default definitions were loaded
	// (SeedMetadefs), so they are loaded once, not again after an
	// operator deletes one of them.
	mdKindSeed = "metadef_seed"
	mdSeedID   = "default"
)

// Namespace visibilities.
const (
	mdPublic  = "public"
	mdPrivate = "private"
)

// mdMaxName is the maxLength of names (namespace, object, property, tag,
// resource type, prefix) in Glance's metadefs schemas.
const mdMaxName = 80

// mdNamespace is a namespace with its content, as stored in the catalog.
type mdNamespace struct {
	Namespace    string          `json:"namespace"`
	DisplayName  *string         `json:"display_name,omitempty"`
	Description  *string         `json:"description,omitempty"`
	Visibility   string          `json:"visibility"`
	Protected    bool            `json:"protected"`
	Owner        *string         `json:"owner,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Associations []mdAssociation `json:"resource_type_associations,omitempty"`
	Properties   mdProps         `json:"properties,omitempty"`
	Objects      []mdObject      `json:"objects,omitempty"`
	Tags         []mdTag         `json:"tags,omitempty"`
}

// mdAssociation ties a namespace to a resource type.
type mdAssociation struct {
	Name             string    `json:"name"`
	Prefix           *string   `json:"prefix,omitempty"`
	PropertiesTarget *string   `json:"properties_target,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// mdObject is a named group of property definitions.
type mdObject struct {
	Name        string    `json:"name"`
	Description *string   `json:"description,omitempty"`
	Required    *[]string `json:"required,omitempty"`
	Properties  *mdProps  `json:"properties,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// mdTag is a tag definition.
type mdTag struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// mdResourceType is the body of a resource type document.
type mdResourceType struct {
	Name string `json:"name"`
	// Protected marks the seeded system types.
	Protected bool `json:"protected,omitempty"`
}

// mdNamespaceURL is the self link of a namespace (Glance does not quote
// the name).
func mdNamespaceURL(name string) string { return "/v2/metadefs/namespaces/" + name }

// mdNotFound is the 404 for an unknown or invisible namespace.
func mdNotFound(name string) *Error {
	return &Error{Status: http.StatusNotFound, Explanation: fmt.Sprintf("Metadata definition namespace=%s was not found.", name)}
}

// mdCanRead is Glance's get_metadef_namespace rule combined with its
// database visibility: admins see everything; readers see public
// namespaces and those of their own project.
func mdCanRead(a *Auth, ns *mdNamespace) bool {
	if a.Admin {
		return true
	}
	if !a.HasRole("reader") {
		return false
	}
	if ns == nil {
		return true
	}
	return ns.Visibility == mdPublic || (ns.Owner != nil && a.Project != "" && *ns.Owner == a.Project)
}

// mdEnforceWrite applies a metadef write rule (admin only in Glance's
// defaults). Like Glance, a refused write on a namespace the caller
// cannot see answers 404, not 403.
func mdEnforceWrite(ctx context.Context, act string, ns *mdNamespace) error {
	a := authFrom(ctx)
	if a.Admin {
		return nil
	}
	if !mdCanRead(a, ns) {
		if ns == nil {
			return &Error{Status: http.StatusNotFound}
		}
		return mdNotFound(ns.Namespace)
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

// mdEnforceList applies the list rules (get_metadef_namespaces,
// list_metadef_resource_types): admin, or any reader.
func mdEnforceList(ctx context.Context, act string) error {
	a := authFrom(ctx)
	if a.Admin || a.HasRole("reader") {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("You are not authorized to complete %s action.", act)}
}

// mdDecode decodes a namespace document.
func mdDecode(d *catalog.Doc) (*mdNamespace, error) {
	var ns mdNamespace
	if err := json.Unmarshal(d.Body, &ns); err != nil {
		return nil, fmt.Errorf("decode metadef namespace %s: %w", d.ID, err)
	}
	return &ns, nil
}

// mdDoc wraps a namespace into its catalog document.
func mdDoc(ns *mdNamespace) (*catalog.Doc, error) {
	body, err := json.Marshal(ns)
	if err != nil {
		return nil, fmt.Errorf("encode metadef namespace %s: %w", ns.Namespace, err)
	}
	d := &catalog.Doc{Kind: mdKindNamespace, ID: ns.Namespace, Body: body, CreatedAt: ns.CreatedAt, UpdatedAt: ns.UpdatedAt}
	if ns.Owner != nil {
		d.Owner = *ns.Owner
	}
	return d, nil
}

// mdLoad returns the namespace if the caller may see it, else a 404. With
// fresh, the local replica first catches up with every committed write
// (before a read-modify-write); without, a miss is retried after a Sync so
// a namespace just created through another node is found.
func (s *Server) mdLoad(ctx context.Context, name string, fresh bool) (*mdNamespace, *catalog.Doc, error) {
	b := s.cfg.Backend
	if fresh {
		if err := b.Sync(ctx); err != nil {
			return nil, nil, err
		}
	}
	d, err := b.Doc(ctx, mdKindNamespace, name)
	if errors.Is(err, catalog.ErrNotFound) && !fresh {
		if err := b.Sync(ctx); err != nil {
			return nil, nil, err
		}
		d, err = b.Doc(ctx, mdKindNamespace, name)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil, mdNotFound(name)
	}
	if err != nil {
		return nil, nil, err
	}
	ns, err := mdDecode(d)
	if err != nil {
		return nil, nil, err
	}
	if !mdCanRead(authFrom(ctx), ns) {
		return nil, nil, mdNotFound(name)
	}
	return ns, d, nil
}

// mdUpdate applies change to a fresh copy of the namespace the caller may
// write (rule act) and stores it with the document's revision as
// precondition; a lost race re-applies change to the new state, up to
// rewriteRetries times. change may return an *Error to refuse.
func (s *Server) mdUpdate(ctx context.Context, name, act string, change func(ns *mdNamespace) error) (*mdNamespace, error) {
	for attempt := 0; ; attempt++ {
		ns, d, err := s.mdLoad(ctx, name, true)
		if err != nil {
			return nil, err
		}
		if err := mdEnforceWrite(ctx, act, ns); err != nil {
			return nil, err
		}
		if err := change(ns); err != nil {
			return nil, err
		}
		next, err := mdDoc(ns)
		if err != nil {
			return nil, err
		}
		next.CreatedAt = d.CreatedAt
		_, err = s.cfg.Backend.PutDoc(ctx, next, false, d.Revision)
		switch {
		case errors.Is(err, catalog.ErrConflict) && attempt < rewriteRetries:
			continue
		case errors.Is(err, catalog.ErrConflict):
			return nil, &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Metadata definition namespace=%s was changed by concurrent requests; retry.", name), Err: err}
		case errors.Is(err, catalog.ErrNotFound):
			return nil, mdNotFound(name)
		case err != nil:
			return nil, err
		}
		return ns, nil
	}
}

// mdEnsureResourceTypes creates the resource type documents that do not
// exist yet (Glance creates a resource type on its first association).
func (s *Server) mdEnsureResourceTypes(ctx context.Context, names []string, protected bool, now time.Time) error {
	return ensureResourceTypes(ctx, s.cfg.Backend, names, protected, now)
}

func ensureResourceTypes(ctx context.Context, b Backend, names []string, protected bool, now time.Time) error {
	for _, name := range names {
		if _, err := b.Doc(ctx, mdKindResourceType, name); err == nil {
			continue
		}
		body, err := json.Marshal(mdResourceType{Name: name, Protected: protected})
		if err != nil {
			return fmt.Errorf("encode resource type %s: %w", name, err)
		}
		_, err = b.PutDoc(ctx, &catalog.Doc{Kind: mdKindResourceType, ID: name, Body: body, CreatedAt: now, UpdatedAt: now}, true, 0)
		if err != nil && !errors.Is(err, catalog.ErrExists) {
			return fmt.Errorf("create resource type %s: %w", name, err)
		}
	}
	return nil
}

// mdSeedTimeout bounds the lazy seeding a read may trigger.
const mdSeedTimeout = 3 * time.Second

// mdEnsureSeeded loads the default definitions on a cluster that has not
// got them yet (a local read when it has). It never fails a read: without
// quorum the request is served, after at most mdSeedTimeout, from
// whatever the replica holds.
func (s *Server) mdEnsureSeeded(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, mdSeedTimeout)
	defer cancel()
	if err := SeedMetadefs(ctx, s.cfg.Backend); err != nil {
		s.log.Warn("loading default metadata definitions failed", "err", err)
	}
}

// mdReadOnly refuses the attributes Glance's deserializers reject as
// read-only in a request body, in Glance's order.
func mdReadOnly(body map[string]json.RawMessage, keys ...string) error {
	for _, k := range keys {
		if _, ok := body[k]; ok {
			return errReadOnly(k)
		}
	}
	return nil
}

// mdRejectProtected is the 403 for deleting from a protected namespace.
func mdRejectProtected(ns *mdNamespace, what, name string) error {
	if !ns.Protected {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Metadata definition %s %s is protected and cannot be deleted.", what, name)}
}

// mdFindObject returns the index of an object, or -1.
func mdFindObject(ns *mdNamespace, name string) int {
	return slices.IndexFunc(ns.Objects, func(o mdObject) bool { return o.Name == name })
}

// mdFindTag returns the index of a tag (exact name), or -1.
func mdFindTag(ns *mdNamespace, name string) int {
	return slices.IndexFunc(ns.Tags, func(t mdTag) bool { return t.Name == name })
}

// mdTagTaken reports whether a tag name is used, ignoring case as Glance's
// database does ("metadata tag names are case insensitive"), except at
// index skip.
func mdTagTaken(ns *mdNamespace, name string, skip int) bool {
	for i, t := range ns.Tags {
		if i != skip && strings.EqualFold(t.Name, name) {
			return true
		}
	}
	return false
}

// mdFindAssociation returns the index of an association, or -1.
func mdFindAssociation(ns *mdNamespace, name string) int {
	return slices.IndexFunc(ns.Associations, func(a mdAssociation) bool { return a.Name == name })
}

// mdDupTag is Glance's 409 for a tag name already in use.
func mdDupTag(name, ns string) *Error {
	return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata tag with name=%s already exists in namespace=%s. (Please note that metadata tag names are case insensitive).", name, ns)}
}

// mdDupObject is Glance's 409 for an object name already in use.
func mdDupObject(name, ns string) *Error {
	return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata definition object with name=%s already exists in namespace=%s.", name, ns)}
}

// mdDupProperty is Glance's 409 for a property name already in use.
func mdDupProperty(name, ns string) *Error {
	return &Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("A metadata definition property with name=%s already exists in namespace=%s.", name, ns)}
}

// mdNoContent answers 204.
func mdNoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
