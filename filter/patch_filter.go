package filter

// filtered applies an operation whose path has a value filter:
// emails[type eq "work"], emails[type eq "work"].value, members[value eq "id"].
// A single-valued complex attribute is its own only element. Remove of
// nothing is a no-op (retries of Entra and Okta); add and replace that match
// nothing create the element when the filter is a conjunction of eq not
// naming the element's value (Entra sends emails[type eq "work"].value for
// users without a work email), and are noTarget otherwise (members[value eq
// "id"] of a non-member).
func (p *patcher) filtered(kind string, pp *patchPath, v any) error {
	def := pp.ref.attr
	c := p.container(pp.ref.ext, kind != OpRemove && v != nil)
	if c == nil {
		return nil
	}
	defer p.pruneExt(pp.ref.ext)
	var l *elemList
	if def.multi {
		l = p.list(c, def)
	} else {
		// A private one-element list, written back below.
		cur, _ := getKey(c, def.name)
		var elems []any
		if m, ok := cur.(map[string]any); ok {
			elems = []any{m}
		}
		l = &elemList{def: def, c: c, elems: elems, dead: make([]bool, len(elems)), live: len(elems), seed: p.seed}
		defer func() {
			if !l.dirty {
				return
			}
			if vals := l.values(); len(vals) > 0 {
				setKey(c, def.name, vals[0])
			} else {
				deleteKey(c, def.name)
			}
		}()
	}
	matched, err := p.selectElems(l, pp.filter)
	if err != nil {
		return err
	}
	if kind == OpRemove || v == nil {
		if kind == OpAdd || len(matched) == 0 {
			return nil
		}
		return p.removeMatched(l, pp.sub, matched)
	}
	var touched []int
	if len(matched) == 0 {
		if cur, has := getKey(c, def.name); !def.multi && has && isPresent(cur) {
			return errorf(ScimTypeNoTarget, "attribute %s does not match the filter", quote(def.fullPath()))
		}
		elem, ok := eqTemplate(pp.filter)
		if _, byValue := elem["value"]; byValue {
			// The filter names one element by its value (members[value eq
			// "id"]): there is no such element to change (RFC 7644 §3.5.2.3).
			ok = false
		}
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
		touched = append(touched, l.add(elem))
	} else {
		for _, i := range matched {
			if err := p.changeMatched(kind, l, pp.sub, i, v); err != nil {
				return err
			}
			touched = append(touched, i)
		}
	}
	if err := p.fixPrimary(l, touched); err != nil {
		return err
	}
	for _, i := range touched {
		if !isPresent(l.elems[i]) {
			l.remove(i)
		}
	}
	return nil
}

// changeMatched applies an add or replace to the matched element at i: to
// its sub-attribute sub when given, else to the whole element (add merges,
// replace replaces).
func (p *patcher) changeMatched(kind string, l *elemList, sub *attrDef, i int, v any) error {
	def := l.def
	e := l.elems[i].(map[string]any)
	defer l.touch(i)
	switch {
	case sub != nil:
		x, err := coerceAttr(sub, v)
		if err != nil {
			return err
		}
		if x == nil {
			return removeSub(sub, e)
		}
		return setSub(sub, e, x)
	case kind == OpAdd:
		w, err := coerceComplex(def, v)
		if err != nil {
			return err
		}
		return mergeInto(def, e, w)
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
		l.elems[i] = w
		return nil
	}
}

// selectElems returns, in order, the positions of the elements of l the
// value filter n selects. An eq on an indexable sub-attribute (alone or in a
// conjunction) is looked up; anything else scans.
func (p *patcher) selectElems(l *elemList, n *node) ([]int, error) {
	cands, ok := p.filterCandidates(l, n)
	if !ok {
		cands = l.positions()
	}
	if err := p.spend(len(cands)); err != nil {
		return nil, err
	}
	matched := cands[:0]
	for _, i := range cands {
		if m, ok := l.elems[i].(map[string]any); ok && p.rs.eval(n, m) {
			matched = append(matched, i)
		}
	}
	return matched, nil
}

// filterCandidates returns the positions of the only elements that may
// satisfy the value filter n, ok false when no index applies.
func (p *patcher) filterCandidates(l *elemList, n *node) ([]int, bool) {
	if p.naive {
		return nil, false
	}
	switch n.kind {
	case kindCmp:
		sd, lit, ok := eqLookup(n)
		if !ok {
			return nil, false
		}
		return p.subCandidates(l, sd, lit, true)
	case kindAnd:
		best := -1
		var size int
		for i, k := range n.kids {
			sd, lit, ok := eqLookup(k)
			if !ok || !indexableSub(sd) {
				continue
			}
			if s := p.subBucketSize(l, sd, lit, true); best < 0 || s < size {
				best, size = i, s
			}
		}
		if best < 0 {
			return nil, false
		}
		return p.filterCandidates(l, n.kids[best])
	}
	return nil, false
}

// eqLookup returns the sub-attribute and the literal (folded for
// caseExact=false strings) of an eq comparison inside a value filter.
func eqLookup(n *node) (*attrDef, any, bool) {
	if n.kind != kindCmp || n.op != opEq || n.ref.attr == nil || n.ref.sub != nil {
		return nil, nil, false
	}
	switch n.val.kind {
	case valString:
		return n.ref.attr, n.val.fold, true
	case valBool:
		return n.ref.attr, n.val.b, true
	case valNumber:
		return n.ref.attr, n.val.num, true
	}
	return nil, nil, false
}

// removeMatched removes the matched elements, or their sub-attribute sub.
func (p *patcher) removeMatched(l *elemList, sub *attrDef, matched []int) error {
	for _, i := range matched {
		if sub == nil {
			if l.def.mut == mutImmutable {
				return errorf(ScimTypeMutability, "attribute %s is immutable", quote(l.def.fullPath()))
			}
			l.remove(i)
			continue
		}
		m := l.elems[i].(map[string]any)
		if err := removeSub(sub, m); err != nil {
			return err
		}
		l.touch(i)
		if !isPresent(m) {
			l.remove(i)
		}
	}
	return nil
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
