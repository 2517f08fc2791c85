package store

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Stored attributes are encoded on every write. appendJSON writes the values
// encoding/json produces from map[string]any (objects with sorted keys,
// HTML-safe strings, numbers as encoding/json formats them) without
// reflection; any other Go type, and any value whose encoding it does not
// reproduce exactly, goes through encoding/json. TestAppendJSONMatchesStdlib
// proves the agreement.

// marshalAttrs encodes attributes like json.Marshal.
func marshalAttrs(attrs map[string]any) (string, error) {
	b, err := appendJSON(make([]byte, 0, 512), attrs)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendJSONString(b, x), nil
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
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode attribute value: %w", err)
	}
	return append(b, js...), nil
}

// appendJSONString appends s as a JSON string: plain printable ASCII
// directly, anything else (escapes, HTML characters, non-ASCII, invalid
// UTF-8) through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
