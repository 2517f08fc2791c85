package filter

import (
	"encoding/json"
	"fmt"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// compiler turns a syntax tree into nodes, checking names and types against
// the schema.
type compiler struct {
	rs       *resourceSchema
	scimType string // of the errors it returns
}

func (c *compiler) errorf(format string, args ...any) error {
	return errorf(c.scimType, format, args...)
}

// expr compiles e; scope is the complex attribute whose elements a value
// filter applies to, nil at the top level.
func (c *compiler) expr(e fp.Expression, scope *attrDef) (*node, error) {
	switch e := e.(type) {
	case *fp.AttributeExpression:
		return c.attrExp(e, scope)
	case *fp.LogicalExpression:
		var kind nodeKind
		switch {
		case strings.EqualFold(string(e.Operator), string(fp.AND)):
			kind = kindAnd
		case strings.EqualFold(string(e.Operator), string(fp.OR)):
			kind = kindOr
		default:
			return nil, c.errorf("unknown logical operator %s", quote(string(e.Operator)))
		}
		l, err := c.expr(e.Left, scope)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(e.Right, scope)
		if err != nil {
			return nil, err
		}
		n := &node{kind: kind}
		n.kids = appendFlat(n.kids, kind, l)
		n.kids = appendFlat(n.kids, kind, r)
		return n, nil
	case *fp.NotExpression:
		inner, err := c.expr(e.Expression, scope)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindNot, kids: []*node{inner}}, nil
	case *fp.ValuePath:
		if scope != nil {
			return nil, c.errorf("value filters cannot be nested inside %s", quote(scope.name))
		}
		ref, msg := c.rs.resolve(e.AttributePath, nil)
		if msg != "" {
			return nil, c.errorf("%s", msg)
		}
		if ref.attr == nil || ref.sub != nil || ref.attr.typ != typeComplex {
			return nil, c.errorf("value filter on %s, which is not a complex attribute", quote(e.AttributePath.String()))
		}
		if ref.attr.ret == retNever {
			return nil, c.errorf("attribute %s cannot be filtered on", quote(ref.String()))
		}
		inner, err := c.expr(e.ValueFilter, ref.attr)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindValuePath, ref: ref, kids: []*node{inner}}, nil
	default:
		return nil, c.errorf("unsupported filter expression")
	}
}

// appendFlat appends k to kids, splicing in its children when it is a logical
// node of the same kind (and/or are associative).
func appendFlat(kids []*node, kind nodeKind, k *node) []*node {
	if k.kind == kind {
		return append(kids, k.kids...)
	}
	return append(kids, k)
}

func (c *compiler) attrExp(e *fp.AttributeExpression, scope *attrDef) (*node, error) {
	ref, msg := c.rs.resolve(e.AttributePath, scope)
	if msg != "" {
		return nil, c.errorf("%s", msg)
	}
	op, ok := parseOp(string(e.Operator))
	if !ok {
		return nil, c.errorf("unknown operator %s", quote(string(e.Operator)))
	}
	n := &node{kind: kindCmp, ref: ref, op: op}
	if ref.attr == nil {
		if op != opPr {
			return nil, c.errorf("schema extension %s supports only the pr operator", quote(ref.ext.id))
		}
		return n, nil
	}
	def := ref.leaf()
	if def.ret == retNever || ref.attr.ret == retNever {
		return nil, c.errorf("attribute %s cannot be filtered on", quote(ref.String()))
	}
	if op == opPr {
		return n, nil
	}
	if def.typ == typeComplex {
		if def.valueSub == nil {
			return nil, c.errorf("complex attribute %s needs a sub-attribute for the %s operator", quote(ref.String()), op)
		}
		if scope != nil {
			n.ref.sub = nil
			n.ref.attr = def.valueSub
		} else {
			n.ref.sub = def.valueSub
		}
		def = def.valueSub
	}
	val, err := compileValue(def, op, e.CompareValue)
	if err != nil {
		return nil, c.errorf("%s: %v", n.ref.String(), err)
	}
	n.val = val
	return n, nil
}

// unescapeLiteral decodes the JSON escapes the generic parser leaves in string
// literals (it only strips the quotes).
func unescapeLiteral(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return "", fmt.Errorf("invalid string literal")
	}
	return out, nil
}
