package filter

import (
	"errors"
	"fmt"
)

// compileValue converts a filter literal to the type of def (RFC 7643 §2.3)
// and checks that op applies to that type (RFC 7644 §3.4.2.2). Literals come
// from either parser: strings (escapes not yet decoded by the generic one),
// booleans, json.Number and nil.
func compileValue(def *attrDef, op compareOp, v any) (cmpValue, error) {
	if v == nil {
		if op != opEq && op != opNe {
			return cmpValue{}, fmt.Errorf("null can only be compared with eq or ne")
		}
		return cmpValue{kind: valNull}, nil
	}
	if s, ok := v.(string); ok {
		u, err := unescapeLiteral(s)
		if err != nil {
			return cmpValue{}, err
		}
		v = u
	}
	switch def.typ {
	case typeBoolean:
		return compileBool(op, v)
	case typeInteger, typeDecimal:
		return compileNumber(def, op, v)
	case typeDateTime:
		return compileDateTime(op, v)
	case typeString, typeReference, typeBinary:
		return compileString(def, op, v)
	}
	return cmpValue{}, errors.New("unsupported attribute type")
}

// test reports whether one value of the resource satisfies the comparison
// (for ne: equals the literal; the caller negates). A value of an unexpected
// type never satisfies it.
func (n *node) test(v any) bool {
	switch n.val.kind {
	case valString:
		return n.testString(v)
	case valBool:
		return n.testBool(v)
	case valNumber:
		return n.testNumber(v)
	case valTime:
		return n.testTime(v)
	}
	return false
}

// ordered maps the result of a three-way comparison to the verdict of an
// equality or ordering operator.
func ordered(op compareOp, c int) bool {
	switch op {
	case opEq, opNe:
		return c == 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	}
	return false
}
