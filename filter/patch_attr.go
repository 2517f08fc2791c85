package filter

// removeAttr removes an attribute, or with a value only the given values:
// elements of a multi-valued attribute (Entra removes group members with
// {"op":"Remove","path":"members","value":[{"value":"id"}]}) or the value of
// a single-valued one when it is equal.
func (p *patcher) removeAttr(c map[string]any, def *attrDef, v any) error {
	if def.multi {
		return p.removeElems(c, def, v)
	}
	cur, ok := getKey(c, def.name)
	if !ok {
		return nil
	}
	if v == nil {
		if def.mut == mutImmutable && isPresent(cur) {
			return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
		}
		deleteKey(c, def.name)
		return nil
	}
	// A single-valued attribute goes when the value given designates it. Entra
	// may wrap it in a list like members ("value":[{"value":"mgr-id"}]); an
	// element without any value ({"value": null}) designates whatever is there.
	given := listOf(v)
	wrapped := given != nil
	if !wrapped {
		given = []any{v}
	}
	for _, g := range given {
		w, err := coerceOne(def, g)
		if err != nil {
			return err
		}
		if (w == nil && wrapped) || (w != nil && matchesGiven(def, cur, w)) {
			return p.removeAttr(c, def, nil)
		}
	}
	return nil
}

// removeElems removes a multi-valued attribute, or the elements the given
// values designate (matchesGiven). Each given value is looked up by one of
// its sub-attributes (the one with the fewest candidates), not by a scan.
func (p *patcher) removeElems(c map[string]any, def *attrDef, v any) error {
	l := p.list(c, def)
	if v == nil {
		if def.mut == mutImmutable && l.live > 0 && isPresent(l.values()) {
			return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
		}
		l.reset(nil)
		return nil
	}
	want, err := coerceList(def, v)
	if err != nil {
		return err
	}
	removed := false
	for _, w := range want {
		cands := p.givenCandidates(l, w)
		if err := p.spend(len(cands)); err != nil {
			return err
		}
		for _, i := range cands {
			if matchesGiven(def, l.elems[i], w) {
				l.remove(i)
				removed = true
			}
		}
	}
	if removed && def.mut == mutImmutable {
		return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
	}
	return nil
}

// givenCandidates returns, in order, the positions of the live elements
// the given value w may designate.
func (p *patcher) givenCandidates(l *elemList, w any) []int {
	def := l.def
	if def.typ != typeComplex {
		return p.sameCandidates(l, w)
	}
	wm, ok := w.(map[string]any)
	if !ok || len(wm) == 0 || p.naive {
		return l.positions()
	}
	var best *attrDef
	size := 0
	for k := range wm {
		sd := def.sub(k)
		if !indexableSub(sd) {
			continue
		}
		if s := p.subBucketSize(l, sd, wm[k], false); best == nil || s < size || (s == size && sd.name < best.name) {
			best, size = sd, s
		}
	}
	if best == nil {
		return l.positions()
	}
	cands, _ := p.subCandidates(l, best, wm[best.name], false)
	return cands
}

// matchesGiven reports whether the element e is designated by w: equal for a
// simple value; for a complex one, every sub-attribute given in w is equal
// in e.
func matchesGiven(def *attrDef, e, w any) bool {
	if def.typ != typeComplex {
		return sameScalar(def, e, w)
	}
	em, ok := e.(map[string]any)
	wm, ok2 := w.(map[string]any)
	if !ok || !ok2 || len(wm) == 0 {
		return false
	}
	for k, wv := range wm {
		ev, ok := getKey(em, k)
		if !ok || !sameScalar(def.sub(k), ev, wv) {
			return false
		}
	}
	return true
}

// addAttr implements add on an attribute (RFC 7644 §3.5.2.1): a multi-valued
// attribute gets the new values (a value already there is a no-op), a complex
// one gets the sub-attributes given merged in, a simple one is set.
func (p *patcher) addAttr(c map[string]any, def *attrDef, v any) error {
	if v == nil {
		return nil
	}
	if def.multi {
		incoming, err := coerceList(def, v)
		if err != nil {
			return err
		}
		l := p.list(c, def)
		l.dirty = true
		touched, err := p.addElements(l, incoming)
		if err != nil {
			return err
		}
		return p.fixPrimary(l, touched)
	}
	if def.typ == typeComplex {
		return p.complexValue(c, def, v)
	}
	x, err := coerceScalar(def, v)
	if err != nil {
		return err
	}
	return setScalar(c, def, x)
}

// replaceAttr implements replace on an attribute (RFC 7644 §3.5.2.3): a
// multi-valued attribute is replaced with all its values, a complex one gets
// the sub-attributes given replaced (others are left unchanged), a simple one
// is set. A null value removes the attribute (RFC 7643 §2.5).
func (p *patcher) replaceAttr(c map[string]any, def *attrDef, v any) error {
	if v == nil {
		return p.removeAttr(c, def, nil)
	}
	if def.multi {
		incoming, err := coerceList(def, v)
		if err != nil {
			return err
		}
		l := p.list(c, def)
		var old []any
		if def.mut == mutImmutable {
			old = l.values()
		}
		l.reset(nil)
		touched, err := p.addElements(l, incoming)
		if err != nil {
			return err
		}
		if def.mut == mutImmutable && isPresent(old) && !sameImmutable(def, old, l.values()) {
			return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
		}
		return p.fixPrimary(l, touched)
	}
	if def.typ == typeComplex {
		return p.complexValue(c, def, v)
	}
	x, err := coerceScalar(def, v)
	if err != nil {
		return err
	}
	return setScalar(c, def, x)
}

// complexValue merges a value into a single-valued complex attribute. A bare
// value (Entra's manager: "value": "id") replaces the whole attribute with
// {"value": v}, since it designates another object.
func (p *patcher) complexValue(c map[string]any, def *attrDef, v any) error {
	w, err := coerceComplex(def, v)
	if err != nil || w == nil {
		return err
	}
	cur, _ := getKey(c, def.name)
	curMap, _ := cur.(map[string]any)
	if _, isMap := v.(map[string]any); !isMap {
		if err := checkImmutableSubs(def, curMap, w); err != nil {
			return err
		}
		setKey(c, def.name, w)
		return nil
	}
	if curMap == nil {
		curMap = map[string]any{}
	}
	if err := mergeInto(def, curMap, w); err != nil {
		return err
	}
	setKey(c, def.name, curMap)
	return nil
}

// subAttr applies an operation to a sub-attribute path without filter
// ("name.givenName"; "emails.type" applies to every element).
func (p *patcher) subAttr(kind string, c map[string]any, def, sd *attrDef, v any) error {
	var x any
	if kind != OpRemove && v != nil {
		var err error
		if x, err = coerceAttr(sd, v); err != nil {
			return err
		}
	}
	if !def.multi {
		cur, _ := getKey(c, def.name)
		m, _ := cur.(map[string]any)
		if kind == OpRemove || x == nil {
			if m == nil || (kind == OpAdd) {
				return nil
			}
			if kind == OpRemove && v != nil {
				if ev, ok := getKey(m, sd.name); !ok || !sameScalar(sd, ev, v) {
					return nil
				}
			}
			if err := removeSub(sd, m); err != nil {
				return err
			}
			if !isPresent(m) {
				deleteKey(c, def.name)
			}
			return nil
		}
		if m == nil {
			m = map[string]any{}
		}
		if err := setSub(sd, m, x); err != nil {
			return err
		}
		setKey(c, def.name, m)
		return nil
	}
	l := p.list(c, def)
	if kind == OpRemove || x == nil {
		if l.live == 0 || kind == OpAdd {
			return nil
		}
		if err := p.spend(l.live); err != nil {
			return err
		}
		l.forgetIndexes()
		for _, i := range l.positions() {
			m, ok := l.elems[i].(map[string]any)
			if !ok {
				continue
			}
			if kind == OpRemove && v != nil {
				if ev, ok := getKey(m, sd.name); !ok || !sameScalar(sd, ev, v) {
					continue
				}
			}
			if err := removeSub(sd, m); err != nil {
				return err
			}
			if !isPresent(m) {
				l.remove(i)
			}
		}
		return nil
	}
	if l.live == 0 {
		l.add(map[string]any{})
	}
	if err := p.spend(l.live); err != nil {
		return err
	}
	l.forgetIndexes()
	touched := make([]int, 0, l.live)
	for _, i := range l.positions() {
		if m, ok := l.elems[i].(map[string]any); ok {
			if err := setSub(sd, m, x); err != nil {
				return err
			}
			touched = append(touched, i)
		}
	}
	return p.fixPrimary(l, touched)
}
