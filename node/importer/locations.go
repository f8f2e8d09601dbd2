package importer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"

	"github.com/p2pglance/p2pglance/catalog"
	"github.com/p2pglance/p2pglance/node/imagecheck"
	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// Location imports: a queued image gets an http(s) location and a
// location_import task runs under the import machinery (the image's
// import lock, status importing while it runs, recovery of tasks whose
// node died). By default the task only checks that the origin answers
// (HEAD, for the size, as Glance's http store does) and makes the image
// active with the location, size and validation hashes recorded; the
// bytes are pulled on the first download (pull.go). With
// Config.EagerLocations the task reads the origin at once through the
// chunk pipeline and checks the validation data, as a web-download does.

// methodLocationImport names location imports in a task's Method.
const methodLocationImport = "location-import"

// errValidation means a location's data does not match its validation
// data.
var errValidation = errors.New("the data does not match the validation data")

// StartLocationImport records the task, locks the image (status
// importing, with a PATCH's other changes when the job carries them) and
// runs the location import in the background on this node.
func (im *Importer) StartLocationImport(ctx context.Context, job *catalog.LocationJob) error {
	return im.startTask(ctx, job.Task, methodLocationImport, job.ImageID, job.ImageRevision, func(cur *catalog.Image) *catalog.Image {
		base := cur
		if job.Image != nil {
			base = job.Image
		}
		locked := base.Clone()
		locked.Locations = cur.Locations
		if locked.Properties == nil {
			locked.Properties = map[string]string{}
		}
		locked.Properties[catalog.PropImportTask] = job.Task.ID
		locked.Status = catalog.StatusImporting
		return locked
	}, func(ctx context.Context) { im.runLocationImport(ctx, job) })
}

// runLocationImport does one location import and records its outcome on
// the task and the image (back to queued on failure).
func (im *Importer) runLocationImport(ctx context.Context, job *catalog.LocationJob) {
	im.runTask(ctx, job.Task.ID, job.ImageID, methodLocationImport, func(ctx context.Context) error {
		if im.cfg.EagerLocations {
			return im.doLocationImport(ctx, job)
		}
		return im.activateLocation(ctx, job)
	})
}

// doLocationImport reads the location into the cluster, verifies it and
// commits the image as active.
func (im *Importer) doLocationImport(ctx context.Context, job *catalog.LocationJob) error {
	img, err := im.lockedImage(job.ImageID, job.Task.ID)
	if err != nil {
		return err
	}
	defer im.data.Unprotect(job.ImageID)
	safe := urlfilter.Redact(job.URL)
	resp, err := im.get(ctx, job.URL, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength > job.MaxSize {
		return fmt.Errorf("location %s: %d bytes: %w", safe, resp.ContentLength, errOverCap)
	}
	vd := job.Validation
	var extra hash.Hash // the validation algorithm, when the pipeline does not compute it
	if vd.OSHashAlgo != "" && vd.OSHashAlgo != "md5" && vd.OSHashAlgo != "sha512" {
		extra = catalog.NewHash(vd.OSHashAlgo)
	}
	var body io.Reader = &capReader{r: resp.Body, left: job.MaxSize}
	if extra != nil {
		body = io.TeeReader(body, extra)
	}
	body, insp := imagecheck.Watch(body)
	man, placement, err := im.data.Ingest(ctx, job.ImageID, body)
	if err != nil {
		return fmt.Errorf("read location %s: %w", safe, err)
	}
	if resp.ContentLength >= 0 && man.Size != resp.ContentLength {
		return fmt.Errorf("read location %s: %w: got %d of %d bytes", safe, errRemote, man.Size, resp.ContentLength)
	}
	algo, value := man.OSHashAlgo, man.OSHashValue
	switch vd.OSHashAlgo {
	case "":
	case "md5":
		algo, value = "md5", man.Checksum
	case man.OSHashAlgo:
	default:
		algo, value = vd.OSHashAlgo, hex.EncodeToString(extra.Sum(nil))
	}
	if vd.OSHashAlgo != "" && vd.OSHashValue != value {
		return fmt.Errorf("os_hash_value: (%s) not matched with actual os_hash_value: (%s): %w", vd.OSHashValue, value, errValidation)
	}
	if vd.Checksum != "" && vd.Checksum != man.Checksum {
		return fmt.Errorf("checksum: (%s) not matched with actual checksum: (%s): %w", vd.Checksum, man.Checksum, errValidation)
	}
	vsize, err := imagecheck.Check(img, insp)
	if err != nil {
		return err
	}
	return im.commitLocation(ctx, job, func(cur *catalog.Image) {
		cur.Manifest, cur.Placement = man, placement
		cur.ShortPlacement = len(placement) < im.cfg.Replicas
		cur.Size = &man.Size
		imagecheck.SetVirtualSize(cur, vsize)
		cur.Checksum = &man.Checksum
		cur.OSHashAlgo, cur.OSHashValue = &algo, &value
	})
}

// commitLocation makes the image a location import locked active with
// the job's locations, after set has filled in its data attributes.
func (im *Importer) commitLocation(ctx context.Context, job *catalog.LocationJob, set func(cur *catalog.Image)) error {
	_, err := im.cat.MutateImage(ctx, job.ImageID, func(cur *catalog.Image) error {
		if cur.Properties[catalog.PropImportTask] != job.Task.ID || cur.Status != catalog.StatusImporting {
			return fmt.Errorf("image %s is %s and no longer locked by this location import", job.ImageID, cur.Status)
		}
		cur.Status = catalog.StatusActive
		set(cur)
		cur.Locations = job.Locations
		delete(cur.Properties, catalog.PropImportTask)
		cur.UpdatedAt = time.Now().UTC()
		return nil
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("image %s was deleted during the location import", job.ImageID)
	}
	return err
}

// activateLocation makes a locked image active on its location without
// reading the data: the origin must answer a HEAD (its Content-Length,
// when given, becomes the image's size and must fit the size cap), and
// the validation data become the image's hashes, checked when the data
// is pulled.
func (im *Importer) activateLocation(ctx context.Context, job *catalog.LocationJob) error {
	if _, err := im.lockedImage(job.ImageID, job.Task.ID); err != nil {
		return err
	}
	size, err := im.locationSize(ctx, job.URL)
	if err != nil {
		return err
	}
	if size > job.MaxSize {
		return fmt.Errorf("location %s: %d bytes: %w", urlfilter.Redact(job.URL), size, errOverCap)
	}
	vd := job.Validation
	return im.commitLocation(ctx, job, func(cur *catalog.Image) {
		cur.Manifest, cur.Placement, cur.Upload, cur.Stores = nil, nil, nil, nil
		cur.Size, cur.VirtualSize = nil, nil
		if size >= 0 {
			s := size
			cur.Size = &s
			if isRawBare(cur) {
				vs := size
				cur.VirtualSize = &vs
			}
		}
		cur.Checksum, cur.OSHashAlgo, cur.OSHashValue = nil, nil, nil
		if vd.Checksum != "" {
			c := vd.Checksum
			cur.Checksum = &c
		}
		if vd.OSHashAlgo != "" {
			a, v := vd.OSHashAlgo, vd.OSHashValue
			cur.OSHashAlgo, cur.OSHashValue = &a, &v
		}
	})
}

// isRawBare reports a raw disk in a bare container: the one case whose
// virtual size (its byte count) is known without reading the data.
func isRawBare(img *catalog.Image) bool {
	return img.DiskFormat != nil && *img.DiskFormat == "raw" && img.ContainerFormat != nil && *img.ContainerFormat == "bare"
}

// locationSize asks an origin for its size with a HEAD: -1 when it does
// not say (or does not take HEAD), an error when it is unreachable or
// answers anything but success.
func (im *Importer) locationSize(ctx context.Context, url string) (int64, error) {
	resp, err := im.send(ctx, http.MethodHead, url, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		return -1, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return 0, fmt.Errorf("location %s: %w: the server answered %s", urlfilter.Redact(url), errRemote, resp.Status)
	}
	return resp.ContentLength, nil
}
