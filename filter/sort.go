package filter

import (
	"strings"
	"time"
)

// comparator implements Comparator (RFC 7644 §3.4.2.3). A complex attribute
// sorts by its "value" sub-attribute; a multi-valued one by its primary
// element, else its first. Missing values, and values of an unexpected type,
// sort after all others (the caller reverses the order for "descending",
// which puts them first, as the RFC asks).
func comparator(rs *ResourceSchema, sortBy string) (func(a, b map[string]any) int, error) {
	if rs == nil || rs.impl == nil {
		return nil, internalError("filter: nil resource schema")
	}
	s := rs.impl
	name := strings.TrimSpace(sortBy)
	ref, msg := s.resolveName(name)
	if msg != "" {
		return nil, errorf(ScimTypeInvalidPath, "sortBy %s: %s", quote(name), msg)
	}
	if ref.attr == nil {
		return nil, errorf(ScimTypeInvalidPath, "sortBy %s: cannot sort by a schema extension object", quote(name))
	}
	if ref.leaf().typ == typeComplex {
		if ref.attr.valueSub == nil {
			return nil, errorf(ScimTypeInvalidPath, "sortBy %s: complex attribute without a \"value\" sub-attribute", quote(name))
		}
		ref.sub = ref.attr.valueSub
	}
	if ref.attr.ret == retNever || ref.leaf().ret == retNever {
		return nil, errorf(ScimTypeInvalidPath, "sortBy %s: attribute cannot be sorted by", quote(name))
	}
	return func(a, b map[string]any) int {
		va, oka := s.sortKey(ref, a)
		vb, okb := s.sortKey(ref, b)
		switch {
		case !oka && !okb:
			return 0
		case !oka:
			return 1
		case !okb:
			return -1
		}
		return compareSortKeys(va, vb)
	}, nil
}

// sortKey returns the value of res that sorts it, converted to its type:
// string (lower-cased unless caseExact), float64, bool or time.Time.
func (s *resourceSchema) sortKey(ref attrRef, res map[string]any) (any, bool) {
	v, ok := s.attrValue(ref, res)
	if !ok {
		return nil, false
	}
	if ref.attr.multi {
		v = pickElement(ref.attr, v)
	}
	if ref.sub != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = getKey(m, ref.sub.name); !ok {
			return nil, false
		}
	}
	leaf := ref.leaf()
	switch leaf.typ {
	case typeBoolean:
		b, ok := v.(bool)
		return b, ok
	case typeInteger, typeDecimal:
		f, ok := toFloat(v)
		return f, ok && f == f
	case typeDateTime:
		str, ok := v.(string)
		if !ok {
			return nil, false
		}
		t, ok := parseDateTime(str)
		return t, ok
	}
	str, ok := v.(string)
	if !ok {
		return nil, false
	}
	if !leaf.caseExact {
		str = strings.ToLower(str)
	}
	return str, true
}

// pickElement returns the primary element of a multi-valued attribute, else
// its first present one.
func pickElement(d *attrDef, v any) any {
	list := listOf(v)
	if list == nil {
		return v
	}
	if d.primarySub != nil {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m[d.primarySub.name] == true {
				return e
			}
		}
	}
	for _, e := range list {
		if isPresent(e) {
			return e
		}
	}
	return nil
}

// compareSortKeys compares two keys of the same type from sortKey.
func compareSortKeys(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return 0
}
