package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
)

// metadefsDefault holds the definitions a new cluster starts with: the
// resource types Nova, Cinder and Horizon look for and a few namespaces
// in the format of Glance's etc/metadefs/*.json files.
//
//go:embed metadefs_default.json
var metadefsDefault []byte

// mdDefaultOwner owns the default namespaces, as glance-manage's
// load_metadefs makes "admin" their owner.
const mdDefaultOwner = "admin"

// mdDefaults parses the embedded default definitions.
func mdDefaults(now time.Time) (resourceTypes []string, namespaces []*mdNamespace, err error) {
	var f struct {
		ResourceTypes []string                     `json:"resource_types"`
		Namespaces    []map[string]json.RawMessage `json:"namespaces"`
	}
	if err := json.Unmarshal(metadefsDefault, &f); err != nil {
		return nil, nil, fmt.Errorf("parse default metadefs: %w", err)
	}
	for _, body := range f.Namespaces {
		ns, err := mdParseNamespace(body, now)
		if err != nil {
			return nil, nil, fmt.Errorf("parse default metadefs: %w", err)
		}
		if ns.Owner == nil {
			owner := mdDefaultOwner
			ns.Owner = &owner
		}
		namespaces = append(namespaces, ns)
	}
	return f.ResourceTypes, namespaces, nil
}

// SeedMetadefs loads the default metadata definitions (resource types
// and namespaces) into the catalog through b, once per cluster: it does
// nothing when the catalog records that they were loaded, creates only
// what is absent (a concurrent seeder on another node is harmless), and
// then records that they were loaded, so namespaces an operator deletes
// later do not come back. Call it on the Raft leader after start; the API
// also calls it before serving the metadefs lists.
func SeedMetadefs(ctx context.Context, b Backend) error {
	if _, err := b.Doc(ctx, mdKindSeed, mdSeedID); err == nil {
		return nil
	}
	if err := b.Sync(ctx); err != nil {
		return fmt.Errorf("seed metadefs: %w", err)
	}
	if _, err := b.Doc(ctx, mdKindSeed, mdSeedID); err == nil {
		return nil
	}
	now := time.Now().UTC()
	rts, namespaces, err := mdDefaults(now)
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
		d, err := mdDoc(ns)
		if err != nil {
			return err
		}
		if _, err := b.PutDoc(ctx, d, true, 0); err != nil && !errors.Is(err, catalog.ErrExists) {
			return fmt.Errorf("seed metadefs: create namespace %s: %w", ns.Namespace, err)
		}
	}
	marker := &catalog.Doc{Kind: mdKindSeed, ID: mdSeedID, Body: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
	if _, err := b.PutDoc(ctx, marker, true, 0); err != nil && !errors.Is(err, catalog.ErrExists) {
		return fmt.Errorf("seed metadefs: record: %w", err)
	}
	return nil
}
