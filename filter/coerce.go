package filter

import (
	"encoding/base64"
	"math"
	"slices"
	"strings"
)

// coerceAttr converts a client value to the schema type of def (RFC 7643
// §2.3), the way identity providers are known to send it: booleans and numbers
// as strings ("True", "42"), a single element where a list is expected, a bare
// value where a complex attribute with a "value" sub-attribute is expected.
// Unknown and readOnly sub-attributes are dropped. A nil result means
// unassigned (null, empty list, empty object; RFC 7643 §2.5). Numbers become
// float64, as encoding/json decodes them.
func coerceAttr(def *attrDef, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if def.multi {
		list, err := coerceList(def, v)
		if err != nil || len(list) == 0 {
			return nil, err
		}
		return list, nil
	}
	return coerceOne(def, v)
}

// coerceList converts the elements of a multi-valued attribute, dropping null
// ones. A value that is not a list is taken as a list of one element.
func coerceList(def *attrDef, v any) ([]any, error) {
	elems := listOf(v)
	if elems == nil {
		if v == nil {
			return nil, nil
		}
		if _, isObject := v.(map[string]any); def.typ == typeComplex && !isObject {
			// One object is taken as a list of one; a bare scalar is a wrong type.
			return nil, errorf(ScimTypeInvalidValue, "attribute %s must be an array of objects", quote(def.fullPath()))
		}
		elems = []any{v}
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		c, err := coerceOne(def, e)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// coerceOne converts one value (one element of a multi-valued attribute).
func coerceOne(def *attrDef, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if def.typ == typeComplex {
		m, err := coerceComplex(def, v)
		if err != nil || m == nil {
			return nil, err
		}
		return m, nil
	}
	return coerceScalar(def, v)
}

// coerceComplex converts one complex value. A bare scalar stands for
// {"value": scalar} when def has a "value" sub-attribute (Entra sends the
// manager that way).
func coerceComplex(def *attrDef, v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if def.valueSub != nil && listOf(v) == nil {
			x, err := coerceScalar(def.valueSub, v)
			if err != nil {
				return nil, err
			}
			return map[string]any{def.valueSub.name: x}, nil
		}
		return nil, errorf(ScimTypeInvalidValue, "attribute %s must be an object", quote(def.fullPath()))
	}
	out := make(map[string]any, len(m))
	var buf [8]string
	for _, k := range appendSortedKeys(buf[:0], m) {
		sd := def.sub(k)
		if sd == nil || sd.readOnly() {
			continue
		}
		c, err := coerceAttr(sd, m[k])
		if err != nil {
			return nil, err
		}
		if c != nil {
			out[sd.name] = c
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// checkComplex reports the error coerceComplex(def, v) would, without building
// the coerced object (ParsePatch checks every element of a 50-member add).
func checkComplex(def *attrDef, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		_, err := coerceComplex(def, v)
		return err
	}
	var buf [8]string
	for _, k := range appendSortedKeys(buf[:0], m) {
		sd := def.sub(k)
		if sd == nil || sd.readOnly() {
			continue
		}
		if err := checkAttr(sd, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// coerceScalar converts a value of a simple type. A value already of the
// type is returned as given, so that it is not boxed again.
func coerceScalar(def *attrDef, v any) (any, error) {
	bad := func(want string) error {
		return errorf(ScimTypeInvalidValue, "attribute %s must be %s", quote(def.fullPath()), want)
	}
	switch def.typ {
	case typeString, typeReference:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		if def.canonical == nil {
			return v, nil
		}
		for _, c := range def.canonical {
			if c == s || (!def.caseExact && strings.EqualFold(c, s)) {
				return c, nil
			}
		}
		return nil, bad("one of " + strings.Join(quoteAll(def.canonical), ", "))
	case typeBinary:
		s, ok := v.(string)
		if !ok || !isBase64(s) {
			return nil, bad("a base64 string")
		}
		return v, nil
	case typeBoolean:
		if _, ok := v.(bool); ok {
			return v, nil
		}
		if b, ok := parseBool(v); ok {
			return b, nil
		}
		return nil, bad("a boolean")
	case typeInteger:
		f, ok := parseNumber(v)
		if !ok || f != math.Trunc(f) {
			return nil, bad("an integer")
		}
		// Numbers are held as float64: beyond ±2^53 an integer is no longer
		// kept exactly (9007199254740993 would be stored as ...992), so it is
		// refused rather than silently changed (RFC 7643 §2.3.4).
		if math.Abs(f) >= 1<<53 {
			return nil, bad("an integer between -9007199254740991 and 9007199254740991")
		}
		return sameFloat(v, f), nil
	case typeDecimal:
		if f, ok := parseNumber(v); ok {
			return sameFloat(v, f), nil
		}
		return nil, bad("a number")
	case typeDateTime:
		if s, ok := v.(string); ok {
			if _, ok := parseDateTime(s); ok {
				return v, nil
			}
		}
		return nil, bad("a dateTime such as \"2026-01-01T00:00:00Z\"")
	}
	return nil, bad("a simple value")
}

// sameFloat returns v when it holds f as a float64 already, else f.
func sameFloat(v any, f float64) any {
	if _, ok := v.(float64); ok {
		return v
	}
	return f
}

// isBase64 reports whether s is base64 (RFC 4648 §4), padded or not.
func isBase64(s string) bool {
	s = strings.TrimRight(s, "=")
	_, err := base64.RawStdEncoding.DecodeString(s)
	return err == nil
}

// sameScalar reports whether two simple values are equal for def: strings
// by its caseExact characteristic, other types by value.
func sameScalar(def *attrDef, a, b any) bool {
	if def != nil && !def.caseExact {
		if sa, ok := a.(string); ok {
			sb, ok := b.(string)
			return ok && strings.ToLower(sa) == strings.ToLower(sb)
		}
	}
	return equalValues(a, b)
}

// sortedKeys returns the keys of m in a deterministic order.
func sortedKeys(m map[string]any) []string {
	return appendSortedKeys(make([]string, 0, len(m)), m)
}

// appendSortedKeys appends the keys of m to keys, sorted.
func appendSortedKeys(keys []string, m map[string]any) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

// checkAttr reports the error coerceAttr(def, v) would, without building the
// elements of a list given as bare values (Okta and Entra push members as
// lists of ids; ParsePatch checks them and Apply coerces them).
func checkAttr(def *attrDef, v any) error {
	elems := listOf(v)
	if !def.multi || def.typ != typeComplex || def.valueSub == nil || elems == nil {
		_, err := coerceAttr(def, v)
		return err
	}
	for _, e := range elems {
		var err error
		switch e.(type) {
		case nil:
		case map[string]any:
			err = checkComplex(def, e)
		case []any, []map[string]any, []string:
			_, err = coerceOne(def, e)
		default:
			_, err = coerceScalar(def.valueSub, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
