package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/p2pglance/p2pglance/catalog"
)

// quotaKind names the size quota a data stream counts against.
type quotaKind int

const (
	quotaImageSize quotaKind = iota // image_size_total: uploaded and imported data
	quotaStage                      // image_stage_total: staged data
)

const mib = 1 << 20

// overLimit is the 413 of a quota, worded as oslo.limit's
// ProjectOverLimit (sizes in MiB, as Glance counts them).
func overLimit(project, resource string, item catalog.UsageItem, delta int64, size bool) error {
	usage, limit := item.Usage, item.Limit
	if size {
		usage, limit, delta = usage/mib, ceilMiB(limit), ceilMiB(delta)
	}
	if project == "" {
		project = "None"
	}
	return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: fmt.Sprintf(
		"Project %s is over a limit for [Resource %s is over limit of %d due to current usage %d and delta %d]",
		project, resource, limit, usage, delta)}
}

func ceilMiB(b int64) int64 { return (b + mib - 1) / mib }

// quotas checks the caller's project quotas (Glance's unified limits:
// image_size_total, image_stage_total, image_count_total) and caps the
// data a request may bring at the image size cap. Image create, upload,
// stage, import, location imports and the tasks API share one.
type quotas struct {
	backend      Backend
	maxImageSize int64 // Config.MaxImageSize
}

// usageIf returns the caller's project and its usage when limited(quotas)
// holds, or a nil usage (and counts nothing) when that quota is off.
func (qs *quotas) usageIf(ctx context.Context, limited func(catalog.Usage) bool) (*catalog.Usage, string, error) {
	project := authFrom(ctx).Project
	if !limited(qs.backend.Quotas()) {
		return nil, project, nil
	}
	u, err := qs.backend.Usage(ctx, project)
	return u, project, err
}

// dataLimit checks the caller's project quota before image data is
// received (upload or stage) and returns the cap for the stream: the
// image size cap, and what is left of the quota, so that a stream without
// a size is stopped (413) once it goes over.
func (qs *quotas) dataLimit(ctx context.Context, kind quotaKind, sizeHint int64) (int64, error) {
	if sizeHint > qs.maxImageSize {
		return 0, fmt.Errorf("data of %d bytes: %w", sizeHint, catalog.ErrTooLarge)
	}
	u, project, err := qs.usageIf(ctx, func(q catalog.Usage) bool {
		if kind == quotaStage {
			return q.ImageStageTotal.Limit > 0
		}
		return q.ImageSizeTotal.Limit > 0
	})
	if err != nil || u == nil {
		return qs.maxImageSize, err
	}
	item, name := u.ImageSizeTotal, "image_size_total"
	if kind == quotaStage {
		item, name = u.ImageStageTotal, "image_stage_total"
	}
	delta := max(sizeHint, 0)
	if item.Usage >= item.Limit || item.Usage+delta > item.Limit {
		return 0, overLimit(project, name, item, delta, true)
	}
	return min(qs.maxImageSize, item.Limit-item.Usage), nil
}

// importLimit checks image_size_total before an import that brings data
// in (staged bytes for glance-direct, unknown for downloads) and returns
// the cap for what a download may bring.
func (qs *quotas) importLimit(ctx context.Context, staged int64) (int64, error) {
	u, project, err := qs.usageIf(ctx, func(q catalog.Usage) bool { return q.ImageSizeTotal.Limit > 0 })
	if err != nil || u == nil {
		return qs.maxImageSize, err
	}
	item := u.ImageSizeTotal
	if item.Usage >= item.Limit || item.Usage+staged > item.Limit {
		return 0, overLimit(project, "image_size_total", item, staged, true)
	}
	return min(qs.maxImageSize, item.Limit-item.Usage), nil
}

// checkImageCount refuses a new image once the caller's project holds
// image_count_total images.
func (qs *quotas) checkImageCount(ctx context.Context) error {
	u, project, err := qs.usageIf(ctx, func(q catalog.Usage) bool { return q.ImageCountTotal.Limit > 0 })
	if err != nil || u == nil {
		return err
	}
	if item := u.ImageCountTotal; item.Usage+1 > item.Limit {
		return overLimit(project, "image_count_total", item, 1, false)
	}
	return nil
}
