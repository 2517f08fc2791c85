package filter

// addElements adds incoming elements to l, skipping those already there
// (RFC 7644 §3.5.2.1: no change when the value exists). Elements of
// byValue attributes (group members) are identified by "value" alone; other
// complex elements with a "value" by value and type, and get the new
// sub-attributes merged in. It returns the positions of new or merged
// elements. The element an incoming one is the same as is found through
// the identity index: O(1) per element, not a scan of the list.
func (p *patcher) addElements(l *elemList, incoming []any) ([]int, error) {
	def := l.def
	if !p.naive {
		l.reserve(len(incoming))
	}
	touched := make([]int, 0, len(incoming))
	for _, w := range incoming {
		i, examined := -1, 0
		for _, j := range p.sameCandidates(l, w) {
			examined++
			if sameElement(def, l.elems[j], w) {
				i = j
				break
			}
		}
		if err := p.spend(examined); err != nil {
			return nil, err
		}
		switch {
		case i < 0:
			touched = append(touched, l.add(w))
		case def.typ == typeComplex && !def.byValue:
			e, ok := l.elems[i].(map[string]any)
			wm, ok2 := w.(map[string]any)
			if ok && ok2 {
				// The identifying sub-attributes are equal already, maybe
				// up to case: keep the stored spelling.
				extra := make(map[string]any, len(wm))
				for k, x := range wm {
					if sd := def.sub(k); sd != def.valueSub && sd != def.typeSub {
						extra[k] = x
					}
				}
				if err := mergeInto(def, e, extra); err != nil {
					return nil, err
				}
				l.touch(i)
				touched = append(touched, i)
			}
		}
	}
	return touched, nil
}

// sameElement reports whether e and w are the same element of def.
func sameElement(def *attrDef, e, w any) bool {
	if def.typ != typeComplex {
		return sameScalar(def, e, w)
	}
	em, ok := e.(map[string]any)
	wm, ok2 := w.(map[string]any)
	if !ok || !ok2 {
		return false
	}
	if def.valueSub == nil {
		return equalValues(em, wm)
	}
	ev, eok := getKey(em, def.valueSub.name)
	wv, wok := getKey(wm, def.valueSub.name)
	if !eok || !wok || !sameScalar(def.valueSub, ev, wv) {
		return false
	}
	if def.byValue || def.typeSub == nil {
		return true
	}
	et, eok := getKey(em, def.typeSub.name)
	wt, wok := getKey(wm, def.typeSub.name)
	if eok != wok {
		return false
	}
	return !eok || sameScalar(def.typeSub, et, wt)
}

// mergeInto sets the sub-attributes of w in e.
func mergeInto(def *attrDef, e, w map[string]any) error {
	for _, k := range sortedKeys(w) {
		sd := def.sub(k)
		if sd == nil {
			continue
		}
		if err := setSub(sd, e, w[k]); err != nil {
			return err
		}
	}
	return nil
}

// setSub sets a sub-attribute, refusing to change an immutable one.
func setSub(sd *attrDef, m map[string]any, x any) error {
	if old, ok := getKey(m, sd.name); ok && sd.mut == mutImmutable && isPresent(old) && !equalValues(old, x) {
		return errorf(ScimTypeMutability, "attribute %s is immutable", quote(sd.fullPath()))
	}
	setKey(m, sd.name, x)
	return nil
}

// removeSub removes a sub-attribute, refusing to remove an immutable one.
func removeSub(sd *attrDef, m map[string]any) error {
	old, ok := getKey(m, sd.name)
	if !ok {
		return nil
	}
	if sd.mut == mutImmutable && isPresent(old) {
		return errorf(ScimTypeMutability, "attribute %s is immutable", quote(sd.fullPath()))
	}
	deleteKey(m, sd.name)
	return nil
}

// checkImmutableSubs refuses a replacement of element old by w that changes
// or drops an immutable sub-attribute.
func checkImmutableSubs(def *attrDef, old, w map[string]any) error {
	if old == nil {
		return nil
	}
	for _, sd := range def.subs {
		if sd.mut != mutImmutable {
			continue
		}
		ov, ok := getKey(old, sd.name)
		if !ok || !isPresent(ov) {
			continue
		}
		nv, _ := getKey(w, sd.name)
		if !equalValues(ov, nv) {
			return errorf(ScimTypeMutability, "attribute %s is immutable", quote(sd.fullPath()))
		}
	}
	return nil
}

// setScalar sets a simple single-valued attribute.
func setScalar(c map[string]any, def *attrDef, x any) error {
	if old, ok := getKey(c, def.name); ok && def.mut == mutImmutable && isPresent(old) && !equalValues(old, x) {
		return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
	}
	setKey(c, def.name, x)
	return nil
}

// writeList stores a multi-valued attribute, removing it when empty.
func writeList(c map[string]any, def *attrDef, list []any) error {
	if len(list) == 0 {
		deleteKey(c, def.name)
		return nil
	}
	setKey(c, def.name, list)
	return nil
}

// fixPrimary keeps at most one element with primary=true (RFC 7643 §2.4):
// when a touched element is primary, every other one stops being primary.
// The other primary elements are found through the index of "primary".
func (p *patcher) fixPrimary(l *elemList, touched []int) error {
	ps := l.def.primarySub
	if ps == nil {
		return nil
	}
	name := ps.name
	winner := -1
	for _, i := range touched {
		if m, ok := l.elems[i].(map[string]any); ok && !l.dead[i] && m[name] == true {
			winner = i
			break
		}
	}
	if winner < 0 {
		return nil
	}
	cands, ok := p.subCandidates(l, ps, true, false)
	if !ok {
		cands = l.positions()
	}
	if err := p.spend(len(cands)); err != nil {
		return err
	}
	for _, j := range cands {
		if m, ok := l.elems[j].(map[string]any); ok && j != winner && m[name] == true {
			m[name] = false
			l.touch(j)
		}
	}
	return nil
}
