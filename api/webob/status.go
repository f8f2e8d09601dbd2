package webob

import (
	"net/http"
	"strconv"
)

// class is a WebOb exception class's title and default explanation.
type class struct {
	title       string
	explanation string
}

// WebOb's default explanations shared by several classes. The source
// (webob/exc.py) writes some of them over several CRLF-terminated lines with
// double spaces, but at import time WebOb rewrites every class's explanation
// with " ".join(explanation.strip().split()), so the rendered text is a
// single line with single spaces; the strings here are the normalised ones.
const (
	explain400 = "The server could not comply with the request since " +
		"it is either malformed or otherwise incorrect."
	explain401 = "This server could not verify that you are authorized to " +
		"access the document you requested. Either you supplied the " +
		"wrong credentials (e.g., bad password), or your browser " +
		"does not understand how to supply the credentials required."
	explain500 = "The server has either erred or is incapable of performing " +
		"the requested operation."
)

// classes mirrors the error classes of webob/exc.py: titles and
// (normalised) default explanations; classes without their own explanation
// inherit the one of HTTPClientError or HTTPServerError.
var classes = map[int]class{
	400: {"Bad Request", explain400},
	401: {"Unauthorized", explain401},
	402: {"Payment Required", "Access was denied for financial reasons."},
	403: {"Forbidden", "Access was denied to this resource."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", explain400},
	406: {"Not Acceptable", explain400},
	407: {"Proxy Authentication Required", "Authentication with a local proxy is needed."},
	408: {"Request Timeout", "The server has waited too long for the request to be sent by the client."},
	409: {"Conflict", "There was a conflict when trying to complete your request."},
	410: {"Gone", "This resource is no longer available. No forwarding address is given."},
	411: {"Length Required", "Content-Length header required."},
	412: {"Precondition Failed", "Request precondition failed."},
	413: {"Request Entity Too Large", "The body of your request was too large for this server."},
	414: {"Request-URI Too Long", "The request URI was too long for this server."},
	415: {"Unsupported Media Type", explain400},
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
	500: {"Internal Server Error", explain500},
	501: {"Not Implemented", explain500},
	502: {"Bad Gateway", "Bad gateway."},
	503: {"Service Unavailable", "The server is currently unavailable. Please try again at a later time."},
	504: {"Gateway Timeout", "The gateway has timed out."},
	505: {"HTTP Version Not Supported", "The HTTP version is not supported."},
	507: {"Insufficient Storage", "There was not enough space to save the resource"},
	511: {"Network Authentication Required", "Network authentication is required"},
}

// Body templates (Python string.Template syntax).
const (
	defaultTemplate = "${explanation}<br /><br />\n${detail}\n${html_comment}\n"
	htmlTemplate    = "<html>\n <head>\n  <title>${status}</title>\n </head>\n" +
		" <body>\n  <h1>${status}</h1>\n  ${body}\n </body>\n</html>"
)

// templates holds the classes that override WebOb's default body
// template. Like WebOb, these (and any Exception.Template) also see the
// request environ and the response headers.
var templates = map[int]string{
	405: "The method ${REQUEST_METHOD} is not allowed for this resource. <br /><br />\n${detail}",
	406: "The resource could not be generated that was acceptable to your browser\n" +
		"(content of type ${HTTP_ACCEPT}. <br /><br />\n${detail}",
	415: "The request media type ${CONTENT_TYPE} is not supported by this server.\n<br /><br />\n${detail}",
	501: "\nThe request method ${REQUEST_METHOD} is not implemented for this server. <br /><br />\n${detail}",
}

// Known reports whether WebOb has an exception class for status (a 4xx or
// 5xx it can raise).
func Known(status int) bool {
	_, ok := classes[status]
	return ok
}

// Title returns WebOb's title for status, e.g. "Not Found" for 404 and
// "Request Range Not Satisfiable" for 416. A status WebOb has no class for
// takes Go's status text, else the title of 500 (5xx and above) or 400.
func Title(status int) string {
	if c, ok := classes[status]; ok {
		return c.title
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	if status >= 500 {
		return classes[500].title
	}
	return classes[400].title
}

// StatusLine returns WebOb's status line for status, e.g. "404 Not Found".
func StatusLine(status int) string {
	return strconv.Itoa(status) + " " + Title(status)
}

// DefaultExplanation returns WebOb's default explanation for status: its
// class's, else HTTPServerError's (5xx and above) or HTTPClientError's
// (4xx), else "".
func DefaultExplanation(status int) string {
	if c, ok := classes[status]; ok {
		return c.explanation
	}
	if status >= 500 {
		return explain500
	}
	if status >= 400 {
		return explain400
	}
	return ""
}
