package filter

import (
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// attrRef is an attribute path resolved against a schema (RFC 7644 §3.10):
// an optional extension, the attribute and an optional sub-attribute. A nil
// attr with a non-nil ext names the extension object itself.
type attrRef struct {
	ext  *extSchema
	attr *attrDef
	sub  *attrDef
}

// leaf returns the definition the path ends at, nil for an extension object.
func (r attrRef) leaf() *attrDef {
	if r.sub != nil {
		return r.sub
	}
	return r.attr
}

// String renders the path canonically: schema case, URN-qualified for
// extension attributes, relative for sub-attributes inside a value filter.
func (r attrRef) String() string {
	var b strings.Builder
	if r.ext != nil {
		b.WriteString(r.ext.id)
		if r.attr != nil {
			b.WriteByte(':')
		}
	}
	if r.attr != nil {
		b.WriteString(r.attr.name)
	}
	if r.sub != nil {
		b.WriteByte('.')
		b.WriteString(r.sub.name)
	}
	return b.String()
}

// resolve resolves a parsed attribute path. scope is nil at the top level of a
// resource and the enclosing complex attribute inside a value filter, where
// names are relative to its sub-attributes. The returned string explains a
// failure and is safe to show to clients.
func (rs *resourceSchema) resolve(p fp.AttributePath, scope *attrDef) (attrRef, string) {
	if scope != nil {
		if p.URIPrefix != nil || p.SubAttribute != nil {
			return attrRef{}, "attribute " + quote(p.String()) + " is not a sub-attribute of " + quote(scope.name)
		}
		s := scope.sub(p.AttributeName)
		if s == nil {
			return attrRef{}, "unknown sub-attribute " + quote(p.AttributeName) + " of " + quote(scope.name)
		}
		return attrRef{attr: s}, ""
	}
	var ref attrRef
	switch {
	case p.URIPrefix != nil:
		uri := *p.URIPrefix
		switch {
		case strings.EqualFold(uri, rs.coreID):
			ref.attr = rs.attr(p.AttributeName)
		case rs.ext(uri) != nil:
			ref.ext = rs.ext(uri)
			ref.attr = ref.ext.attr(p.AttributeName)
		case p.SubAttribute == nil && rs.ext(uri+":"+p.AttributeName) != nil:
			return attrRef{ext: rs.ext(uri + ":" + p.AttributeName)}, ""
		default:
			return attrRef{}, "unknown schema " + quote(uri)
		}
	default:
		ref.attr = rs.attr(p.AttributeName)
		if ref.attr == nil {
			if a := rs.extAttr(p.AttributeName); a != nil {
				ref.ext, ref.attr = a.ext, a
			}
		}
	}
	if ref.attr == nil {
		return attrRef{}, "unknown attribute " + quote(p.String())
	}
	if p.SubAttribute != nil {
		if ref.attr.typ != typeComplex {
			return attrRef{}, "attribute " + quote(ref.attr.fullPath()) + " has no sub-attributes"
		}
		ref.sub = ref.attr.sub(*p.SubAttribute)
		if ref.sub == nil {
			return attrRef{}, "unknown attribute " + quote(p.String())
		}
	}
	return ref, ""
}

// resolveName resolves an attribute name as used in a resource body, a
// path-less PATCH value, "attributes" or "sortBy": optionally URN-qualified,
// optionally dotted. It never runs the generic parser.
func (rs *resourceSchema) resolveName(name string) (attrRef, string) {
	p, ok := splitAttrPath(name)
	if !ok {
		if e := rs.ext(name); e != nil {
			return attrRef{ext: e}, ""
		}
		return attrRef{}, "invalid attribute name " + quote(name)
	}
	return rs.resolve(p, nil)
}

// splitAttrPath splits "[urn:...:]name[.sub]" into a parsed attribute path
// following the grammar of RFC 7644 §3.4.2.2 (attrPath).
func splitAttrPath(s string) (fp.AttributePath, bool) {
	var p fp.AttributePath
	rest := s
	if k := strings.LastIndexByte(s, ':'); k >= 0 {
		uri := s[:k]
		if !validURI(uri) {
			return p, false
		}
		p.URIPrefix = &uri
		rest = s[k+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validAttrName(name) || (hasSub && !validAttrName(sub)) {
		return p, false
	}
	p.AttributeName = name
	if hasSub {
		p.SubAttribute = &sub
	}
	return p, true
}

// validURI reports whether s is a sequence of non-empty colon-separated
// segments of letters, digits, '-' and '.' (the URI rule of the filter grammar).
func validURI(s string) bool {
	if s == "" {
		return false
	}
	for _, seg := range strings.Split(s, ":") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' {
				return false
			}
		}
	}
	return true
}

// validAttrName reports whether s is an ATTRNAME (RFC 7644 §3.4.2.2), also
// accepting "$ref" (RFC 7643 §2.4).
func validAttrName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// quote renders s as a JSON string for error details and canonical filters.
func quote(s string) string {
	var b strings.Builder
	writeJSONString(&b, s)
	return b.String()
}
