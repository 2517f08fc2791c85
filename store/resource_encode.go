package store

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Stored attributes are encoded on every write, and the SCIM endpoint
// encodes every response with the same code. AppendJSON writes exactly the
// bytes encoding/json produces from map[string]any (objects with sorted keys,
// HTML-safe strings, numbers as encoding/json formats them) without
// reflection; any other Go type, and any value whose encoding it does not
// reproduce exactly, goes through encoding/json. TestAppendJSONMatchesStdlib
// and FuzzAppendJSON prove the agreement.

// marshalAttrs encodes attributes like json.Marshal.
func marshalAttrs(attrs map[string]any) (string, error) {
	b, err := AppendJSON(make([]byte, 0, 512), attrs)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendJSON appends the JSON encoding of v to b, byte for byte what
// json.Marshal(v) writes. It is fast, without reflection, for the values
// encoding/json decodes into an any (nil, bool, string, float64,
// map[string]any, []any) and for []string.
func AppendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return AppendJSONString(b, x), nil
	case float64:
		if a := math.Abs(x); x == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil
		}
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = AppendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		return appendArray(b, x, AppendJSON)
	case []string:
		return appendArray(b, x, appendStringElem)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode JSON value: %w", err)
	}
	return append(b, js...), nil
}

// appendArray appends xs as a JSON array (null when nil), each element
// written by elem.
func appendArray[E any](b []byte, xs []E, elem func([]byte, E) ([]byte, error)) ([]byte, error) {
	if xs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, e := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = elem(b, e); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendStringElem is AppendJSONString as an element writer of appendArray.
func appendStringElem(b []byte, s string) ([]byte, error) { return AppendJSONString(b, s), nil }

// AppendJSONString appends s as a JSON string (RFC 8259 §7), byte for byte
// what json.Marshal(s) writes: HTML characters and U+2028/U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
