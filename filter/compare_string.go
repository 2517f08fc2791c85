package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// compileString prepares a literal for a string, reference or binary
// attribute. Binary values cannot be ordered (RFC 7644 §3.4.2.2).
func compileString(def *attrDef, op compareOp, v any) (cmpValue, error) {
	s, ok := v.(string)
	if !ok {
		return cmpValue{}, fmt.Errorf("%s attribute compared with a non-string value", def.typ)
	}
	if def.typ == typeBinary && op.ordering() {
		return cmpValue{}, fmt.Errorf("binary attributes cannot be compared with %s", op)
	}
	cv := cmpValue{kind: valString, str: s, fold: s}
	if !def.caseExact {
		cv.fold = strings.ToLower(s)
	}
	return cv, nil
}

// testString compares a resource value with a string literal, honouring the
// attribute's caseExact characteristic (RFC 7644 §3.4.2.2). Case-insensitive
// comparison is equality of strings.ToLower forms, so that it agrees with
// lower-cased index keys.
func (n *node) testString(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	want := n.val.fold
	if n.op == opEq || n.op == opNe {
		if n.ref.leaf().caseExact {
			return s == want
		}
		return equalLower(s, want)
	}
	if !n.ref.leaf().caseExact {
		s = strings.ToLower(s)
	}
	switch n.op {
	case opCo:
		return strings.Contains(s, want)
	case opSw:
		return strings.HasPrefix(s, want)
	case opEw:
		return strings.HasSuffix(s, want)
	}
	return ordered(n.op, strings.Compare(s, want))
}

// equalLower reports whether strings.ToLower(s) == lower without allocating.
func equalLower(s, lower string) bool {
	j := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if j >= len(lower) || lower[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		r = unicode.ToLower(r)
		if j >= len(lower) {
			return false
		}
		lr, lsize := utf8.DecodeRuneInString(lower[j:])
		if lr != r {
			return false
		}
		j += lsize
	}
	return j == len(lower)
}
