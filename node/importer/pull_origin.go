package importer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/imagecheck"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// errOriginMismatch means a location's data is not what the catalog
// records for the image (size or hashes): it is never served.
var errOriginMismatch = fmt.Errorf("the location's data does not match the image's recorded size or checksums: %w", catalog.ErrUnavailable)

// pullFromLocations reads the first location that answers into the
// cluster, verifies it and commits the manifest; the caller holds the
// pull lock as session.
func (im *Importer) pullFromLocations(ctx context.Context, id, session string) (*catalog.Image, error) {
	defer im.done(session)
	defer im.data.Unprotect(id)
	img, err := im.cat.Image(id)
	if err != nil {
		return nil, err
	}
	log := im.log.With("image", id)
	var errs []error
	for _, loc := range img.Locations {
		p, err := im.pullOne(ctx, img, loc.URL)
		if err != nil {
			log.Warn("location pull failed", "url", urlfilter.Redact(loc.URL), "err", err)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		out, err := im.cat.MutateImage(ctx, id, func(cur *catalog.Image) error {
			if cur.Upload == nil || cur.Upload.Session != session || cur.Manifest != nil {
				return fmt.Errorf("image %s: %w", id, errPullLost)
			}
			man := p.man
			cur.Upload = nil
			cur.Manifest, cur.Placement = man, p.placement
			cur.ShortPlacement = len(p.placement) < im.cfg.Replicas
			if cur.Size == nil {
				cur.Size = &man.Size
			}
			if cur.VirtualSize == nil {
				imagecheck.SetVirtualSize(cur, p.vsize)
			}
			if cur.Checksum == nil {
				cur.Checksum = &man.Checksum
			}
			if cur.OSHashAlgo == nil || cur.OSHashValue == nil {
				cur.OSHashAlgo, cur.OSHashValue = &man.OSHashAlgo, &man.OSHashValue
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("commit the pull of image %s: %w", id, err)
		}
		if len(p.man.Chunks) > 0 {
			im.cluster.AnnounceAll(id, len(p.man.Chunks))
		}
		log.Info("image pulled from its location", "url", urlfilter.Redact(loc.URL), "bytes", p.man.Size)
		return out, nil
	}
	// No location could be read (or none held the right data): the
	// image's data is unavailable for now, not a server fault.
	return nil, fmt.Errorf("pull image %s: %w: %w", id, catalog.ErrUnavailable, errors.Join(errs...))
}

// pulled is the data of one location, stored and checked.
type pulled struct {
	man       *catalog.Manifest
	placement []string
	vsize     int64 // from the format inspector; 0: unknown
}

// pullOne reads one location through the chunk pipeline and checks the
// data against what the catalog records for img.
func (im *Importer) pullOne(ctx context.Context, img *catalog.Image, rawURL string) (*pulled, error) {
	url := urlfilter.Redact(rawURL) // for messages
	resp, err := im.get(ctx, rawURL, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := im.cfg.MaxImageSize
	if img.Size != nil {
		limit = *img.Size
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("location %s has %d bytes, image %d: %w", url, resp.ContentLength, limit, errOriginMismatch)
	}
	var extra hash.Hash
	if img.OSHashAlgo != nil && *img.OSHashAlgo != "sha512" {
		extra = catalog.NewHash(*img.OSHashAlgo)
	}
	var body io.Reader = &capReader{r: resp.Body, left: limit}
	if extra != nil {
		body = io.TeeReader(body, extra)
	}
	body, insp := imagecheck.Watch(body)
	man, placement, err := im.data.Ingest(ctx, img.ID, body)
	if errors.Is(err, errOverCap) {
		return nil, fmt.Errorf("location %s: more than %d bytes: %w", url, limit, errOriginMismatch)
	}
	if err != nil {
		return nil, fmt.Errorf("read location %s: %w", url, err)
	}
	switch {
	case img.Size != nil && man.Size != *img.Size:
		err = fmt.Errorf("location %s: %d bytes, image size %d: %w", url, man.Size, *img.Size, errOriginMismatch)
	case img.Checksum != nil && *img.Checksum != man.Checksum:
		err = fmt.Errorf("location %s: checksum %s, image %s: %w", url, man.Checksum, *img.Checksum, errOriginMismatch)
	case img.OSHashValue != nil && extra == nil && *img.OSHashValue != man.OSHashValue:
		err = fmt.Errorf("location %s: sha512 %s, image %s: %w", url, man.OSHashValue, *img.OSHashValue, errOriginMismatch)
	case img.OSHashValue != nil && extra != nil && *img.OSHashValue != hex.EncodeToString(extra.Sum(nil)):
		err = fmt.Errorf("location %s: %s does not match the image's os_hash_value: %w", url, *img.OSHashAlgo, errOriginMismatch)
	}
	if err != nil {
		return nil, err
	}
	// Glance does not inspect location data; this cluster serves what it
	// pulls, so it holds it to the rules an upload meets.
	vsize, err := imagecheck.Check(img, insp)
	if err != nil {
		return nil, fmt.Errorf("location %s: %w: %w", url, err, errOriginMismatch)
	}
	return &pulled{man: man, placement: placement, vsize: vsize}, nil
}
