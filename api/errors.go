package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/p2pglance/p2pglance/api/webob"
)

// Error is an HTTP error rendered the way Glance (WebOb) renders it.
//
// Glance raises webob.exc.HTTP* exceptions; WebOb turns them into an HTML,
// JSON or plain-text body depending on the request's Accept header (see
// writeError and package webob). Explanation and Detail are plain text:
// they are HTML-escaped for the HTML body and stripped of tags for the
// plain-text body, exactly as WebOb does.
type Error struct {
	// Status is the HTTP status code, e.g. 404.
	Status int
	// Explanation is the main message, e.g. "No image found with ID x".
	// When empty, WebOb's default explanation for Status is used.
	Explanation string
	// Detail is optional extra text, rendered after the explanation.
	Detail string
	// Header holds extra response headers, e.g. Allow or Accept-Patch.
	Header http.Header
	// Err is an optional cause, for errors.Is/As and logging. It is never
	// rendered into the response body.
	Err error

	// template, when non-empty, replaces WebOb's body template for Status,
	// like the body_template= argument of a WebOb exception (Glance's
	// DELETE /v2/tasks/{id} uses "${explanation}"); see
	// webob.Exception.Template.
	template string
}

// NewError returns an error with the given status and explanation (empty
// means WebOb's default explanation for the status).
func NewError(status int, explanation string) *Error {
	return &Error{Status: status, Explanation: explanation}
}

// Errorf returns an error with the given status whose explanation is
// formatted with fmt.Sprintf. Use %v for error values (their text becomes
// the explanation; wrap them in Err to keep them for errors.Is).
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Explanation: fmt.Sprintf(format, args...)}
}

// Error returns "<code> <title>: <detail or explanation>", plus the cause
// when there is one.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Explanation
	}
	if msg == "" {
		msg = webob.DefaultExplanation(e.Status)
	}
	s := webob.StatusLine(e.Status) + ": " + msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// writeError writes e as WebOb would: e.Header first, then the body
// webob.Render makes for the request (HTML, JSON or plain text from its
// Accept header; none for HEAD) with its Content-Type and Content-Length.
// A status outside 100..999 is answered as a 500; a nil e is written as a
// 500.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	if e == nil {
		e = NewError(http.StatusInternalServerError, "")
	}
	if e.Status < 100 || e.Status > 999 {
		e = &Error{Status: http.StatusInternalServerError, Header: e.Header, Err: e}
	}
	h := w.Header()
	for k, vs := range e.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	ctype, body := webob.Render(r, webob.Exception{
		Status: e.Status, Explanation: e.Explanation, Detail: e.Detail, Header: e.Header, Template: e.template,
	})
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	if len(body) > 0 {
		_, _ = w.Write(body)
	}
}
