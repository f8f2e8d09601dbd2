package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/imageformat"
	"github.com/p2pglance/p2pglance/node/imagecheck"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// errOverCap means a download brought more bytes than its cap.
var errOverCap = fmt.Errorf("image data over the size limit: %w", catalog.ErrTooLarge)

// capReader passes at most left bytes of r and fails with errOverCap if r
// has more.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		k, err := c.r.Read(probe[:])
		if k > 0 {
			return 0, errOverCap
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	k, err := c.r.Read(p)
	c.left -= int64(k)
	return k, err
}

// fetchInto streams url (GET, with hdr) through the chunk pipeline for an
// import: chunks stored here and replicated R times, at most job.MaxSize
// bytes. It returns the manifest and placement, not yet committed, and
// the format inspector that watched the data.
func (im *Importer) fetchInto(ctx context.Context, job *catalog.ImportJob, url string, hdr http.Header) (*catalog.Manifest, []string, *imageformat.Inspector, error) {
	safe := urlfilter.Redact(url)
	resp, err := im.get(ctx, url, hdr)
	if err != nil {
		return nil, nil, nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > job.MaxSize {
		return nil, nil, nil, fmt.Errorf("fetch %s: %d bytes: %w", safe, resp.ContentLength, errOverCap)
	}
	body, insp := imagecheck.Watch(&capReader{r: resp.Body, left: job.MaxSize})
	man, placement, err := im.data.Ingest(ctx, job.ImageID, body)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetch %s: %w", safe, err)
	}
	if resp.ContentLength >= 0 && man.Size != resp.ContentLength {
		return nil, nil, nil, fmt.Errorf("fetch %s: %w: got %d of %d bytes", safe, errRemote, man.Size, resp.ContentLength)
	}
	return man, placement, insp, nil
}

// remoteBaseKeys are the image attributes glance-download does not copy
// as custom properties.
var remoteBaseKeys = map[string]bool{
	"id": true, "name": true, "status": true, "visibility": true, "protected": true, "os_hidden": true,
	"checksum": true, "os_hash_algo": true, "os_hash_value": true, "owner": true, "size": true,
	"virtual_size": true, "min_ram": true, "min_disk": true, "disk_format": true, "container_format": true,
	"created_at": true, "updated_at": true, "tags": true, "self": true, "file": true, "schema": true,
	"locations": true, "direct_url": true, "stores": true,
}

// maxCopiedProperties keeps an image within Glance's image_property_quota.
const maxCopiedProperties = 128

// glanceDownload runs glance-download: the image's record and data are
// read from the Glance of job.Region with the caller's credentials, the
// data checked against the remote hashes. It returns the data (not yet
// committed), the format inspector that watched it, and the metadata to
// copy onto the image at commit.
func (im *Importer) glanceDownload(ctx context.Context, job *catalog.ImportJob) (*catalog.Manifest, []string, *imageformat.Inspector, func(*catalog.Image), error) {
	ep, ok := im.cfg.GlanceDownloadEndpoints[job.Region]
	if !ok {
		return nil, nil, nil, nil, fmt.Errorf("no Glance endpoint is configured for region %q", job.Region)
	}
	base := strings.TrimSuffix(strings.TrimRight(ep, "/"), "/v2")
	imageURL := base + "/v2/images/" + job.RemoteImageID
	hdr := job.Forward.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Accept", "application/json")
	resp, err := im.get(ctx, imageURL, hdr)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("image %s in region %s: %w", job.RemoteImageID, job.Region, err)
	}
	var remote map[string]any
	err = json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&remote)
	resp.Body.Close()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("decode image %s of region %s: %w: %w", job.RemoteImageID, job.Region, errRemote, err)
	}
	if st, _ := remote["status"].(string); st != catalog.StatusActive {
		return nil, nil, nil, nil, fmt.Errorf("image %s in region %s is %q, not active", job.RemoteImageID, job.Region, st)
	}
	hdr.Del("Accept")
	man, placement, insp, err := im.fetchInto(ctx, job, imageURL+"/file", hdr)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	algo, _ := remote["os_hash_algo"].(string)
	value, _ := remote["os_hash_value"].(string)
	sum, _ := remote["checksum"].(string)
	switch {
	case algo == man.OSHashAlgo && value != "" && value != man.OSHashValue:
		return nil, nil, nil, nil, errors.New("the data does not match the remote image's os_hash_value")
	case sum != "" && sum != man.Checksum:
		return nil, nil, nil, nil, errors.New("the data does not match the remote image's checksum")
	}
	prefixes := im.cfg.GlanceDownloadProperties
	if prefixes == nil {
		prefixes = DefaultGlanceDownloadProperties
	}
	return man, placement, insp, func(img *catalog.Image) { copyRemoteMetadata(img, remote, prefixes) }, nil
}

// DefaultGlanceDownloadProperties are Glance's default
// [glance_download_properties] extra_properties.
var DefaultGlanceDownloadProperties = []string{"hw_", "trait:", "os_distro", "os_secure_boot", "os_type"}

// copyRemoteMetadata sets, as Glance's glance-download does, the formats
// of a remote Glance image on img, and its custom properties whose names
// start with one of prefixes (never os_glance*).
func copyRemoteMetadata(img *catalog.Image, remote map[string]any, prefixes []string) {
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	for k, v := range remote {
		switch k {
		case "disk_format", "container_format":
			if s, ok := v.(string); ok {
				if k == "disk_format" {
					img.DiskFormat = &s
				} else {
					img.ContainerFormat = &s
				}
			}
		default:
			s, ok := v.(string)
			if !ok || remoteBaseKeys[k] || strings.HasPrefix(k, "os_glance") ||
				!slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
				continue
			}
			if _, exists := img.Properties[k]; exists || len(img.Properties) < maxCopiedProperties {
				img.Properties[k] = s
			}
		}
	}
}
