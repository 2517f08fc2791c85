package filter

import "slices"

// filtered applies an operation whose path has a value filter:
// emails[type eq "work"], emails[type eq "work"].value, members[value eq "id"].
// A single-valued complex attribute is its own only element. Remove of
// nothing is a no-op (retries of Entra and Okta); add and replace that match
// nothing create the element when the filter is a conjunction of eq (Entra
// sends emails[type eq "work"].value for users without a work email), and are
// noTarget otherwise.
func (p *patcher) filtered(kind string, pp *patchPath, v any) error {
	def := pp.ref.attr
	c := p.container(pp.ref.ext, kind != OpRemove && v != nil)
	if c == nil {
		return nil
	}
	defer p.pruneExt(pp.ref.ext)
	cur, has := getKey(c, def.name)
	var list []any
	if def.multi {
		list = slices.Clone(listOf(cur))
	} else if m, ok := cur.(map[string]any); ok {
		list = []any{m}
	}
	var matched []int
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && p.rs.eval(pp.filter, m) {
			matched = append(matched, i)
		}
	}
	if kind == OpRemove || v == nil {
		if kind == OpAdd || len(matched) == 0 {
			return nil
		}
		return p.removeMatched(c, def, pp.sub, list, matched)
	}
	var touched []int
	if len(matched) == 0 {
		if !def.multi && has && isPresent(cur) {
			return errorf(ScimTypeNoTarget, "attribute %s does not match the filter", quote(def.fullPath()))
		}
		elem, ok := eqTemplate(pp.filter)
		if !ok {
			return errorf(ScimTypeNoTarget, "no value of %s matches the filter", quote(def.fullPath()))
		}
		if pp.sub != nil {
			x, err := coerceAttr(pp.sub, v)
			if err != nil || x == nil {
				return err
			}
			elem[pp.sub.name] = x
		} else {
			w, err := coerceComplex(def, v)
			if err != nil || w == nil {
				return err
			}
			for k, x := range w {
				elem[k] = x
			}
		}
		list = append(list, elem)
		touched = append(touched, len(list)-1)
	} else {
		for _, i := range matched {
			e := list[i].(map[string]any)
			switch {
			case pp.sub != nil:
				x, err := coerceAttr(pp.sub, v)
				if err != nil {
					return err
				}
				if x == nil {
					err = removeSub(pp.sub, e)
				} else {
					err = setSub(pp.sub, e, x)
				}
				if err != nil {
					return err
				}
			case kind == OpAdd:
				w, err := coerceComplex(def, v)
				if err != nil {
					return err
				}
				if err := mergeInto(def, e, w); err != nil {
					return err
				}
			default:
				w, err := coerceComplex(def, v)
				if err != nil {
					return err
				}
				if err := checkImmutableSubs(def, e, w); err != nil {
					return err
				}
				if w == nil {
					w = map[string]any{}
				}
				list[i] = w
			}
			touched = append(touched, i)
		}
	}
	fixPrimary(def, list, touched)
	list = slices.DeleteFunc(list, func(e any) bool { return !isPresent(e) })
	if !def.multi {
		if len(list) == 0 {
			deleteKey(c, def.name)
		} else {
			setKey(c, def.name, list[0])
		}
		return nil
	}
	return writeList(c, def, list)
}

// removeMatched removes the matched elements, or their sub-attribute sub.
func (p *patcher) removeMatched(c map[string]any, def, sub *attrDef, list []any, matched []int) error {
	drop := make(map[int]bool, len(matched))
	for _, i := range matched {
		if sub == nil {
			if def.mut == mutImmutable {
				return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
			}
			drop[i] = true
			continue
		}
		m := list[i].(map[string]any)
		if err := removeSub(sub, m); err != nil {
			return err
		}
		if !isPresent(m) {
			drop[i] = true
		}
	}
	kept := make([]any, 0, len(list))
	for i, e := range list {
		if !drop[i] {
			kept = append(kept, e)
		}
	}
	if !def.multi {
		if len(kept) == 0 {
			deleteKey(c, def.name)
		}
		return nil
	}
	return writeList(c, def, kept)
}

// eqTemplate returns the element a filter that is a conjunction of eq
// comparisons describes, e.g. {"type": "work"} for type eq "work".
func eqTemplate(n *node) (map[string]any, bool) {
	switch n.kind {
	case kindCmp:
		def := n.ref.attr
		if n.op != opEq || n.ref.sub != nil || def == nil || def.readOnly() || def.typ == typeComplex {
			return nil, false
		}
		var v any
		switch n.val.kind {
		case valString, valTime:
			v = n.val.str
		case valBool:
			v = n.val.b
		case valNumber:
			v = n.val.num
		default:
			return nil, false
		}
		v, err := coerceAttr(def, v)
		if err != nil || v == nil {
			return nil, false
		}
		return map[string]any{def.name: v}, true
	case kindAnd:
		out := map[string]any{}
		for _, k := range n.kids {
			t, ok := eqTemplate(k)
			if !ok {
				return nil, false
			}
			for name, v := range t {
				if old, dup := out[name]; dup && !equalValues(old, v) {
					return nil, false
				}
				out[name] = v
			}
		}
		return out, true
	}
	return nil, false
}
