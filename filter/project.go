package filter

import "strings"

// project implements Project (RFC 7644 §3.4.2.5 and §3.9; RFC 7643 §7
// "returned"). Attributes returned "always" (id, and schemas) are kept
// whatever the parameters, "never" ones (password) always dropped, "request"
// ones only kept when named. Names that do not resolve are ignored. Unknown
// keys of res are dropped when attributes is given and kept otherwise.
func project(rs *ResourceSchema, res map[string]any, attributes, excluded []string) map[string]any {
	if rs == nil || rs.impl == nil || res == nil {
		return nil
	}
	s := rs.impl
	switch {
	case len(attributes) > 0:
		return s.projectAttributes(res, s.selection(attributes))
	case len(excluded) > 0:
		return s.projectExcluded(res, s.selection(excluded))
	}
	return s.projectDefault(res)
}

// projectAttributes projects res for an "attributes" request.
func (s *resourceSchema) projectAttributes(res map[string]any, sel selection) map[string]any {
	out := make(map[string]any, len(res))
	for k, v := range res {
		if e := s.ext(k); e != nil {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			pm := map[string]any{}
			for ak, av := range m {
				a := e.attr(ak)
				if a == nil || a.ret == retNever {
					continue
				}
				if pv, ok := sel.pick(a, av, sel.exts[e]); ok {
					pm[a.name] = pv
				}
			}
			if len(pm) > 0 {
				out[k] = pm
			}
			continue
		}
		d := s.attr(k)
		if d == nil || d.ret == retNever {
			continue
		}
		if pv, ok := sel.pick(d, v, d.ret == retAlways); ok {
			out[k] = pv
		}
	}
	return out
}

// projectExcluded projects res for an "excludedAttributes" request (and,
// with an empty ex, for none).
func (s *resourceSchema) projectExcluded(res map[string]any, ex selection) map[string]any {
	out := make(map[string]any, len(res))
	for k, v := range res {
		if e := s.ext(k); e != nil {
			if pm, ok := ex.excludeExt(e, v); ok {
				out[k] = pm
			}
			continue
		}
		if pv, ok := ex.excludeTop(s.attr(k), v); ok {
			out[k] = pv
		}
	}
	return out
}

// excludeTop projects the top-level attribute d (nil when unknown: kept)
// for an "excludedAttributes" request.
func (sel selection) excludeTop(d *attrDef, v any) (any, bool) {
	if d == nil {
		return clone(v), true
	}
	return sel.exclude(d, v, false)
}

// excludeExt projects the object v of extension e for an
// "excludedAttributes" request; an object that ends empty is dropped.
func (sel selection) excludeExt(e *extSchema, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	gone := sel.exts[e] // excluded, but for its returned:always attributes
	pm := map[string]any{}
	for ak, av := range m {
		a := e.attr(ak)
		if a == nil {
			if !gone {
				pm[ak] = clone(av)
			}
			continue
		}
		if pv, ok := sel.exclude(a, av, gone); ok {
			pm[a.name] = pv
		}
	}
	return pm, len(pm) > 0
}

// selection is a set of attribute names resolved against a schema.
type selection struct {
	attrs map[*attrDef]bool   // whole attributes
	subs  map[*attrDef]bool   // sub-attributes
	exts  map[*extSchema]bool // whole extension objects
}

func (s *resourceSchema) selection(names []string) selection {
	sel := selection{attrs: map[*attrDef]bool{}, subs: map[*attrDef]bool{}, exts: map[*extSchema]bool{}}
	for _, n := range names {
		ref, msg := s.resolveName(strings.TrimSpace(n))
		switch {
		case msg != "":
		case ref.attr == nil:
			sel.exts[ref.ext] = true
		case ref.sub != nil:
			sel.subs[ref.sub] = true
		default:
			sel.attrs[ref.attr] = true
		}
	}
	return sel
}

// pick projects attribute d for an "attributes" request: the whole of it
// when named (or when whole is set), else only the named sub-attributes.
func (sel selection) pick(d *attrDef, v any, whole bool) (any, bool) {
	whole = whole || sel.attrs[d] || d.ret == retAlways
	if d.ret == retRequest && !sel.attrs[d] {
		return nil, false
	}
	if d.typ != typeComplex {
		return clone(v), whole
	}
	keep := func(sd *attrDef) bool {
		if sd.ret == retNever {
			return false
		}
		if sel.subs[sd] || sd.ret == retAlways {
			return true
		}
		return whole && sd.ret != retRequest
	}
	pv := projectComplex(d, v, keep, false)
	return pv, pv != nil
}

// exclude projects attribute d for an "excludedAttributes" request; gone
// tells that d is excluded through its extension. An excluded attribute
// keeps its returned:always sub-attributes (RFC 7644 §3.9: those SHALL be
// returned).
func (sel selection) exclude(d *attrDef, v any, gone bool) (any, bool) {
	gone = gone || sel.attrs[d]
	switch {
	case d.ret == retAlways:
		return clone(v), true
	case d.ret == retNever || d.ret == retRequest:
		return nil, false
	case d.typ != typeComplex:
		return clone(v), !gone
	}
	keep := func(sd *attrDef) bool {
		if sd.ret == retAlways {
			return true
		}
		return !gone && sd.ret != retNever && sd.ret != retRequest && !sel.subs[sd]
	}
	pv := projectComplex(d, v, keep, !gone)
	return pv, pv != nil
}

// projectComplex copies a complex value (or each element of a multi-valued
// one) keeping the sub-attributes keep accepts; unknown sub-attributes are
// kept when keepUnknown is set. Empty results are dropped.
func projectComplex(d *attrDef, v any, keep func(*attrDef) bool, keepUnknown bool) any {
	one := func(e any) any {
		m, ok := e.(map[string]any)
		if !ok {
			return clone(e)
		}
		out := make(map[string]any, len(m))
		for k, sv := range m {
			sd := d.sub(k)
			if (sd == nil && keepUnknown) || (sd != nil && keep(sd)) {
				out[k] = clone(sv)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if list := listOf(v); list != nil {
		out := make([]any, 0, len(list))
		for _, e := range list {
			if pe := one(e); pe != nil {
				out = append(out, pe)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return one(v)
}
