package filter

import (
	"reflect"
	"strings"
)

// getKey returns m[key], falling back to a case-insensitive match of the key
// (attribute names are case-insensitive, RFC 7643 §2.1).
func getKey(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// setKey stores v under the canonical key, dropping case variants of it.
func setKey(m map[string]any, key string, v any) {
	deleteKey(m, key)
	m[key] = v
}

// deleteKey removes key and its case variants from m.
func deleteKey(m map[string]any, key string) {
	delete(m, key)
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}

// forEachElem calls f on each element of a list value until f returns true,
// and reports whether it did. A value that is not a list counts as a list of
// one element.
func forEachElem(v any, f func(any) bool) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if f(e) {
				return true
			}
		}
		return false
	case []map[string]any:
		for _, e := range x {
			if f(e) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range x {
			if f(e) {
				return true
			}
		}
		return false
	case nil:
		return false
	}
	return f(v)
}

// isPresent reports whether v is a value in the sense of "pr" (RFC 7644
// §3.4.2.2): not null, not an empty string, not an empty list or object, and
// for lists and objects holding at least one present value.
func isPresent(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case map[string]any:
		for _, e := range x {
			if isPresent(e) {
				return true
			}
		}
		return false
	case []any, []map[string]any, []string:
		return forEachElem(x, isPresent)
	}
	return true
}

// clone deep-copies a decoded JSON value; lists become []any.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneMap(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = clone(v)
	}
	return out
}

// equalValues reports whether two decoded JSON values are equal, treating all
// numeric types alike and all list types alike.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalValues(xv, yv) {
				return false
			}
		}
		return true
	case []any, []map[string]any, []string:
		xs, ys := listOf(a), listOf(b)
		if ys == nil || len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if !equalValues(xs[i], ys[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// listOf returns the elements of a list value, nil when v is not a list.
func listOf(v any) []any {
	switch x := v.(type) {
	case []any:
		if x == nil {
			return []any{}
		}
		return x
	case []map[string]any, []string:
		return clone(x).([]any)
	}
	return nil
}
