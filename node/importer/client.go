package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

// Every request to an origin or a remote Glance (web-download,
// glance-download, location imports and pulls) goes through the client
// built here: it connects only where the import filter lets it
// (urlfilter), re-checks every redirect, drops the caller's credentials
// when a redirect leaves the origin, gives up on a server that sends
// nothing for IdleTimeout, and turns every failure of the remote side
// into errRemote, whose task message says nothing about the remote
// (no status code, no connection error: no port scanning through
// failed tasks).

var (
	// errRemote means the data could not be read from its source: the
	// URL or an address it leads to does not pass the filter, the
	// connection failed, the server answered an error or stopped
	// sending. The details go to the log, never to the task.
	errRemote = errors.New("the image data could not be read from its source")
	// errIdle means the remote sent no byte for IdleTimeout.
	errIdle = errors.New("the remote server sent nothing for too long")
)

// keptAcrossOrigins are the request headers a redirect to another
// origin keeps; the rest (X-Auth-Token and the identity headers a
// glance-download forwards) stay with the origin they were meant for.
var keptAcrossOrigins = map[string]bool{"Accept": true, "User-Agent": true}

// newClient builds the importer's HTTP client over filter.
func newClient(filter *urlfilter.Policy) *http.Client {
	c := &http.Client{Transport: filter.Transport()}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := filter.CheckRedirect(req, via); err != nil {
			return err
		}
		for _, r := range append(via[1:], req) {
			if !sameOrigin(r.URL, via[0].URL) {
				for k := range req.Header {
					if !keptAcrossOrigins[http.CanonicalHeaderKey(k)] {
						delete(req.Header, k)
					}
				}
				break
			}
		}
		return nil
	}
	return c
}

// sameOrigin reports whether a and b have the same scheme, host and
// port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// get sends a GET for an import and fails unless the answer is 200.
func (im *Importer) get(ctx context.Context, rawURL string, hdr http.Header) (*http.Response, error) {
	resp, err := im.send(ctx, http.MethodGet, rawURL, hdr)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: %w: the server answered %s", urlfilter.Redact(rawURL), errRemote, resp.Status)
	}
	return resp, nil
}

// send sends one request to a remote after checking its URL with the
// filter. The answer's body fails a read that waits more than
// IdleTimeout, and every error, the body's included, wraps errRemote.
func (im *Importer) send(ctx context.Context, method, rawURL string, hdr http.Header) (*http.Response, error) {
	safe := urlfilter.Redact(rawURL)
	if err := im.filter.CheckURI(rawURL); err != nil {
		return nil, fmt.Errorf("fetch %s: %w: %w", safe, errRemote, err)
	}
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, method, rawURL, nil)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("fetch %s: %w: %w", safe, errRemote, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	var timer *time.Timer
	if im.cfg.IdleTimeout > 0 {
		timer = time.AfterFunc(im.cfg.IdleTimeout, func() { cancel(errIdle) })
	}
	resp, err := im.client.Do(req)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		cancel(nil)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, user information included
		}
		if errors.Is(context.Cause(rctx), errIdle) {
			err = errIdle
		}
		return nil, fmt.Errorf("fetch %s: %w: %w", safe, errRemote, err)
	}
	resp.Body = &remoteBody{body: resp.Body, ctx: rctx, cancel: cancel, timer: timer, idle: im.cfg.IdleTimeout, count: &im.originBytes}
	return resp, nil
}

// remoteBody is the body of a remote's answer: a read that waits longer
// than idle for a byte ends the request (errIdle), and a read error
// wraps errRemote.
type remoteBody struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil: no idle timeout
	idle   time.Duration
	count  *atomic.Int64 // bytes read (Importer.OriginBytes)
}

func (b *remoteBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	n, err := b.body.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	b.count.Add(int64(n))
	if err == nil || err == io.EOF {
		return n, err
	}
	if errors.Is(context.Cause(b.ctx), errIdle) {
		err = errIdle
	}
	return n, fmt.Errorf("%w: %w", errRemote, err)
}

func (b *remoteBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.body.Close()
	b.cancel(nil)
	return err
}
