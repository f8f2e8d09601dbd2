package webob

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAcceptMatch(t *testing.T) {
	// Expectations taken from running webob.acceptparse on each value.
	cases := map[string]string{
		"":                                  "",
		"*/*":                               "text/html",
		"application/json":                  "application/json",
		"APPLICATION/JSON":                  "application/json",
		"text/plain":                        "",
		"text/*":                            "text/html",
		"application/json, text/plain, */*": "text/html",
		"*/*, application/json":             "text/html",
		"application/json;q=0.5, text/html;q=0.5":          "text/html",
		"application/json;q=0.501, text/html;q=0.5":        "application/json",
		"application/json,,text/html;q=0.1":                "application/json",
		", application/json":                               "text/html", // invalid
		"application/json;q=1.5":                           "text/html", // invalid
		"application/json;x":                               "text/html", // invalid
		"application/json;q=0.4;ext=":                      "text/html", // invalid
		"application/json ;q=0.3 ; ext=1, text/html;q=0.2": "application/json",
		"text/html;level=1":                                "",
		"text/html;level=1, application/json;q=0.1":        "application/json",
		"*/*;q=0.1, application/json;q=0":                  "text/html",
		"*/*;q=0.000":                                      "",
		"application/json;Q=0.2, text/html;q=0.1":          "application/json",
		`text/html;q=0.5;a="x\"y", application/json;q=0.4`: "text/html",
		"application/vnd.openstack.images-v2.1":            "",
	}
	for in, want := range cases {
		if got := acceptMatch(in); got != want {
			t.Errorf("acceptMatch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTitle(t *testing.T) {
	titles := map[int]string{400: "Bad Request", 403: "Forbidden", 410: "Gone", 411: "Length Required",
		413: "Request Entity Too Large", 414: "Request-URI Too Long", 416: "Request Range Not Satisfiable",
		431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
		503: "Service Unavailable",
		// No WebOb class: Go's text, else HTTPClientError's or HTTPServerError's.
		418: "I'm a teapot", 499: "Bad Request", 599: "Internal Server Error"}
	for code, title := range titles {
		if got := Title(code); got != title {
			t.Errorf("Title(%d) = %q, want %q", code, got, title)
		}
	}
	if got := StatusLine(404); got != "404 Not Found" {
		t.Errorf("StatusLine(404) = %q", got)
	}
	for code, known := range map[int]bool{404: true, 416: true, 511: true, 418: false, 499: false, 200: false} {
		if Known(code) != known {
			t.Errorf("Known(%d) = %v", code, !known)
		}
	}
	for code, want := range map[int]string{404: "The resource could not be found.", 405: explain400, 418: explain400,
		501: explain500, 599: explain500, 302: ""} {
		if got := DefaultExplanation(code); got != want {
			t.Errorf("DefaultExplanation(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestRenderHeadAndNilRequest(t *testing.T) {
	head := httptest.NewRequest(http.MethodHead, "/x", nil)
	head.Header.Set("Accept", "application/json")
	if ct, body := Render(head, Exception{Status: 404}); ct != "text/html; charset=UTF-8" || len(body) != 0 {
		t.Errorf("HEAD: %q %q", ct, body)
	}
	ct, body := Render(nil, Exception{Status: 415, Detail: "d"})
	if want := "415 Unsupported Media Type\n\nThe request media type  is not supported by this server. \n\n d"; ct != "text/plain; charset=UTF-8" || string(body) != want {
		t.Errorf("nil request: %q %q, want %q", ct, body, want)
	}
	get := httptest.NewRequest(http.MethodGet, "/x", nil)
	get.Header.Set("Accept", "application/json")
	_, body = Render(get, Exception{Status: 409, Explanation: "é <b>", Template: "${explanation}"})
	if want := `{"message": "\u00e9 <b>", "code": "409 Conflict", "title": "Conflict"}`; string(body) != want {
		t.Errorf("json = %s, want %s", body, want)
	}
}
