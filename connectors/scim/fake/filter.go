package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The fake's own filter language, the subset of RFC 7644 §3.4.2.2 the vendor
// documents: attrPath "eq" compValue, "and", grouping parentheses, and value paths
// on emails. Attribute names and operators are case-insensitive; string values
// match only when identical.
//
//	filter    = term *("and" term)
//	term      = "(" filter ")" / attrPath "[" filter "]" / attrPath "eq" compValue
//	compValue = string / "true" / "false" / "null" / number

// expr is a parsed filter evaluated against one user.
type expr interface{ match(u *User) bool }

// subExpr is a filter inside emails[...], evaluated against one email.
type subExpr interface{ matchEmail(e wireEmail) bool }

type andExpr struct{ l, r expr }

func (a andExpr) match(u *User) bool { return a.l.match(u) && a.r.match(u) }

type andSub struct{ l, r subExpr }

func (a andSub) matchEmail(e wireEmail) bool { return a.l.matchEmail(e) && a.r.matchEmail(e) }

// eqExpr compares one user attribute (canonical lower-case name) with a value.
type eqExpr struct {
	attr  string
	value any // string, bool, float64 or nil
}

func (q eqExpr) match(u *User) bool {
	switch q.attr {
	case "id":
		return eqString(u.ID, q.value)
	case "username":
		return eqString(u.UserName, q.value)
	case "externalid":
		return eqString(u.ExternalID, q.value)
	case "displayname":
		return eqString(u.DisplayName, q.value)
	case "active":
		b, ok := q.value.(bool)
		return ok && b == u.Active
	case "emails.value", "emails.type", "emails.primary":
		if u.Email == "" {
			return q.value == nil
		}
		return eqSub{attr: strings.TrimPrefix(q.attr, "emails."), value: q.value}.matchEmail(userEmail(u))
	}
	return false
}

// eqSub compares one email sub-attribute with a value.
type eqSub struct {
	attr  string
	value any
}

func (q eqSub) matchEmail(e wireEmail) bool {
	switch q.attr {
	case "value":
		return eqString(e.Value, q.value)
	case "type":
		return eqString(e.Type, q.value)
	case "primary":
		b, ok := q.value.(bool)
		return ok && b == e.Primary
	}
	return false
}

// emailsPath is emails[...]: true when some email matches.
type emailsPath struct{ sub subExpr }

func (p emailsPath) match(u *User) bool {
	return u.Email != "" && p.sub.matchEmail(userEmail(u))
}

func userEmail(u *User) wireEmail { return wireEmail{Value: u.Email, Type: "work", Primary: true} }

func eqString(have string, want any) bool {
	if want == nil {
		return have == ""
	}
	s, ok := want.(string)
	return ok && s == have
}

var errUnsupportedOperator = errors.New("unsupported operator")

// unsupportedOps are RFC 7644 operators the downstream does not implement.
var unsupportedOps = map[string]bool{
	"ne": true, "co": true, "sw": true, "ew": true, "pr": true,
	"gt": true, "ge": true, "lt": true, "le": true, "or": true, "not": true,
}

// token kinds.
const (
	tokWord = iota
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
)

type token struct {
	kind int
	text string // word text, or decoded string value
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{kind: tokLParen})
			i++
		case c == ')':
			out = append(out, token{kind: tokRParen})
			i++
		case c == '[':
			out = append(out, token{kind: tokLBracket})
			i++
		case c == ']':
			out = append(out, token{kind: tokRBracket})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, fmt.Errorf("invalid string at offset %d: %v", i, err)
			}
			out = append(out, token{kind: tokString, text: v})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()[]\"", rune(s[j])) {
				j++
			}
			out = append(out, token{kind: tokWord, text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) next() *token {
	t := p.peek()
	if t != nil {
		p.pos++
	}
	return t
}

// parseFilter parses a filter of the supported subset; every error is an
// invalidFilter (RFC 7644 §3.12).
func parseFilter(s string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.filter()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t != nil {
		return nil, fmt.Errorf("unexpected %s", describe(t))
	}
	return e, nil
}

func (p *parser) filter() (expr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind != tokWord {
			return l, nil
		}
		kw := strings.ToLower(t.text)
		if kw != "and" {
			if unsupportedOps[kw] {
				return nil, fmt.Errorf("%w %q: only eq and and are supported", errUnsupportedOperator, t.text)
			}
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
		p.next()
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
}

func (p *parser) term() (expr, error) {
	t := p.next()
	if t == nil {
		return nil, errors.New("unexpected end of filter")
	}
	switch t.kind {
	case tokLParen:
		e, err := p.filter()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c == nil || c.kind != tokRParen {
			return nil, errors.New("missing )")
		}
		return e, nil
	case tokWord:
	default:
		return nil, fmt.Errorf("unexpected %s", describe(t))
	}
	if strings.EqualFold(t.text, "not") {
		return nil, fmt.Errorf("%w %q: only eq and and are supported", errUnsupportedOperator, t.text)
	}
	attr := canonicalAttr(t.text)
	if n := p.peek(); n != nil && n.kind == tokLBracket {
		p.next()
		if attr != "emails" {
			return nil, fmt.Errorf("unknown multi-valued attribute %q", t.text)
		}
		sub, err := p.subFilter()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c == nil || c.kind != tokRBracket {
			return nil, errors.New("missing ]")
		}
		return emailsPath{sub}, nil
	}
	switch attr {
	case "id", "username", "externalid", "displayname", "active", "emails.value", "emails.type", "emails.primary":
	default:
		return nil, fmt.Errorf("unknown attribute %q", t.text)
	}
	v, err := p.opValue()
	if err != nil {
		return nil, err
	}
	return eqExpr{attr: attr, value: v}, nil
}

func (p *parser) subFilter() (subExpr, error) {
	l, err := p.subTerm()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind != tokWord {
			return l, nil
		}
		kw := strings.ToLower(t.text)
		if kw != "and" {
			if unsupportedOps[kw] {
				return nil, fmt.Errorf("%w %q: only eq and and are supported", errUnsupportedOperator, t.text)
			}
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
		p.next()
		r, err := p.subTerm()
		if err != nil {
			return nil, err
		}
		l = andSub{l, r}
	}
}

func (p *parser) subTerm() (subExpr, error) {
	t := p.next()
	if t == nil {
		return nil, errors.New("unexpected end of filter")
	}
	if t.kind == tokLParen {
		e, err := p.subFilter()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c == nil || c.kind != tokRParen {
			return nil, errors.New("missing )")
		}
		return e, nil
	}
	if t.kind != tokWord {
		return nil, fmt.Errorf("unexpected %s", describe(t))
	}
	attr := strings.ToLower(t.text)
	switch attr {
	case "value", "type", "primary":
	default:
		return nil, fmt.Errorf("unknown attribute %q of emails", t.text)
	}
	v, err := p.opValue()
	if err != nil {
		return nil, err
	}
	return eqSub{attr: attr, value: v}, nil
}

// opValue reads `eq compValue`.
func (p *parser) opValue() (any, error) {
	op := p.next()
	if op == nil || op.kind != tokWord {
		return nil, errors.New("missing operator")
	}
	kw := strings.ToLower(op.text)
	if kw != "eq" {
		if unsupportedOps[kw] {
			return nil, fmt.Errorf("%w %q: only eq and and are supported", errUnsupportedOperator, op.text)
		}
		return nil, fmt.Errorf("unknown operator %q", op.text)
	}
	v := p.next()
	if v == nil {
		return nil, errors.New("missing value")
	}
	switch v.kind {
	case tokString:
		return v.text, nil
	case tokWord:
		switch strings.ToLower(v.text) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		if f, err := strconv.ParseFloat(v.text, 64); err == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("invalid value %s", describe(v))
}

// canonicalAttr lower-cases an attribute path and drops the core User schema URN.
func canonicalAttr(s string) string {
	return strings.TrimPrefix(strings.ToLower(s), strings.ToLower(SchemaUser)+":")
}

func describe(t *token) string {
	switch t.kind {
	case tokString:
		return "string " + strconv.Quote(t.text)
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokLBracket:
		return `"["`
	case tokRBracket:
		return `"]"`
	}
	return strconv.Quote(t.text)
}
