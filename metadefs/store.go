package metadefs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/p2pglance/p2pglance/api"
	"github.com/p2pglance/p2pglance/catalog"
)

// Document kinds of the metadefs catalog.
const (
	kindNamespace    = "metadef_namespace"
	kindResourceType = "metadef_resource_type"
	// kindSeed marks a cluster whose default definitions were loaded
	// (Seed), so they are loaded once, not again after an operator
	// deletes one of them.
	kindSeed = "metadef_seed"
	seedID   = "default"
)

// Namespace visibilities.
const (
	public  = "public"
	private = "private"
)

// maxName is the maxLength of names (namespace, object, property, tag,
// resource type, prefix) in Glance's metadefs schemas.
const maxName = 80

// maxOwner is the maxLength of a namespace's owner in Glance's schema.
const maxOwner = 255

// namespace is a namespace with its content, as stored in the catalog.
type namespace struct {
	Namespace    string        `json:"namespace"`
	DisplayName  *string       `json:"display_name,omitempty"`
	Description  *string       `json:"description,omitempty"`
	Visibility   string        `json:"visibility"`
	Protected    bool          `json:"protected"`
	Owner        *string       `json:"owner,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Associations []association `json:"resource_type_associations,omitempty"`
	Properties   properties    `json:"properties,omitempty"`
	Objects      []object      `json:"objects,omitempty"`
	Tags         []tag         `json:"tags,omitempty"`
}

// association ties a namespace to a resource type.
type association struct {
	Name             string    `json:"name"`
	Prefix           *string   `json:"prefix,omitempty"`
	PropertiesTarget *string   `json:"properties_target,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// object is a named group of property definitions.
type object struct {
	Name        string      `json:"name"`
	Description *string     `json:"description,omitempty"`
	Required    *[]string   `json:"required,omitempty"`
	Properties  *properties `json:"properties,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// tag is a tag definition.
type tag struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// resourceType is the body of a resource type document.
type resourceType struct {
	Name string `json:"name"`
	// Protected marks the seeded system types.
	Protected bool `json:"protected,omitempty"`
}

// decodeNamespace decodes a namespace document.
func decodeNamespace(d *catalog.Doc) (*namespace, error) {
	var ns namespace
	if err := json.Unmarshal(d.Body, &ns); err != nil {
		return nil, fmt.Errorf("decode metadef namespace %s: %w", d.ID, err)
	}
	return &ns, nil
}

// encodeNamespace wraps a namespace into its catalog document.
func encodeNamespace(ns *namespace) (*catalog.Doc, error) {
	body, err := json.Marshal(ns)
	if err != nil {
		return nil, fmt.Errorf("encode metadef namespace %s: %w", ns.Namespace, err)
	}
	d := &catalog.Doc{Kind: kindNamespace, ID: ns.Namespace, Body: body, CreatedAt: ns.CreatedAt, UpdatedAt: ns.UpdatedAt}
	if ns.Owner != nil {
		d.Owner = *ns.Owner
	}
	return d, nil
}

// load returns the namespace if the caller may see it, else a 404. With
// fresh, the local replica first catches up with every committed write
// (before a read-modify-write); without, a miss is retried after a Sync so
// a namespace just created through another node is found.
func (s *Service) load(ctx context.Context, name string, fresh bool) (*namespace, *catalog.Doc, error) {
	b := s.store
	if fresh {
		if err := b.Sync(ctx); err != nil {
			return nil, nil, err
		}
	}
	d, err := b.Doc(ctx, kindNamespace, name)
	if errors.Is(err, catalog.ErrNotFound) && !fresh {
		if err := b.Sync(ctx); err != nil {
			return nil, nil, err
		}
		d, err = b.Doc(ctx, kindNamespace, name)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil, namespaceNotFound(name)
	}
	if err != nil {
		return nil, nil, err
	}
	ns, err := decodeNamespace(d)
	if err != nil {
		return nil, nil, err
	}
	if !canRead(api.AuthFrom(ctx), ns) {
		return nil, nil, namespaceNotFound(name)
	}
	return ns, d, nil
}

// rewriteRetries bounds the retries of a read-modify-write that lost a
// race (update), as for the image API's read-modify-writes.
const rewriteRetries = 5

// update applies change to a fresh copy of the namespace the caller may
// write (rule act) and stores it with the document's revision as
// precondition; a lost race re-applies change to the new state, up to
// rewriteRetries times (catalog.RetryOnConflict). change may return an
// *api.Error to refuse.
func (s *Service) update(ctx context.Context, name, act string, change func(ns *namespace) error) (*namespace, error) {
	var out *namespace
	err := catalog.RetryOnConflict(ctx, rewriteRetries, nil, func(ctx context.Context) error {
		ns, d, err := s.load(ctx, name, true)
		if err != nil {
			return err
		}
		if err := enforceWrite(ctx, act, ns); err != nil {
			return err
		}
		if err := change(ns); err != nil {
			return err
		}
		next, err := encodeNamespace(ns)
		if err != nil {
			return err
		}
		next.CreatedAt = d.CreatedAt
		_, err = s.store.PutDoc(ctx, next, false, d.Revision)
		if errors.Is(err, catalog.ErrNotFound) {
			return namespaceNotFound(name)
		}
		out = ns
		return err
	})
	if errors.Is(err, catalog.ErrConflict) {
		return nil, &api.Error{Status: http.StatusConflict, Explanation: fmt.Sprintf("Metadata definition namespace=%s was changed by concurrent requests; retry.", name), Err: err}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
