package filter

import (
	"strings"
	"unicode/utf8"

	fp "github.com/scim2/filter-parser/v2"
)

// The fast path parses the filters and PATCH paths identity providers send all
// day without the generic parser, which costs two orders of magnitude more. It
// builds exactly the syntax tree the generic parser would build, so both share
// one compiler and the result cannot differ (FuzzFastPathEquivalence checks
// it). It accepts:
//
//	filter     = term [" and " term]
//	term       = attrPath " " op " " literal / attrPath " pr"
//	           / attrName "[" valFilter "]"
//	valFilter  = valTerm [" and " valTerm]
//	valTerm    = attrName " " op " " literal / attrName " pr"
//	path       = attrPath / attrPath "[" valFilter "]" ["." attrName]
//	attrPath   = [URI ":"] attrName ["." attrName]
//	literal    = string without escapes or control characters / true / false
//
// with exactly one space where one is shown; keywords and operators in any
// case. Anything else (escapes, numbers, null, "or", "not", parentheses,
// unusual spacing, "$ref") returns ok=false and goes to the generic parser.

// fastFilter parses s with the fast path; ok is false when s is not in its
// grammar.
func fastFilter(s string) (e fp.Expression, ok bool) {
	p := fastScanner{s: s}
	left, ok := p.term()
	if !ok {
		return nil, false
	}
	if p.done() {
		return left, true
	}
	if !p.and() {
		return nil, false
	}
	right, ok := p.term()
	if !ok || !p.done() {
		return nil, false
	}
	return &fp.LogicalExpression{Left: left, Right: right, Operator: fp.AND}, true
}

// fastPath parses a PATCH path with the fast path.
func fastPath(s string) (fp.Path, bool) {
	p := fastScanner{s: s}
	ap, ok := p.attrPath()
	if !ok {
		return fp.Path{}, false
	}
	path := fp.Path{AttributePath: ap}
	if p.done() {
		return path, true
	}
	if ap.SubAttribute != nil || !p.byte('[') {
		return fp.Path{}, false
	}
	vf, ok := p.valFilter()
	if !ok {
		return fp.Path{}, false
	}
	path.ValueExpression = vf
	if p.done() {
		return path, true
	}
	if !p.byte('.') {
		return fp.Path{}, false
	}
	sub, ok := p.attrName()
	if !ok || !p.done() {
		return fp.Path{}, false
	}
	path.SubAttribute = &sub
	return path, true
}

type fastScanner struct {
	s string
	i int
}

func (p *fastScanner) done() bool { return p.i == len(p.s) }

func (p *fastScanner) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// word consumes w case-insensitively.
func (p *fastScanner) word(w string) bool {
	if len(p.s)-p.i >= len(w) && strings.EqualFold(p.s[p.i:p.i+len(w)], w) {
		p.i += len(w)
		return true
	}
	return false
}

// and consumes " and ".
func (p *fastScanner) and() bool {
	start := p.i
	if p.byte(' ') && p.word("and") && p.byte(' ') {
		return true
	}
	p.i = start
	return false
}

// term parses one top-level term.
func (p *fastScanner) term() (fp.Expression, bool) {
	ap, ok := p.attrPath()
	if !ok {
		return nil, false
	}
	if ap.URIPrefix == nil && ap.SubAttribute == nil && p.byte('[') {
		vf, ok := p.valFilter()
		if !ok || !(p.done() || p.peek(' ')) {
			return nil, false
		}
		return &fp.ValuePath{AttributePath: ap, ValueFilter: vf}, true
	}
	return p.attrExp(ap, false)
}

// valFilter parses the inside of brackets up to and including "]".
func (p *fastScanner) valFilter() (fp.Expression, bool) {
	left, ok := p.valTerm()
	if !ok {
		return nil, false
	}
	if p.byte(']') {
		return left, true
	}
	if !p.and() {
		return nil, false
	}
	right, ok := p.valTerm()
	if !ok || !p.byte(']') {
		return nil, false
	}
	return &fp.LogicalExpression{Left: left, Right: right, Operator: fp.AND}, true
}

func (p *fastScanner) valTerm() (fp.Expression, bool) {
	name, ok := p.attrName()
	if !ok {
		return nil, false
	}
	return p.attrExp(fp.AttributePath{AttributeName: name}, true)
}

// attrExp parses " op literal" or " pr" after an attribute path. The term must
// end the input, or be followed by a space (top level) or "]" (inBrackets).
func (p *fastScanner) attrExp(ap fp.AttributePath, inBrackets bool) (fp.Expression, bool) {
	if !p.byte(' ') || len(p.s)-p.i < 2 {
		return nil, false
	}
	opText := p.s[p.i : p.i+2]
	p.i += 2
	ae := &fp.AttributeExpression{AttributePath: ap}
	if strings.EqualFold(opText, "pr") {
		ae.Operator = fp.PR
	} else {
		op, ok := parseOp(opText)
		if !ok || !p.byte(' ') {
			return nil, false
		}
		ae.Operator = fp.CompareOperator(op.String())
		if ae.CompareValue, ok = p.literal(); !ok {
			return nil, false
		}
	}
	switch {
	case inBrackets:
		if !p.peek(']') && !p.peek(' ') {
			return nil, false
		}
	case !p.done() && !p.peek(' '):
		return nil, false
	}
	return ae, true
}

func (p *fastScanner) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

// literal parses a string without escapes, or true/false.
func (p *fastScanner) literal() (any, bool) {
	if p.byte('"') {
		start := p.i
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case c == '"':
				v := p.s[start:p.i]
				p.i++
				return v, true
			case c == '\\' || c < 0x20:
				return nil, false
			case c < utf8.RuneSelf:
				p.i++
			default:
				r, size := utf8.DecodeRuneInString(p.s[p.i:])
				if r == utf8.RuneError {
					return nil, false
				}
				p.i += size
			}
		}
		return nil, false
	}
	switch {
	case p.word("true"):
		return true, true
	case p.word("false"):
		return false, true
	}
	return nil, false
}

// attrPath parses [URI ":"] attrName ["." attrName]. The URI is everything up
// to the last colon of the token, as the generic parser's greedy URI rule
// takes it.
func (p *fastScanner) attrPath() (fp.AttributePath, bool) {
	start := p.i
	end := start
	for end < len(p.s) {
		c := p.s[end]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' && c != ':' {
			break
		}
		end++
	}
	tok := p.s[start:end]
	var ap fp.AttributePath
	rest := tok
	if k := strings.LastIndexByte(tok, ':'); k >= 0 {
		uri := tok[:k]
		if !validURI(uri) {
			return ap, false
		}
		ap.URIPrefix = &uri
		rest = tok[k+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !fastName(name) || (hasSub && !fastName(sub)) {
		return ap, false
	}
	ap.AttributeName = name
	if hasSub {
		ap.SubAttribute = &sub
	}
	p.i = end
	return ap, true
}

// attrName parses a single attribute name (no URI, no dot).
func (p *fastScanner) attrName() (string, bool) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			break
		}
		p.i++
	}
	name := p.s[start:p.i]
	if !fastName(name) {
		p.i = start
		return "", false
	}
	return name, true
}

// fastName reports whether s is an ATTRNAME: ALPHA *(ALPHA / DIGIT / "-" / "_").
func fastName(s string) bool {
	return s != "" && s[0] != '$' && validAttrName(s)
}
