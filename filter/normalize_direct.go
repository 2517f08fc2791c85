package filter

import (
	"slices"
	"strings"
)

// The direct normalizer builds the normalized resource in one pass over a
// body in which every attribute is named once, by its name or its extension
// object, with lists of a few elements: the bodies Okta and Entra send on
// every create and PUT. It coerces with the functions the patcher uses and
// writes each value straight into the result, without the patcher's working
// lists, indexes, sorting and case-insensitive key bookkeeping. Anything
// else (dotted or URN-qualified extension attribute keys, an attribute named
// twice, a long list, a value that does not coerce) makes it give up
// (ok=false) before returning anything, and normalize runs the patcher,
// whose result and error stand. FuzzNormalizeEquivalence checks that both
// agree whenever the direct normalizer answers.
//
// Why the shortcuts give the patcher's result, given that each attribute is
// written once:
//   - keys are written with plain map assignments, which is what setKey does
//     when no two names of the schema are equal ignoring case
//     (resourceSchema.direct);
//   - the order of the top-level keys does not matter: they write disjoint
//     places; the order of the sub-attributes of a complex value does not
//     either, since two keys naming one sub-attribute make it give up;
//   - the elements of a list are merged with the first earlier element that
//     is sameElement, and the first primary one wins: what the indexes of
//     the patcher find;
//   - an extension object is dropped whenever it holds only empty strings
//     after one of its attributes (in key order) is written (pruneExt), so an
//     empty string survives only when its key sorts after the key of the
//     first non-empty value.

// maxDirectElems is the longest list the direct normalizer merges by
// comparing each element with the earlier ones; longer ones go to the
// patcher's indexes.
const maxDirectElems = 64

// directNormalizable reports whether the names of rs let the direct
// normalizer assign keys without looking for case variants: the keys of a
// normalized resource (attribute names and extension ids) pairwise distinct
// ignoring case, the attributes and sub-attributes of each extension and
// complex attribute too, and each extension id resolving to its extension
// object, its attributes to themselves.
func (rs *resourceSchema) directNormalizable() bool {
	keys := make([]string, 0, len(rs.attrs)+len(rs.exts))
	for _, d := range rs.attrs {
		keys = append(keys, d.name)
	}
	for _, e := range rs.exts {
		keys = append(keys, e.id)
		if strings.EqualFold(e.id, rs.coreID) || rs.ext(e.id) != e || !foldDistinct(e.attrs) {
			return false
		}
		if ref, msg := rs.resolveName(e.id); msg != "" || ref != (attrRef{ext: e}) {
			return false
		}
	}
	return distinctIgnoringCase(keys) && foldDistinct(rs.attrs)
}

// foldDistinct reports whether the names of defs, and of the
// sub-attributes of each, are pairwise distinct ignoring case.
func foldDistinct(defs []*attrDef) bool {
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.name
		subs := make([]string, len(d.subs))
		for j, s := range d.subs {
			subs[j] = s.name
		}
		if !distinctIgnoringCase(subs) {
			return false
		}
	}
	return distinctIgnoringCase(names)
}

func distinctIgnoringCase(names []string) bool {
	for i, a := range names {
		for _, b := range names[:i] {
			if strings.EqualFold(a, b) {
				return false
			}
		}
	}
	return true
}

// directNorm is the state of one direct normalization.
type directNorm struct {
	rs *resourceSchema
	// visits bounds from above the element examinations the patcher would
	// charge (patcher.spend); past maxScan the patcher decides.
	visits int
}

// normalizeDirect returns the normalized res, or ok=false when the direct
// normalizer does not handle it.
func (rs *resourceSchema) normalizeDirect(res map[string]any) (out map[string]any, ok bool) {
	if !rs.direct {
		return nil, false
	}
	d := directNorm{rs: rs}
	out = make(map[string]any, len(res))
	var buf [4]*extSchema
	seenExts := buf[:0]
	for k, v := range res {
		ref, use, ok := rs.directRef(k)
		if !ok {
			return nil, false
		}
		if !use {
			continue
		}
		if ref.attr != nil {
			if !d.attr(out, ref.attr, v) {
				return nil, false
			}
			continue
		}
		if slices.Contains(seenExts, ref.ext) {
			return nil, false
		}
		seenExts = append(seenExts, ref.ext)
		if !d.extObject(out, ref.ext, v) {
			return nil, false
		}
	}
	return out, true
}

// directRef resolves a top-level key as pathlessMap does: use is false for
// keys it ignores; ok is false for keys the direct normalizer does not
// handle. A resolved reference is a core attribute or an extension object.
func (rs *resourceSchema) directRef(k string) (ref attrRef, use, ok bool) {
	if validAttrName(k) {
		if a := rs.attr(k); a != nil {
			return attrRef{attr: a}, !a.readOnly(), true
		}
		// An extension attribute without its URN.
		return attrRef{}, false, rs.extAttr(k) == nil
	}
	for _, e := range rs.exts {
		if k == e.id {
			return attrRef{ext: e}, true, true
		}
	}
	ref, msg := rs.resolveName(k)
	switch {
	case msg != "":
		return attrRef{}, false, true
	case ref.attr == nil:
		return ref, true, true
	case ref.ext != nil || ref.sub != nil:
		return attrRef{}, false, false
	}
	return ref, !ref.attr.readOnly(), true
}

// directAttr resolves a key of the object of extension e as extObject does.
func (e *extSchema) directAttr(k string) (def *attrDef, use, ok bool) {
	if validAttrName(k) {
		a := e.attr(k)
		return a, a != nil && !a.readOnly(), true
	}
	if strings.IndexByte(k, ':') >= 0 {
		return nil, false, true
	}
	name, sub, dotted := strings.Cut(k, ".")
	return nil, false, !dotted || !validAttrName(name) || !validAttrName(sub)
}

// attr writes the coerced v as attribute def of container c, as addAttr
// does on an attribute not set yet; it gives up when def is set already.
func (d *directNorm) attr(c map[string]any, def *attrDef, v any) bool {
	if v == nil {
		return true
	}
	var x any
	switch {
	case def.multi:
		list, ok := d.list(def, v)
		if !ok {
			return false
		}
		if len(list) == 0 {
			return true
		}
		x = list
	case def.typ == typeComplex:
		m, ok := directComplex(def, v)
		if !ok {
			return false
		}
		if m == nil {
			return true
		}
		x = m
	default:
		s, err := coerceScalar(def, v)
		if err != nil {
			return false
		}
		x = s
	}
	if _, dup := c[def.name]; dup {
		return false
	}
	c[def.name] = x
	return true
}

// list coerces the values of a multi-valued attribute as coerceList does and
// merges them as addElements and fixPrimary do on an empty list.
func (d *directNorm) list(def *attrDef, v any) ([]any, bool) {
	elems := listOf(v)
	if elems == nil {
		if _, isObject := v.(map[string]any); def.typ == typeComplex && !isObject {
			return nil, false
		}
		elems = []any{v}
	}
	if len(elems) > maxDirectElems {
		return nil, false
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		if e == nil {
			continue
		}
		var w any
		if def.typ == typeComplex {
			m, ok := directComplex(def, e)
			if !ok {
				return nil, false
			}
			if m == nil {
				continue
			}
			w = m
		} else {
			x, err := coerceScalar(def, e)
			if err != nil {
				return nil, false
			}
			w = x
		}
		d.visits += len(out)
		i := slices.IndexFunc(out, func(o any) bool { return sameElement(def, o, w) })
		switch {
		case i < 0:
			out = append(out, w)
		case def.typ == typeComplex && !def.byValue:
			if !mergeElement(def, out[i], w) {
				return nil, false
			}
		}
	}
	if ps := def.primarySub; ps != nil {
		d.visits += len(out)
		winner := false
		for _, e := range out {
			if m, ok := e.(map[string]any); ok && m[ps.name] == true {
				if winner {
					m[ps.name] = false
				}
				winner = true
			}
		}
	}
	return out, d.visits <= maxScan
}

// mergeElement merges w into the element e it is the same as, keeping e's
// identifying sub-attributes, as addElements does.
func mergeElement(def *attrDef, e, w any) bool {
	em, ok := e.(map[string]any)
	wm, ok2 := w.(map[string]any)
	if !ok || !ok2 {
		return true
	}
	extra := make(map[string]any, len(wm))
	for k, x := range wm {
		if sd := def.sub(k); sd != def.valueSub && sd != def.typeSub {
			extra[k] = x
		}
	}
	return mergeInto(def, em, extra) == nil
}

// directComplex coerces one complex value (v not nil) as coerceComplex
// does; it gives up when two keys name one sub-attribute, since the patcher
// keeps the last in key order.
func directComplex(def *attrDef, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		w, err := coerceComplex(def, v)
		return w, err == nil
	}
	out := make(map[string]any, len(m))
	set := 0
	for k, x := range m {
		sd := def.sub(k)
		if sd == nil || sd.readOnly() {
			continue
		}
		c, err := coerceAttr(sd, x)
		if err != nil {
			return nil, false
		}
		if c != nil {
			out[sd.name] = c
			set++
		}
	}
	if set != len(out) {
		return nil, false
	}
	if len(out) == 0 {
		return nil, true
	}
	return out, true
}

// extObject writes the object of extension e from v as the patcher's
// extObject and pruneExt do.
func (d *directNorm) extObject(out map[string]any, e *extSchema, v any) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	obj := make(map[string]any, len(m))
	// first is the least key of a non-empty value; blanks the keys of the
	// empty strings written.
	var first string
	hasValue := false
	var blanks []string
	for k, x := range m {
		def, use, ok := e.directAttr(k)
		if !ok {
			return false
		}
		if !use {
			continue
		}
		n := len(obj)
		if !d.attr(obj, def, x) {
			return false
		}
		if len(obj) == n {
			continue
		}
		switch {
		case isEmptyValue(obj[def.name]):
			blanks = append(blanks, k, def.name)
		case !hasValue || k < first:
			first, hasValue = k, true
		}
	}
	if !hasValue {
		return true
	}
	for i := 0; i < len(blanks); i += 2 {
		if blanks[i] < first {
			delete(obj, blanks[i+1])
		}
	}
	out[e.id] = obj
	return true
}
