package filter

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// compareOp is an attribute operator of RFC 7644 §3.4.2.2 (Table 3).
type compareOp uint8

const (
	opEq compareOp = iota
	opNe
	opCo
	opSw
	opEw
	opPr
	opGt
	opGe
	opLt
	opLe
)

var opNames = [...]string{
	opEq: "eq", opNe: "ne", opCo: "co", opSw: "sw", opEw: "ew",
	opPr: "pr", opGt: "gt", opGe: "ge", opLt: "lt", opLe: "le",
}

func (o compareOp) String() string { return opNames[o] }

// ordering reports whether the operator compares by order (gt, ge, lt, le).
func (o compareOp) ordering() bool { return o >= opGt }

// substring reports whether the operator is a substring match (co, sw, ew).
func (o compareOp) substring() bool { return o == opCo || o == opSw || o == opEw }

func parseOp(s string) (compareOp, bool) {
	for i, n := range opNames {
		if strings.EqualFold(s, n) {
			return compareOp(i), true
		}
	}
	return 0, false
}

// nodeKind is the kind of a compiled filter node.
type nodeKind uint8

const (
	kindAnd nodeKind = iota
	kindOr
	kindNot
	kindCmp       // attribute operator and value
	kindValuePath // attr[filter]: kids[0] applies to each element of attr
)

// valueKind is the type of a compiled comparison value.
type valueKind uint8

const (
	valNone valueKind = iota // "pr"
	valNull
	valString
	valBool
	valNumber
	valTime
)

// cmpValue is a filter comparison value, converted to the attribute's type at
// compile time.
type cmpValue struct {
	kind valueKind
	str  string // string value as written (also the text of a dateTime)
	fold string // str lower-cased, for attributes that are not caseExact
	b    bool
	num  float64
	t    time.Time
}

// node is one node of a compiled filter. Logical nodes are n-ary: a chain of
// "and" (or "or") is one node, whatever the parentheses.
type node struct {
	kind nodeKind
	kids []*node
	ref  attrRef
	op   compareOp
	val  cmpValue
}

// String renders the filter canonically: attribute names in schema case,
// extension attributes URN-qualified, operators in lower case, literals as
// JSON, parentheses only where precedence needs them.
func (n *node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case kindAnd, kindOr:
		sep := " and "
		if n.kind == kindOr {
			sep = " or "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			if n.kind == kindAnd && k.kind == kindOr {
				b.WriteByte('(')
				k.write(b)
				b.WriteByte(')')
				continue
			}
			k.write(b)
		}
	case kindNot:
		b.WriteString("not (")
		n.kids[0].write(b)
		b.WriteByte(')')
	case kindValuePath:
		b.WriteString(n.ref.String())
		b.WriteByte('[')
		n.kids[0].write(b)
		b.WriteByte(']')
	case kindCmp:
		b.WriteString(n.ref.String())
		b.WriteByte(' ')
		b.WriteString(n.op.String())
		if n.op == opPr {
			return
		}
		b.WriteByte(' ')
		n.val.write(b)
	}
}

func (v cmpValue) write(b *strings.Builder) {
	switch v.kind {
	case valNull:
		b.WriteString("null")
	case valBool:
		b.WriteString(strconv.FormatBool(v.b))
	case valNumber:
		b.WriteString(strconv.FormatFloat(v.num, 'g', -1, 64))
	case valString, valTime:
		writeJSONString(b, v.str)
	}
}

// writeJSONString writes s as a JSON string literal (RFC 8259 §7).
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF" // upper case: the generic parser takes no other
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			// Invalid bytes, and U+FFFD itself, so that the output is
			// valid UTF-8 and compiles back to the same text.
			b.WriteString(`\uFFFD`)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
