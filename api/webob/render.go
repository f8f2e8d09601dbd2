package webob

import (
	"net/http"
	"strings"

	"github.com/p2pglance/p2pglance/api/schema"
)

// Content types of the three body flavours; WebOb appends a charset only to
// text/* types.
const (
	contentHTML  = "text/html; charset=UTF-8"
	contentJSON  = "application/json"
	contentPlain = "text/plain; charset=UTF-8"
)

// Exception is one error answer, as a webob.exc.HTTP* exception holds it.
type Exception struct {
	// Status is the HTTP status code, e.g. 404.
	Status int
	// Explanation is the main message, plain text; "" means WebOb's
	// default explanation for Status.
	Explanation string
	// Detail is optional extra text, rendered after the explanation.
	Detail string
	// Header holds the response headers. A class with its own template
	// (405, 406, 415, 501) or a Template may name them, lower-cased
	// (${allow}).
	Header http.Header
	// Template, when non-empty, replaces WebOb's body template for Status,
	// like the body_template= argument of a WebOb exception. It may use
	// ${explanation}, ${detail}, the request's WSGI environ names
	// (${REQUEST_METHOD}, ${CONTENT_TYPE}, ${HTTP_ACCEPT}, ...) and the
	// lower-cased names of the response headers.
	Template string
}

// Render returns the Content-Type and body WebOb produces for x in answer
// to r: an HTML body when r's Accept header prefers text/html (or is not
// valid), a JSON one when it prefers application/json, plain text
// otherwise (see acceptMatch). Explanation and Detail are HTML-escaped in
// the HTML body and stripped of tags in the plain one, as WebOb does. A
// HEAD request gets WebOb's bodiless answer: text/html and no body. r may
// be nil (no Accept header, an empty environ).
func Render(r *http.Request, x Exception) (contentType string, body []byte) {
	if r != nil && r.Method == http.MethodHead {
		return contentHTML, nil
	}
	accept := ""
	if r != nil {
		accept = strings.Join(r.Header.Values("Accept"), ",")
	}
	switch acceptMatch(accept) {
	case "text/html":
		return contentHTML, []byte(x.htmlBody(r))
	case "application/json":
		return contentJSON, []byte(x.jsonBody(r))
	default:
		return contentPlain, []byte(x.plainBody(r))
	}
}

// explanation returns the explanation, or WebOb's default for the status.
func (x *Exception) explanation() string {
	if x.Explanation != "" {
		return x.Explanation
	}
	return DefaultExplanation(x.Status)
}

// htmlBody is WebOb's html_body: the body template with HTML-escaped values
// inside the HTML page template.
func (x *Exception) htmlBody(r *http.Request) string {
	body := x.makeBody(r, htmlEscape)
	return substitute(htmlTemplate, func(name string) (string, bool) {
		switch name {
		case "status":
			return StatusLine(x.Status), true
		case "body":
			return body, true
		}
		return "", false
	})
}

// jsonBody is WebOb's json_body: json.dumps({"message", "code", "title"}).
func (x *Exception) jsonBody(r *http.Request) string {
	return string(schema.Encode(schema.Object{
		{"message", x.makeBody(r, nil)},
		{"code", StatusLine(x.Status)},
		{"title", Title(x.Status)},
	}))
}

// plainBody is WebOb's plain_body: "<status>\n\n<body with tags stripped>".
func (x *Exception) plainBody(r *http.Request) string {
	return StatusLine(x.Status) + "\n\n" + stripTags(x.makeBody(r, nil))
}

// makeBody is WebOb's _make_body: the status's body template filled with
// the (escaped) explanation and detail, and for non-default templates also
// the request environ and the response headers.
func (x *Exception) makeBody(r *http.Request, escape func(string) string) string {
	if escape == nil {
		escape = func(s string) string { return s }
	}
	tmpl := x.Template
	if tmpl == "" {
		tmpl = templates[x.Status]
	}
	custom := tmpl != ""
	if !custom {
		tmpl = defaultTemplate
	}
	args := map[string]string{
		"explanation":  x.explanation(),
		"detail":       x.Detail,
		"comment":      "",
		"html_comment": "",
	}
	if custom {
		for k, v := range environ(r) {
			args[k] = v
		}
		for k, vs := range x.Header {
			if len(vs) > 0 {
				args[strings.ToLower(k)] = vs[len(vs)-1]
			}
		}
	}
	return substitute(tmpl, func(name string) (string, bool) {
		v, ok := args[name]
		if !ok {
			return "", false
		}
		return escape(v), true
	})
}

// environ returns the WSGI environ variables a WebOb template can use.
// A missing Content-Type is rendered as "" (servers differ: eventlet would
// say "text/plain", uWSGI leaves the variable unset).
func environ(r *http.Request) map[string]string {
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
