package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/p2pglance/p2pglance/api/schema"
)

// Error is an HTTP error rendered the way Glance (WebOb) renders it.
//
// Glance raises webob.exc.HTTP* exceptions; WebOb turns them into an HTML,
// JSON or plain-text body depending on the request's Accept header (see
// writeError). Explanation and Detail are plain text: they are HTML-escaped
// for the HTML body and stripped of tags for the plain-text body, exactly as
// WebOb does.
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
	// DELETE /v2/tasks/{id} uses "${explanation}"). The template may use
	// ${explanation}, ${detail}, the request's WSGI environ names
	// (${REQUEST_METHOD}, ${CONTENT_TYPE}, ${HTTP_ACCEPT}, ...) and the
	// lower-cased names of the response headers (${allow}).
	template string
}

// webobStatus is a WebOb exception class's title and default explanation.
type webobStatus struct {
	title       string
	explanation string
}

// WebOb's default explanations shared by several classes. The source
// (webob/exc.py) writes some of them over several CRLF-terminated lines with
// double spaces, but at import time WebOb rewrites every class's explanation
// with " ".join(explanation.strip().split()), so the rendered text is a
// single line with single spaces; the strings here are the normalised ones.
const (
	webobExplain400 = "The server could not comply with the request since " +
		"it is either malformed or otherwise incorrect."
	webobExplain401 = "This server could not verify that you are authorized to " +
		"access the document you requested. Either you supplied the " +
		"wrong credentials (e.g., bad password), or your browser " +
		"does not understand how to supply the credentials required."
	webobExplain500 = "The server has either erred or is incapable of performing " +
		"the requested operation."
)

// webobStatuses mirrors the error classes of webob/exc.py: titles and
// (normalised) default explanations; classes without their own explanation
// inherit the one of HTTPClientError or HTTPServerError.
var webobStatuses = map[int]webobStatus{
	400: {"Bad Request", webobExplain400},
	401: {"Unauthorized", webobExplain401},
	402: {"Payment Required", "Access was denied for financial reasons."},
	403: {"Forbidden", "Access was denied to this resource."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", webobExplain400},
	406: {"Not Acceptable", webobExplain400},
	407: {"Proxy Authentication Required", "Authentication with a local proxy is needed."},
	408: {"Request Timeout", "The server has waited too long for the request to be sent by the client."},
	409: {"Conflict", "There was a conflict when trying to complete your request."},
	410: {"Gone", "This resource is no longer available. No forwarding address is given."},
	411: {"Length Required", "Content-Length header required."},
	412: {"Precondition Failed", "Request precondition failed."},
	413: {"Request Entity Too Large", "The body of your request was too large for this server."},
	414: {"Request-URI Too Long", "The request URI was too long for this server."},
	415: {"Unsupported Media Type", webobExplain400},
	416: {"Request Range Not Satisfiable", "The Range requested is not available."},
	417: {"Expectation Failed", "Expectation failed."},
	422: {"Unprocessable Entity", "Unable to process the contained instructions"},
	423: {"Locked", "The resource is locked"},
	424: {"Failed Dependency", "The method could not be performed because the requested " +
		"action dependended on another action and that action failed"},
	428: {"Precondition Required", "This request is required to be conditional"},
	429: {"Too Many Requests", "The client has sent too many requests in a given amount of time"},
	431: {"Request Header Fields Too Large", "The request header fields were too large"},
	451: {"Unavailable For Legal Reasons", "The resource is not available due to legal reasons."},
	500: {"Internal Server Error", webobExplain500},
	501: {"Not Implemented", webobExplain500},
	502: {"Bad Gateway", "Bad gateway."},
	503: {"Service Unavailable", "The server is currently unavailable. Please try again at a later time."},
	504: {"Gateway Timeout", "The gateway has timed out."},
	505: {"HTTP Version Not Supported", "The HTTP version is not supported."},
	507: {"Insufficient Storage", "There was not enough space to save the resource"},
	511: {"Network Authentication Required", "Network authentication is required"},
}

// WebOb body templates (Python string.Template syntax).
const (
	webobDefaultTemplate = "${explanation}<br /><br />\n${detail}\n${html_comment}\n"
	webobHTMLTemplate    = "<html>\n <head>\n  <title>${status}</title>\n </head>\n" +
		" <body>\n  <h1>${status}</h1>\n  ${body}\n </body>\n</html>"
)

// webobTemplates holds the classes that override WebOb's default body
// template. Like WebOb, these (and any Error.template) also see the request
// environ and the response headers.
var webobTemplates = map[int]string{
	405: "The method ${REQUEST_METHOD} is not allowed for this resource. <br /><br />\n${detail}",
	406: "The resource could not be generated that was acceptable to your browser\n" +
		"(content of type ${HTTP_ACCEPT}. <br /><br />\n${detail}",
	415: "The request media type ${CONTENT_TYPE} is not supported by this server.\n<br /><br />\n${detail}",
	501: "\nThe request method ${REQUEST_METHOD} is not implemented for this server. <br /><br />\n${detail}",
}

// Content types of the three body flavours; WebOb appends a charset only to
// text/* types.
const (
	webobContentHTML  = "text/html; charset=UTF-8"
	webobContentJSON  = "application/json"
	webobContentPlain = "text/plain; charset=UTF-8"
)

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
		msg = e.explanation()
	}
	s := e.status() + ": " + msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// title returns WebOb's title for the status, e.g. "Not Found".
func (e *Error) title() string {
	if st, ok := webobStatuses[e.Status]; ok {
		return st.title
	}
	if t := http.StatusText(e.Status); t != "" {
		return t
	}
	if e.Status >= 500 {
		return webobStatuses[500].title
	}
	return webobStatuses[400].title
}

// status returns WebOb's status line, e.g. "404 Not Found".
func (e *Error) status() string {
	return strconv.Itoa(e.Status) + " " + e.title()
}

// explanation returns the explanation, or WebOb's default for the status.
func (e *Error) explanation() string {
	if e.Explanation != "" {
		return e.Explanation
	}
	if st, ok := webobStatuses[e.Status]; ok {
		return st.explanation
	}
	if e.Status >= 500 {
		return webobExplain500
	}
	if e.Status >= 400 {
		return webobExplain400
	}
	return ""
}

// writeError writes e as WebOb would: e.Header first, then the body in the
// flavour chosen from the request's Accept header (text/html, application/
// json, else text/plain; see webobAcceptMatch) with its Content-Type and
// Content-Length. A HEAD request gets WebOb's bodiless HEAD response
// (Content-Type text/html, Content-Length 0). A nil e is written as a 500.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	if e == nil {
		e = NewError(http.StatusInternalServerError, "")
	}
	status := e.Status
	if status < 100 || status > 999 {
		e = &Error{Status: http.StatusInternalServerError, Header: e.Header, Err: e}
		status = e.Status
	}
	h := w.Header()
	for k, vs := range e.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if r != nil && r.Method == http.MethodHead {
		h.Set("Content-Type", webobContentHTML)
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	ctype, body := e.render(r)
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// render returns the Content-Type and body WebOb would produce for r.
func (e *Error) render(r *http.Request) (string, []byte) {
	accept := ""
	if r != nil {
		accept = strings.Join(r.Header.Values("Accept"), ",")
	}
	switch webobAcceptMatch(accept) {
	case "text/html":
		return webobContentHTML, []byte(e.htmlBody(r))
	case "application/json":
		return webobContentJSON, []byte(e.jsonBody(r))
	default:
		return webobContentPlain, []byte(e.plainBody(r))
	}
}

// htmlBody is WebOb's html_body: the body template with HTML-escaped values
// inside the HTML page template.
func (e *Error) htmlBody(r *http.Request) string {
	body := e.makeBody(r, webobHTMLEscape)
	return webobSubstitute(webobHTMLTemplate, func(name string) (string, bool) {
		switch name {
		case "status":
			return e.status(), true
		case "body":
			return body, true
		}
		return "", false
	})
}

// jsonBody is WebOb's json_body: json.dumps({"message", "code", "title"}).
func (e *Error) jsonBody(r *http.Request) string {
	var b strings.Builder
	b.WriteString(`{"message": `)
	b.WriteString(schema.Quote(e.makeBody(r, nil)))
	b.WriteString(`, "code": `)
	b.WriteString(schema.Quote(e.status()))
	b.WriteString(`, "title": `)
	b.WriteString(schema.Quote(e.title()))
	b.WriteString("}")
	return b.String()
}

// plainBody is WebOb's plain_body: "<status>\n\n<body with tags stripped>".
func (e *Error) plainBody(r *http.Request) string {
	return e.status() + "\n\n" + webobStripTags(e.makeBody(r, nil))
}

// makeBody is WebOb's _make_body: the status's body template filled with
// the (escaped) explanation and detail, and for non-default templates also
// the request environ and the response headers.
func (e *Error) makeBody(r *http.Request, escape func(string) string) string {
	if escape == nil {
		escape = func(s string) string { return s }
	}
	tmpl := e.template
	if tmpl == "" {
		tmpl = webobTemplates[e.Status]
	}
	custom := tmpl != ""
	if !custom {
		tmpl = webobDefaultTemplate
	}
	args := map[string]string{
		"explanation":  e.explanation(),
		"detail":       e.Detail,
		"comment":      "",
		"html_comment": "",
	}
	if custom {
		for k, v := range webobEnviron(r) {
			args[k] = v
		}
		for k, vs := range e.Header {
			if len(vs) > 0 {
				args[strings.ToLower(k)] = vs[len(vs)-1]
			}
		}
	}
	return webobSubstitute(tmpl, func(name string) (string, bool) {
		v, ok := args[name]
		if !ok {
			return "", false
		}
		return escape(v), true
	})
}

// webobEnviron returns the WSGI environ variables a WebOb template can use.
// A missing Content-Type is rendered as "" (servers differ: eventlet would
// say "text/plain", uWSGI leaves the variable unset).
func webobEnviron(r *http.Request) map[string]string {
	env := map[string]string{"SCRIPT_NAME": "", "CONTENT_TYPE": ""}
	if r == nil {
		return env
	}
	env["REQUEST_METHOD"] = r.Method
	env["SERVER_PROTOCOL"] = r.Proto
	if r.URL != nil {
		env["PATH_INFO"] = r.URL.Path
		env["QUERY_STRING"] = r.URL.RawQuery
	}
	for k, vs := range r.Header {
		v := strings.Join(vs, ",")
		switch ck := http.CanonicalHeaderKey(k); ck {
		case "Content-Type":
			env["CONTENT_TYPE"] = v
		case "Content-Length":
			env["CONTENT_LENGTH"] = v
		default:
			env["HTTP_"+strings.ToUpper(strings.ReplaceAll(ck, "-", "_"))] = v
		}
	}
	if r.Host != "" {
		env["HTTP_HOST"] = r.Host
	}
	return env
}
