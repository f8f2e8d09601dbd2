package peer

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of the protocol. A Server returns (wraps) them to choose the
// answer; the Client returns errors that match them (errors.Is) for the
// same answers.
var (
	// ErrBadRequest is a malformed request: 400.
	ErrBadRequest = errors.New("bad peer request")
	// ErrMismatch is a pushed chunk whose bytes do not match its
	// digest: 400.
	ErrMismatch = errors.New("digest mismatch")
	// ErrNotFound is a chunk the node does not hold: 404.
	ErrNotFound = errors.New("chunk not held")
	// ErrUnavailable is a request the node cannot serve now (no leader,
	// outcome unknown, copy failed): 503.
	ErrUnavailable = errors.New("peer unavailable")
	// ErrNoSpace is a pushed chunk the node has no disk space for: 507.
	ErrNoSpace = errors.New("no space for the chunk")
	// ErrBusy is matched by every BusyError.
	ErrBusy = errors.New("peer at its upload limit")
)

// BusyError refuses a chunk GET with 503: the node is at its upload
// limit, or (Origin) it is a durable holder that served the chunk
// already. Try names up to MaxTry nodes holding copies, to ask next.
type BusyError struct {
	Origin bool
	Try    []string
}

func (e *BusyError) Error() string {
	if e.Origin {
		return "durable holder served the chunk already; cached copies at " + joinTry(e.Try)
	}
	if len(e.Try) == 0 {
		return ErrBusy.Error()
	}
	return ErrBusy.Error() + "; copies at " + joinTry(e.Try)
}

// Unwrap makes a BusyError match ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

// StatusError is an answer other than the one a call expects.
type StatusError struct {
	Addr, Path string // the node asked and the route
	Code       int    // the HTTP status
	Msg        string // the start of the answer's body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("call %s%s: status %d: %s", e.Addr, e.Path, e.Code, e.Msg)
}

// Is matches the protocol error the status stands for (see statusOf).
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Code == http.StatusBadRequest
	case ErrMismatch:
		return e.Code == http.StatusBadRequest && e.Msg == ErrMismatch.Error()
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrUnavailable:
		return e.Code == http.StatusServiceUnavailable
	case ErrNoSpace:
		return e.Code == http.StatusInsufficientStorage
	}
	return false
}

// statusOf maps a Server's error to the answer's status and body text;
// an error the table does not name is answered with fallback (the
// route's: 503 where the sender should try again later or elsewhere,
// else 500).
func statusOf(err error, fallback int) (int, string) {
	switch {
	case errors.Is(err, ErrMismatch):
		return http.StatusBadRequest, ErrMismatch.Error()
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, ErrNotFound.Error()
	case errors.Is(err, ErrNoSpace):
		return http.StatusInsufficientStorage, err.Error()
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, err.Error()
	}
	return fallback, err.Error()
}
