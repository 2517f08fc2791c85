package filter

import (
	"maps"
	"strings"
	"unicode/utf8"
)

// The default projection (neither attributes nor excludedAttributes) runs on
// every response and almost never removes anything. projectDefault gives the
// result projectExcluded gives with an empty selection, but without copying
// what the projection would leave as it is: a top-level value that the
// projection keeps whole is shared with res, and only the others are
// projected (and copied) as before. FuzzProjectDefaultEquivalence holds the
// two to the same result.

// projectDefault projects res when the request names no attributes and no
// excludedAttributes. The map is new; values of res that the projection
// keeps whole are shared with it.
func (s *resourceSchema) projectDefault(res map[string]any) map[string]any {
	var none selection
	ids := s.extIDs()
	out := maps.Clone(res) // cheaper than inserting each key anew
	for k, v := range res {
		var pv any
		var ok bool
		if e := s.extOf(k, ids); e != nil {
			if extIntact(e, v) {
				continue
			}
			pv, ok = none.excludeExt(e, v)
		} else {
			d := s.attr(k)
			if attrIntact(d, v) {
				continue
			}
			pv, ok = none.excludeTop(d, v)
		}
		if ok {
			out[k] = pv
		} else {
			delete(out, k)
		}
	}
	return out
}

// extIDs describes the extension ids of a schema for extOf.
type extIDs struct {
	ascii    bool // every id is ASCII
	shortest int  // the length of the shortest id
}

func (s *resourceSchema) extIDs() extIDs {
	ids := extIDs{ascii: true}
	for i, e := range s.exts {
		if !isASCII(e.id) {
			ids.ascii = false
		}
		if i == 0 || len(e.id) < ids.shortest {
			ids.shortest = len(e.id)
		}
	}
	return ids
}

// extOf is s.ext(k) without the allocation of strings.ToLower, which every
// key of a view that is not lower case (userName) would cost. When the ids
// are ASCII, s.extIndex holds them in ASCII lower case, the last one for ids
// that differ only in case. strings.ToLower maps each rune of k to one rune
// (an invalid byte to U+FFFD), so it only gives an ASCII id from a key at
// least as long: a shorter key names no extension, and an ASCII key names
// the last extension whose id equals it but for ASCII case.
func (s *resourceSchema) extOf(k string, ids extIDs) *extSchema {
	switch {
	case !ids.ascii:
		return s.ext(k)
	case len(k) < ids.shortest:
		return nil
	case !isASCII(k):
		return s.ext(k)
	}
	for i := len(s.exts) - 1; i >= 0; i-- {
		if strings.EqualFold(s.exts[i].id, k) { // ASCII both: ASCII case
			return s.exts[i]
		}
	}
	return nil
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// extIntact reports whether the default projection keeps the object v of
// extension e as it is: a non-empty object whose attributes are named in
// their canonical case and kept whole.
func extIntact(e *extSchema, v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	for k, av := range m {
		a := e.attr(k)
		if a != nil && a.name != k {
			return false // the projection renames it
		}
		if !attrIntact(a, av) {
			return false
		}
	}
	return true
}

// attrIntact reports whether the default projection keeps the value v of
// attribute d (nil when unknown) as it is, so that v may stand for its copy.
func attrIntact(d *attrDef, v any) bool {
	switch {
	case d == nil || d.ret == retAlways:
		return sameClone(v)
	case d.ret == retNever || d.ret == retRequest:
		return false
	case d.typ != typeComplex:
		return sameClone(v)
	}
	hides := hidesSubs(d)
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return false // dropped, as a list whose elements all end empty
		}
		for _, e := range x {
			if !elementIntact(d, e, hides) {
				return false
			}
		}
		return true
	case []map[string]any, []string:
		return false // copied as []any
	}
	return elementIntact(d, v, hides)
}

// elementIntact reports whether projectComplex keeps e, a value (or an
// element of a multi-valued value) of the complex attribute d, as it is;
// hides tells that some sub-attribute of d is returned never or request.
func elementIntact(d *attrDef, e any, hides bool) bool {
	m, ok := e.(map[string]any)
	if !ok {
		return e != nil && sameClone(e)
	}
	if len(m) == 0 {
		return false
	}
	for k, sv := range m {
		if hides {
			if sd := d.sub(k); sd != nil && (sd.ret == retNever || sd.ret == retRequest) {
				return false
			}
		}
		if !sameClone(sv) {
			return false
		}
	}
	return true
}

// hidesSubs reports whether the default projection drops some
// sub-attribute of d (returned never or request).
func hidesSubs(d *attrDef) bool {
	for _, sd := range d.subs {
		if sd.ret == retNever || sd.ret == retRequest {
			return true
		}
	}
	return false
}

// sameClone reports whether clone(v) is deeply equal to v, so that v may
// stand for its copy: it is unless v holds a nil map or list (clone makes
// them empty) or a []map[string]any or []string (clone makes them []any).
func sameClone(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !sameClone(e) {
				return false
			}
		}
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !sameClone(e) {
				return false
			}
		}
	case []map[string]any, []string:
		return false
	}
	return true
}
