package filter

import "slices"

// removeAttr removes an attribute, or with a value only the given values:
// elements of a multi-valued attribute (Entra removes group members with
// {"op":"Remove","path":"members","value":[{"value":"id"}]}) or the value of
// a single-valued one when it is equal.
func (p *patcher) removeAttr(c map[string]any, def *attrDef, v any) error {
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
	if !def.multi {
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
	want, err := coerceList(def, v)
	if err != nil {
		return err
	}
	list := listOf(cur)
	kept := make([]any, 0, len(list))
	for _, e := range list {
		if !slices.ContainsFunc(want, func(w any) bool { return matchesGiven(def, e, w) }) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(list) {
		return nil
	}
	if def.mut == mutImmutable {
		return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
	}
	return writeList(c, def, kept)
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
		cur, _ := getKey(c, def.name)
		list := listOf(cur)
		if list == nil && cur != nil {
			list = []any{cur}
		}
		list, touched, err := addElements(def, slices.Clone(list), incoming)
		if err != nil {
			return err
		}
		fixPrimary(def, list, touched)
		return writeList(c, def, list)
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
		list, touched, err := addElements(def, nil, incoming)
		if err != nil {
			return err
		}
		if def.mut == mutImmutable {
			if cur, ok := getKey(c, def.name); ok && isPresent(cur) && !equalValues(cur, list) {
				return errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
			}
		}
		fixPrimary(def, list, touched)
		return writeList(c, def, list)
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
	cur, has := getKey(c, def.name)
	if !def.multi {
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
	list := listOf(cur)
	if kind == OpRemove || x == nil {
		if !has || kind == OpAdd {
			return nil
		}
		kept := make([]any, 0, len(list))
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if kind == OpRemove && v != nil {
					if ev, ok := getKey(m, sd.name); !ok || !sameScalar(sd, ev, v) {
						kept = append(kept, e)
						continue
					}
				}
				if err := removeSub(sd, m); err != nil {
					return err
				}
				if !isPresent(m) {
					continue
				}
			}
			kept = append(kept, e)
		}
		return writeList(c, def, kept)
	}
	if len(list) == 0 {
		list = []any{map[string]any{}}
	}
	touched := make([]int, 0, len(list))
	for i, e := range list {
		if m, ok := e.(map[string]any); ok {
			if err := setSub(sd, m, x); err != nil {
				return err
			}
			touched = append(touched, i)
		}
	}
	fixPrimary(def, list, touched)
	return writeList(c, def, list)
}
