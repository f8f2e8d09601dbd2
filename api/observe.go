package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// RequestObserver is told of every API request the route table serves:
// when it starts and how it ended. The node's metrics implement it.
type RequestObserver interface {
	// RequestStarted is called when a request is routed; route is its
	// path template ("/v2/images/{id}/file"), or RouteUnmatched.
	RequestStarted(route, method string)
	// RequestDone is called once the handler has returned, with the
	// status answered, the body bytes written and the time taken.
	RequestDone(route, method string, status int, written int64, took time.Duration)
}

// Route templates an observer may single out.
const (
	// RouteUnmatched is the route of a request no route matched.
	RouteUnmatched = "unmatched"
	// RouteImageFile is an image's data: upload (PUT), download (GET).
	RouteImageFile = "/v2/images/{id}/file"
	// RouteImageStage is an image's staging upload (PUT).
	RouteImageStage = "/v2/images/{id}/stage"
)

// recorder remembers the status and body size of an answer.
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// observe starts watching a request on route: it returns the writer the
// request must answer through and the function that logs the request
// (one line, at info: Glance's access log) and tells the observer.
func (s *Server) observe(w http.ResponseWriter, r *http.Request, route string) (http.ResponseWriter, func(context.Context)) {
	start := time.Now()
	if s.cfg.Observer != nil {
		s.cfg.Observer.RequestStarted(route, r.Method)
	}
	rec := &recorder{ResponseWriter: w}
	return rec, func(ctx context.Context) {
		took := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if s.log.Enabled(ctx, slog.LevelInfo) {
			s.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("remote", r.RemoteAddr),
				slog.String("method", r.Method), slog.String("path", r.URL.RequestURI()),
				slog.Int("status", status), slog.Int64("bytes", rec.written),
				slog.Float64("seconds", took.Seconds()))
		}
		if s.cfg.Observer != nil {
			s.cfg.Observer.RequestDone(route, r.Method, status, rec.written, took)
		}
	}
}
