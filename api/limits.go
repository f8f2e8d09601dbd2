package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/p2pglance/p2pglance/catalog"
)

// Request limits of the API beyond Glance's own quotas. They are
// documented in the README ("Limits"); the header size cap and the
// connection timeouts live on the node's http.Server.
const (
	// DefaultMaxConcurrentRequests is the default bound on the requests
	// a node serves at once (Config.MaxConcurrentRequests).
	DefaultMaxConcurrentRequests = 1024
	// DefaultTransferIdleTimeout is the default time a request body read
	// or a response write may make no progress (Config.TransferIdleTimeout).
	DefaultTransferIdleTimeout = 60 * time.Second
	// maxJSONBody caps JSON request bodies (413 above it).
	maxJSONBody = 1 << 20
	// maxURILength caps the request target, path and query, in bytes
	// (414 above it).
	maxURILength = 16 << 10
	// maxQueryParams caps the number of query parameters (400 above it).
	maxQueryParams = 256
	// retryAfterBusy is the Retry-After, in seconds, of a 503 sent when
	// every request slot is taken.
	retryAfterBusy = 1
)

// errDecoding is Glance's 400 for a URL or body that is not UTF-8.
const errDecoding = "Error decoding your request. Either the URL or the request " +
	"body contained characters that could not be decoded by Glance"

// limiter bounds the requests in flight; nil means unlimited.
type limiter chan struct{}

func newLimiter(n int) limiter {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = DefaultMaxConcurrentRequests
	}
	return make(limiter, n)
}

// acquire takes a slot without waiting; false when all are taken.
func (l limiter) acquire() bool {
	if l == nil {
		return true
	}
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l limiter) release() {
	if l != nil {
		<-l
	}
}

// admit applies the limits checked before authentication: URI length,
// query syntax and size, and the concurrency bound. When it returns nil
// the caller must call s.slots.release once the request is done.
func (s *Server) admit(r *http.Request) error {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.RequestURI()
	}
	if len(uri) > maxURILength {
		return &Error{Status: http.StatusRequestURITooLong, Detail: fmt.Sprintf("The request URI is longer than %d bytes.", maxURILength)}
	}
	if q := r.URL.RawQuery; q != "" {
		if n := strings.Count(q, "&") + 1; n > maxQueryParams {
			return badRequest("Too many query parameters (%d); at most %d are accepted.", n, maxQueryParams)
		}
		if _, err := url.ParseQuery(q); err != nil {
			return badRequest("Invalid query string: %s.", queryErrText(err))
		}
	}
	if !s.slots.acquire() {
		return &Error{
			Status:      http.StatusServiceUnavailable,
			Explanation: fmt.Sprintf("This node is serving its maximum of %d concurrent requests; retry later.", cap(s.slots)),
			Header:      http.Header{"Retry-After": []string{strconv.Itoa(retryAfterBusy)}},
		}
	}
	return nil
}

// queryErrText describes a query string parse error without echoing the
// raw (possibly non-UTF-8) input.
func queryErrText(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "bad percent-encoding"
	}
	return err.Error()
}

// checkURLEncoding is Glance's 400 for a path or query that is not UTF-8
// once percent-decoded.
func checkURLEncoding(r *http.Request) error {
	bad := &Error{Status: http.StatusBadRequest, Explanation: errDecoding}
	if !utf8.ValidString(r.URL.Path) {
		return bad
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // admit refused a bad one
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return bad
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return bad
			}
		}
	}
	return nil
}

// idleBody is a request body whose every Read must receive bytes within
// d: a stalled client (slowloris) fails with ErrBodyTimeout instead of
// holding its request slot forever, while a slow but steady multi-GB
// upload is never cut. The deadline is lifted once the body has ended;
// after a failure it stays, so that the server's own reads of what is
// left of the body fail too instead of waiting for the client.
type idleBody struct {
	io.ReadCloser
	ctl *http.ResponseController
	d   time.Duration
	eof bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.eof {
		return b.ReadCloser.Read(p)
	}
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.eof = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("read request body: %w: %w", catalog.ErrBodyTimeout, err)
	}
	return n, err
}

// idleWriter is the ResponseWriter counterpart of idleBody: each Write
// must be accepted by the client within d (a download to a client that
// stopped reading ends instead of holding its slot).
type idleWriter struct {
	http.ResponseWriter
	ctl *http.ResponseController
	d   time.Duration
}

func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *idleWriter) Flush() { _ = w.ctl.Flush() }

// idleTransfer wraps the request's body and response writer with the
// transfer idle timeout. done, called when the handler returns, lifts the
// write deadline (a kept-alive connection must not inherit it) and bounds
// the server's discarding of a body the handler left unread.
func (s *Server) idleTransfer(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	d := s.cfg.TransferIdleTimeout
	if d < 0 {
		return w, r, func() {}
	}
	ctl := http.NewResponseController(w)
	var body *idleBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &idleBody{ReadCloser: r.Body, ctl: ctl, d: d}
		r.Body = body
	}
	iw := &idleWriter{ResponseWriter: w, ctl: ctl, d: d}
	return iw, r, func() {
		_ = ctl.SetWriteDeadline(time.Time{})
		if body != nil && !body.eof {
			_ = ctl.SetReadDeadline(time.Now().Add(d))
		}
	}
}
