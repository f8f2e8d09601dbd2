package webob

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// substitute implements Python's string.Template.safe_substitute:
// "$$" is a literal "$", "${name}" and "$name" are replaced when lookup
// knows the name, anything else is left as is.
func substitute(tmpl string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		if c != '$' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			i++
			continue
		}
		switch next := tmpl[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i += 2
			continue
		case next == '{':
			if n := identLen(tmpl[i+2:]); n > 0 && i+2+n < len(tmpl) && tmpl[i+2+n] == '}' {
				if v, ok := lookup(tmpl[i+2 : i+2+n]); ok {
					b.WriteString(v)
					i += n + 3
					continue
				}
			}
		default:
			if n := identLen(tmpl[i+1:]); n > 0 {
				if v, ok := lookup(tmpl[i+1 : i+1+n]); ok {
					b.WriteString(v)
					i += n + 1
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// identLen returns the length of the ASCII identifier
// ([_a-zA-Z][_a-zA-Z0-9]*) at the start of s, or 0.
func identLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		alpha := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !alpha && (n == 0 || c < '0' || c > '9') {
			break
		}
		n++
	}
	return n
}

var (
	brRe      = regexp.MustCompile(`(?is)<br.*?>`)
	commentRe = regexp.MustCompile(`<!--|-->`)
	tagRe     = regexp.MustCompile(`(?s)<.*?>`)
)

// stripTags is WebOb's strip_tags: newlines become spaces, CRs are
// dropped, each <br ...> becomes a newline, then comments markers and all
// other tags are removed.
func stripTags(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "\r", "")
	s = brRe.ReplaceAllLiteralString(s, "\n")
	s = commentRe.ReplaceAllLiteralString(s, "")
	return tagRe.ReplaceAllLiteralString(s, "")
}

// htmlEscape is WebOb's html_escape: Python's html.escape(s, True)
// followed by an ASCII encoding that turns every non-ASCII character into a
// decimal character reference.
func htmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&#x27;")
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		default:
			b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}
