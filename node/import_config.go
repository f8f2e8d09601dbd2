package node

import (
	"fmt"
	"net/url"
	"strings"
)

// validateImport reports errors in the import and quota settings.
func (c *Config) validateImport() []error {
	var errs []error
	for name, v := range map[string]int64{"image count": c.QuotaImageCount, "image size": c.QuotaImageSizeTotal, "stage": c.QuotaStageTotal} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s quota must not be negative, got %d", name, v))
		}
	}
	for region, ep := range c.GlanceDownloadEndpoints {
		if u, err := url.Parse(ep); region == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("glance-download endpoint %q=%q: want REGION=http(s)://host[:port]", region, ep))
		}
	}
	return errs
}

// ParseGlanceEndpoints parses the agent's --glance-download-endpoints
// value, "RegionOne=http://glance1:9292,RegionTwo=https://glance2", into
// Config.GlanceDownloadEndpoints.
func ParseGlanceEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		region, ep, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(region) == "" || strings.TrimSpace(ep) == "" {
			return nil, fmt.Errorf("glance-download endpoint %q: want REGION=URL", item)
		}
		out[strings.TrimSpace(region)] = strings.TrimSpace(ep)
	}
	return out, nil
}
