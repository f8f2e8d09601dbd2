package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/api/webob"
)

// Expected bodies below were written by hand from webob/exc.py's templates
// (and cross-checked against WebOb itself).

const (
	errTestHTML404 = "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n" +
		"  <h1>404 Not Found</h1>\n  No image found with ID abc<br /><br />\n\n\n\n </body>\n</html>"
	errTestJSON404  = `{"message": "No image found with ID abc<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`
	errTestPlain404 = "404 Not Found\n\nNo image found with ID abc\n\n   "
)

// doError runs writeError for a request with the given method, Accept
// header (nil = absent) and extra request headers.
func errTestDo(t *testing.T, e *Error, method string, accept *string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/v2/images/abc", nil)
	if accept != nil {
		r.Header.Set("Accept", *accept)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	writeError(w, r, e)
	return w
}

func errTestStr(s string) *string { return &s }

func TestErrorAcceptVariants404(t *testing.T) {
	cases := []struct {
		accept *string
		ctype  string
		body   string
	}{
		{nil, "text/plain; charset=UTF-8", errTestPlain404},
		{errTestStr(""), "text/plain; charset=UTF-8", errTestPlain404},
		{errTestStr("application/json"), "application/json", errTestJSON404},
		{errTestStr("*/*"), "text/html; charset=UTF-8", errTestHTML404},
		{errTestStr("text/html"), "text/html; charset=UTF-8", errTestHTML404},
		{errTestStr("text/plain"), "text/plain; charset=UTF-8", errTestPlain404},
		{errTestStr("application/json;q=0.9,*/*;q=0.8"), "application/json", errTestJSON404},
		{errTestStr("application/json, */*"), "text/html; charset=UTF-8", errTestHTML404},
		{errTestStr("application/json; charset=utf-8"), "text/plain; charset=UTF-8", errTestPlain404},
		{errTestStr("application/*"), "application/json", errTestJSON404},
		{errTestStr("text/html;q=0, */*"), "application/json", errTestJSON404},
		{errTestStr("json"), "text/html; charset=UTF-8", errTestHTML404},
	}
	e := NewError(http.StatusNotFound, "No image found with ID abc")
	for _, c := range cases {
		name := "<absent>"
		if c.accept != nil {
			name = *c.accept
		}
		t.Run(name, func(t *testing.T) {
			w := errTestDo(t, e, http.MethodGet, c.accept, nil)
			if w.Code != http.StatusNotFound {
				t.Errorf("status = %d", w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type = %q, want %q", got, c.ctype)
			}
			if got := w.Body.String(); got != c.body {
				t.Errorf("body = %q, want %q", got, c.body)
			}
			if got, want := w.Header().Get("Content-Length"), len(c.body); got != strconv.Itoa(want) {
				t.Errorf("Content-Length = %s, want %d", got, want)
			}
		})
	}
}

func TestError405Allow(t *testing.T) {
	e := &Error{Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {"GET, POST"}}}
	want := map[string]string{
		"*/*": "<html>\n <head>\n  <title>405 Method Not Allowed</title>\n </head>\n <body>\n" +
			"  <h1>405 Method Not Allowed</h1>\n  The method PUT is not allowed for this resource. <br /><br />\n\n </body>\n</html>",
		"application/json": `{"message": "The method PUT is not allowed for this resource. <br /><br />\n", ` +
			`"code": "405 Method Not Allowed", "title": "Method Not Allowed"}`,
		"": "405 Method Not Allowed\n\nThe method PUT is not allowed for this resource. \n\n ",
	}
	for accept, body := range want {
		w := errTestDo(t, e, http.MethodPut, errTestStr(accept), nil)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%q: status = %d", accept, w.Code)
		}
		if got := w.Header().Get("Allow"); got != "GET, POST" {
			t.Errorf("%q: Allow = %q", accept, got)
		}
		if got := w.Body.String(); got != body {
			t.Errorf("%q: body = %q, want %q", accept, got, body)
		}
	}
}

func TestError415Template(t *testing.T) {
	const patch = "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
	e := &Error{
		Status: http.StatusUnsupportedMediaType,
		Detail: "Image PATCH expects Content-Type one of: " + patch,
		Header: http.Header{"Accept-Patch": {patch}},
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	want := map[string]string{
		"application/json": `{"message": "The request media type application/json is not supported by this server.\n` +
			`<br /><br />\nImage PATCH expects Content-Type one of: ` + patch + `", ` +
			`"code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}`,
		"": "415 Unsupported Media Type\n\nThe request media type application/json is not supported by this server. " +
			"\n\n Image PATCH expects Content-Type one of: " + patch,
		"*/*": "<html>\n <head>\n  <title>415 Unsupported Media Type</title>\n </head>\n <body>\n" +
			"  <h1>415 Unsupported Media Type</h1>\n  The request media type application/json is not supported by this server.\n" +
			"<br /><br />\nImage PATCH expects Content-Type one of: " + patch + "\n </body>\n</html>",
	}
	for accept, body := range want {
		w := errTestDo(t, e, http.MethodPatch, errTestStr(accept), hdr)
		if got := w.Header().Get("Accept-Patch"); got != patch {
			t.Errorf("%q: Accept-Patch = %q", accept, got)
		}
		if got := w.Body.String(); got != body {
			t.Errorf("%q: body = %q, want %q", accept, got, body)
		}
	}
	// The request's Content-Type is HTML-escaped in the HTML body.
	w := errTestDo(t, e, http.MethodPut, errTestStr("text/html"), map[string]string{"Content-Type": "a/<b>"})
	if !strings.Contains(w.Body.String(), "media type a/&lt;b&gt; is") {
		t.Errorf("content type not escaped: %q", w.Body.String())
	}
}

func TestError401Default(t *testing.T) {
	// WebOb collapses the whitespace of its class explanations at import.
	const expl = "This server could not verify that you are authorized to access the document you " +
		"requested. Either you supplied the wrong credentials (e.g., bad password), or your " +
		"browser does not understand how to supply the credentials required."
	e := NewError(http.StatusUnauthorized, "")
	w := errTestDo(t, e, http.MethodGet, nil, nil)
	if got, want := w.Body.String(), "401 Unauthorized\n\n"+expl+"\n\n   "; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	w = errTestDo(t, e, http.MethodGet, errTestStr("application/json"), nil)
	want := `{"message": "` + expl + `<br /><br />\n\n\n", "code": "401 Unauthorized", "title": "Unauthorized"}`
	if got := w.Body.String(); got != want {
		t.Errorf("json = %q, want %q", got, want)
	}
}

func TestErrorEscaping(t *testing.T) {
	e := &Error{Status: http.StatusForbidden, Explanation: `Tag <b>"x" & 'y' é 💥`, Detail: "d\\\t"}
	w := errTestDo(t, e, http.MethodGet, errTestStr("text/html"), nil)
	if want := "  Tag &lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27; &#233; &#128165;<br /><br />\nd\\\t\n\n\n </body>"; !strings.Contains(w.Body.String(), want) {
		t.Errorf("html = %q", w.Body.String())
	}
	w = errTestDo(t, e, http.MethodGet, errTestStr("application/json"), nil)
	want := `{"message": "Tag <b>\"x\" & 'y' \u00e9 \ud83d\udca5<br /><br />\nd\\\t\n\n", "code": "403 Forbidden", "title": "Forbidden"}`
	if got := w.Body.String(); got != want {
		t.Errorf("json = %q, want %q", got, want)
	}
	w = errTestDo(t, e, http.MethodGet, nil, nil)
	if want := "403 Forbidden\n\nTag \"x\" & 'y' é 💥\n\n d\\\t  "; w.Body.String() != want {
		t.Errorf("plain = %q, want %q", w.Body.String(), want)
	}
}

func TestErrorHead(t *testing.T) {
	e := &Error{Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {"GET"}}}
	w := errTestDo(t, e, http.MethodHead, errTestStr("application/json"), nil)
	if w.Code != 405 || w.Body.Len() != 0 || w.Header().Get("Allow") != "GET" ||
		w.Header().Get("Content-Type") != "text/html; charset=UTF-8" || w.Header().Get("Content-Length") != "0" {
		t.Errorf("HEAD: %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

func TestErrorTemplateOverride(t *testing.T) {
	// DELETE /v2/tasks/{id}: HTTPMethodNotAllowed(explanation=msg, body_template='${explanation}').
	e := &Error{Status: 405, Explanation: "Not permitted.", Header: http.Header{"Allow": {"GET"}}, template: "${explanation}"}
	w := errTestDo(t, e, http.MethodDelete, errTestStr("application/json"), nil)
	want := `{"message": "Not permitted.", "code": "405 Method Not Allowed", "title": "Method Not Allowed"}`
	if got := w.Body.String(); got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestErrorDefaultsAndUnwrap(t *testing.T) {
	cause := errors.New("boom")
	e := &Error{Status: 409, Err: cause}
	if !errors.Is(e, cause) {
		t.Error("errors.Is through Unwrap failed")
	}
	if got, want := e.Error(), "409 Conflict: There was a conflict when trying to complete your request.: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := Errorf(404, "No image found with ID %s", "x").Explanation; got != "No image found with ID x" {
		t.Errorf("Errorf explanation = %q", got)
	}
	// WebOb's titles (webob.Title, tested there) name the status.
	if got, want := NewError(416, "").Error(), "416 Request Range Not Satisfiable: The Range requested is not available."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := NewError(418, "").Error(), "418 I'm a teapot: "+webob.DefaultExplanation(400); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	w := errTestDo(t, NewError(501, ""), "FOO", nil, nil)
	if want := "501 Not Implemented\n\n The request method FOO is not implemented for this server. \n\n "; w.Body.String() != want {
		t.Errorf("501 = %q, want %q", w.Body.String(), want)
	}
	w = errTestDo(t, nil, http.MethodGet, errTestStr("application/json"), nil)
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code": "500 Internal Server Error"`) {
		t.Errorf("nil error: %d %q", w.Code, w.Body.String())
	}
}
