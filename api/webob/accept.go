package webob

import "strings"

// acceptOffers are the media types WebOb's generate_response offers for
// an error body, in order of preference on ties.
var acceptOffers = [2]string{"text/html", "application/json"}

// mediaRange is one parsed media range of an Accept header.
type mediaRange struct {
	typ, sub  string // lower-cased
	hasParams bool   // media type parameters (before q=) present
	q         int    // qvalue in thousandths, 0..1000
}

// acceptMatch returns the error body flavour WebOb picks for an Accept
// header value: "text/html", "application/json" or "" (plain text). It
// follows webob.acceptparse (create_accept_header + acceptable_offers):
//
//   - an empty or absent header accepts nothing, so the body is plain text;
//   - an invalid header (per RFC 7231 grammar) accepts everything, so the
//     body is HTML;
//   - otherwise each offer takes the q of its most specific matching range
//     (type/subtype > type/* > */*); a range with media type parameters
//     (e.g. "application/json; charset=utf-8") does not match the bare
//     offer; q=0 excludes; the highest q wins, text/html on ties.
func acceptMatch(header string) string {
	ranges, ok := parseAccept(header)
	if !ok {
		return acceptOffers[0]
	}
	best, bestQ := "", 0
	for _, offer := range acceptOffers {
		typ, sub, _ := strings.Cut(offer, "/")
		q, spec := 0, 0
		for _, mr := range ranges {
			s := 0
			switch {
			case mr.typ == typ && mr.sub == sub:
				if mr.hasParams {
					continue
				}
				s = 3
			case mr.sub == "*" && mr.typ == typ:
				s = 2
			case mr.typ == "*" && mr.sub == "*":
				s = 1
			default:
				continue
			}
			if s > spec {
				q, spec = mr.q, s
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}

// parseAccept parses an Accept header value with the grammar WebOb
// validates it against (RFC 7230 #rule list of RFC 7231 media ranges with
// optional weight and accept-ext parameters). ok is false when the value is
// invalid.
func parseAccept(v string) (ranges []mediaRange, ok bool) {
	if v == "" {
		return nil, true
	}
	p := acceptParser{s: v}
	// #element => [ ( "," / element ) *( OWS "," [ OWS element ] ) ]
	if p.peek() == ',' {
		p.i++
	} else {
		mr, ok := p.element()
		if !ok {
			return nil, false
		}
		ranges = append(ranges, mr)
	}
	for p.i < len(p.s) {
		p.ows()
		if p.peek() != ',' {
			return nil, false
		}
		p.i++
		save := p.i
		p.ows()
		if mr, ok := p.element(); ok {
			ranges = append(ranges, mr)
		} else {
			p.i = save
		}
	}
	return ranges, true
}

// acceptParser is a cursor over an Accept header value.
type acceptParser struct {
	s string
	i int
}

func (p *acceptParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// ows skips optional whitespace (SP / HTAB).
func (p *acceptParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// semicolon consumes OWS ";" OWS, or nothing (returning false).
func (p *acceptParser) semicolon() bool {
	save := p.i
	p.ows()
	if p.peek() != ';' {
		p.i = save
		return false
	}
	p.i++
	p.ows()
	return true
}

// token consumes 1*tchar and returns it.
func (p *acceptParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted consumes a quoted-string (qdtext / quoted-pair, obs-text allowed).
func (p *acceptParser) quoted() bool {
	save := p.i
	if p.peek() != '"' {
		return false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c == '\\':
			if p.i+1 < len(p.s) && isQuotedPairChar(p.s[p.i+1]) {
				p.i += 2
				continue
			}
			p.i = save
			return false
		case c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
			p.i++
		default:
			p.i = save
			return false
		}
	}
	p.i = save
	return false
}

// value consumes token / quoted-string.
func (p *acceptParser) value() bool {
	if p.peek() == '"' {
		return p.quoted()
	}
	return p.token() != ""
}

// element consumes media-range [ weight *( accept-ext ) ]; on failure the
// cursor is left where it was.
func (p *acceptParser) element() (mediaRange, bool) {
	start := p.i
	var mr mediaRange
	typ := p.token()
	if typ == "" || p.peek() != '/' {
		p.i = start
		return mr, false
	}
	p.i++
	sub := p.token()
	if sub == "" {
		p.i = start
		return mr, false
	}
	mr.typ, mr.sub, mr.q = strings.ToLower(typ), strings.ToLower(sub), 1000
	// *( OWS ";" OWS parameter ), where a parameter may not be named q.
	for {
		save := p.i
		if !p.semicolon() || p.isWeight() {
			p.i = save
			break
		}
		if p.token() == "" || p.peek() != '=' {
			p.i = save
			break
		}
		p.i++
		if !p.value() {
			p.i = save
			break
		}
		mr.hasParams = true
	}
	// [ weight *( accept-ext ) ]
	save := p.i
	if !p.semicolon() || !p.isWeight() {
		p.i = save
		return mr, true
	}
	p.i += 2
	q, ok := p.qvalue()
	if !ok {
		p.i = save
		return mr, true
	}
	mr.q = q
	for {
		save := p.i
		if !p.semicolon() || p.token() == "" {
			p.i = save
			break
		}
		if p.peek() == '=' {
			p.i++
			if !p.value() {
				// The regex would match the ext without "=value" and
				// then fail on "=": leave the cursor before "=".
				p.i--
				break
			}
		}
	}
	return mr, true
}

// isWeight reports whether the cursor is at "q=" or "Q=".
func (p *acceptParser) isWeight() bool {
	return p.i+1 < len(p.s) && (p.s[p.i] == 'q' || p.s[p.i] == 'Q') && p.s[p.i+1] == '='
}

// qvalue consumes ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) and
// returns it in thousandths.
func (p *acceptParser) qvalue() (int, bool) {
	c := p.peek()
	if c != '0' && c != '1' {
		return 0, false
	}
	p.i++
	if c == '1' {
		if p.peek() == '.' {
			p.i++
			for n := 0; n < 3 && p.peek() == '0'; n++ {
				p.i++
			}
		}
		return 1000, true
	}
	q, scale := 0, 100
	if p.peek() == '.' {
		p.i++
		for n := 0; n < 3 && p.peek() >= '0' && p.peek() <= '9'; n++ {
			q += int(p.peek()-'0') * scale
			scale /= 10
			p.i++
		}
	}
	return q, true
}

// isTchar reports whether c is an RFC 7230 tchar.
func isTchar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isQuotedPairChar reports whether c may follow a backslash in a
// quoted-string (HTAB / SP / VCHAR / obs-text).
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80
}
