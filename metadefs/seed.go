package metadefs

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// defaultsJSON holds the definitions a new cluster starts with: the
// resource types Nova, Cinder and Horizon look for and a few namespaces
// in the format of Glance's etc/metadefs/*.json files.
//
//go:embed defaults.json
var defaultsJSON []byte

// defaultOwner owns the default namespaces, as glance-manage's
// load_metadefs makes "admin" their owner.
const defaultOwner = "admin"

// defaults parses the embedded default definitions.
func defaults(now time.Time) (resourceTypes []string, namespaces []*namespace, err error) {
	var f struct {
		ResourceTypes []string                     `json:"resource_types"`
		Namespaces    []map[string]json.RawMessage `json:"namespaces"`
	}
	if err := json.Unmarshal(defaultsJSON, &f); err != nil {
		return nil, nil, fmt.Errorf("parse default metadefs: %w", err)
	}
	for _, body := range f.Namespaces {
		ns, err := parseNamespace(body, now)
		if err != nil {
			return nil, nil, fmt.Errorf("parse default metadefs: %w", err)
		}
		if ns.Owner == nil {
			owner := defaultOwner
			ns.Owner = &owner
		}
		namespaces = append(namespaces, ns)
	}
	return f.ResourceTypes, namespaces, nil
}

// Seed loads the default metadata definitions (resource types
// and namespaces) into the catalog through b, once per cluster: it does
// nothing when the catalog records that they were loaded, creates only
// what is absent (a concurrent seeder on another node is harmless), and
// then records that they were loaded, so namespaces an operator deletes
// later do not come back. Call it on the Raft leader after start; the API
// also calls it before serving the metadefs lists.
func Seed(ctx context.Context, b Store) error {
	if _, err := b.Doc(ctx, kindSeed, seedID); err == nil {
		return nil
	}
	if err := b.Sync(ctx); err != nil {
		return fmt.Errorf("seed metadefs: %w", err)
	}
	if _, err := b.Doc(ctx, kindSeed, seedID); err == nil {
		return nil
	}
	now := time.Now().UTC()
	rts, namespaces, err := defaults(now)
	if err != nil {
		return err
	}
	if err := ensureResourceTypes(ctx, b, rts, true, now); err != nil {
		return fmt.Errorf("seed metadefs: %w", err)
	}
	for _, ns := range namespaces {
		var names []string
		for _, a := range ns.Associations {
			names = append(names, a.Name)
		}
		if err := ensureResourceTypes(ctx, b, names, true, now); err != nil {
			return fmt.Errorf("seed metadefs: %w", err)
		}
		d, err := encodeNamespace(ns)
		if err != nil {
			return err
		}
		if _, err := b.PutDoc(ctx, d, true, 0); err != nil && !errors.Is(err, catalog.ErrExists) {
			return fmt.Errorf("seed metadefs: create namespace %s: %w", ns.Namespace, err)
		}
	}
	marker := &catalog.Doc{Kind: kindSeed, ID: seedID, Body: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
	if _, err := b.PutDoc(ctx, marker, true, 0); err != nil && !errors.Is(err, catalog.ErrExists) {
		return fmt.Errorf("seed metadefs: record: %w", err)
	}
	return nil
}
