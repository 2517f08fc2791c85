package filter

// match reports whether res satisfies the compiled filter.
func (c *compiled) match(res map[string]any) bool {
	if c == nil || c.root == nil {
		return false
	}
	return c.rs.eval(c.root, res)
}

// eval evaluates n against m: the resource at the top level, one element of a
// multi-valued complex attribute inside a value filter.
func (rs *resourceSchema) eval(n *node, m map[string]any) bool {
	switch n.kind {
	case kindAnd:
		for _, k := range n.kids {
			if !rs.eval(k, m) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.kids {
			if rs.eval(k, m) {
				return true
			}
		}
		return false
	case kindNot:
		return !rs.eval(n.kids[0], m)
	case kindValuePath:
		return rs.evalValuePath(n, m)
	case kindCmp:
		return rs.evalCmp(n, m)
	}
	return false
}

// evalCmp applies an attribute operator. For a multi-valued attribute the
// filter matches when any value matches (RFC 7644 §3.4.2.2). "ne" is the
// negation of "eq": a missing attribute is not equal to anything, and a
// multi-valued attribute is "ne" a value when none of its values equals it.
// Comparing with null tests for an unassigned attribute (RFC 7643 §2.5).
func (rs *resourceSchema) evalCmp(n *node, m map[string]any) bool {
	switch n.op {
	case opPr:
		return rs.anyLeaf(n, m, presentPred)
	case opEq:
		if n.val.kind == valNull {
			return !rs.anyLeaf(n, m, presentPred)
		}
		return rs.anyLeaf(n, m, (*node).test)
	case opNe:
		if n.val.kind == valNull {
			return rs.anyLeaf(n, m, presentPred)
		}
		return !rs.anyLeaf(n, m, (*node).test)
	default:
		return rs.anyLeaf(n, m, (*node).test)
	}
}

// presentPred is the "pr" test of one value (RFC 7644 §3.4.2.2): a value of
// the attribute's type that is not empty; for a complex value, one with a
// present sub-attribute. Values of another type are not present.
func presentPred(n *node, v any) bool {
	if n.ref.attr == nil {
		return presentExt(n.ref.ext, v)
	}
	return presentValue(n.ref.leaf(), v)
}

// presentValue reports whether v, one value of def, is present.
func presentValue(def *attrDef, v any) bool {
	switch def.typ {
	case typeComplex:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, sd := range def.subs {
			if sv, ok := getKey(m, sd.name); ok && presentAttr(sd, sv) {
				return true
			}
		}
		return false
	case typeBoolean:
		_, ok := v.(bool)
		return ok
	case typeInteger, typeDecimal:
		_, ok := toFloat(v)
		return ok
	}
	s, ok := v.(string)
	return ok && s != ""
}

// presentAttr reports whether v, the whole value of def, is present.
func presentAttr(def *attrDef, v any) bool {
	if def.multi {
		return forEachElem(v, func(e any) bool { return presentValue(def, e) })
	}
	return presentValue(def, v)
}

// presentExt reports whether v is an extension object with a present attribute.
func presentExt(ext *extSchema, v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, a := range ext.attrs {
		if av, ok := getKey(m, a.name); ok && presentAttr(a, av) {
			return true
		}
	}
	return false
}

// evalValuePath evaluates attr[filter]: the filter must hold for one single
// element of attr. A single-valued complex attribute is its only element.
func (rs *resourceSchema) evalValuePath(n *node, m map[string]any) bool {
	v, ok := rs.attrValue(n.ref, m)
	if !ok {
		return false
	}
	inner := n.kids[0]
	if !n.ref.attr.multi {
		em, ok := v.(map[string]any)
		return ok && rs.eval(inner, em)
	}
	return forEachElem(v, func(e any) bool {
		em, ok := e.(map[string]any)
		return ok && rs.eval(inner, em)
	})
}

// attrValue returns the raw value n.ref names in m, resolving the extension
// object. A resource without "schemas" gets the derived list.
func (rs *resourceSchema) attrValue(ref attrRef, m map[string]any) (any, bool) {
	c := m
	if ref.ext != nil {
		v, ok := getKey(m, ref.ext.id)
		if !ok {
			return nil, false
		}
		if ref.attr == nil {
			return v, true
		}
		if c, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	v, ok := getKey(c, ref.attr.name)
	if !ok && ref.attr.isSchemas {
		return rs.derivedSchemas(m), true
	}
	return v, ok
}

// derivedSchemas lists the schema URIs of a resource view that carries no
// "schemas" attribute: the core schema and each extension present.
func (rs *resourceSchema) derivedSchemas(m map[string]any) []any {
	out := []any{rs.coreID}
	for _, e := range rs.exts {
		if v, ok := getKey(m, e.id); ok && presentExt(e, v) {
			out = append(out, e.id)
		}
	}
	return out
}

// anyLeaf reports whether pred holds for any value the comparison n addresses
// in m: the values of a multi-valued attribute, the sub-attribute of each
// element, and so on.
func (rs *resourceSchema) anyLeaf(n *node, m map[string]any, pred func(*node, any) bool) bool {
	v, ok := rs.attrValue(n.ref, m)
	if !ok {
		return false
	}
	ref := n.ref
	if ref.attr == nil {
		return pred(n, v)
	}
	if ref.sub == nil {
		if ref.attr.multi {
			return forEachElem(v, func(e any) bool { return pred(n, e) })
		}
		return pred(n, v)
	}
	sub := ref.sub
	leaf := func(e any) bool {
		em, ok := e.(map[string]any)
		if !ok {
			return false
		}
		sv, ok := getKey(em, sub.name)
		if !ok {
			return false
		}
		if sub.multi {
			return forEachElem(sv, func(x any) bool { return pred(n, x) })
		}
		return pred(n, sv)
	}
	if ref.attr.multi {
		return forEachElem(v, leaf)
	}
	return leaf(v)
}
