package filter

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONDecoder parses JSON straight into the values encoding/json produces for
// map[string]any (objects map[string]any, arrays []any, numbers float64,
// strings, bools, nil), without reflection and in one pass; strings without
// escapes are substrings of the input, not copies. Stored documents are
// decoded on every read (a hundred per list page) and request bodies on every
// write, so it matters. On any input the fast path does not accept (invalid
// JSON, numbers out of range, extreme nesting) it falls back to encoding/json,
// so results and errors are those of the standard library (the fuzz test
// FuzzDecodeJSONObject checks the agreement). The zero value is ready; a
// decoder is not safe for concurrent use.

// errJSONFallback means "let encoding/json decide".
var errJSONFallback = errors.New("json: not decoded by the fast path")

// jsonMaxDepth bounds nesting, as encoding/json does.
const jsonMaxDepth = 10000

// DecodeJSONObject decodes data, which must hold one JSON object.
func DecodeJSONObject(data string) (map[string]any, error) {
	var d JSONDecoder
	return d.DecodeObject(data)
}

// DecodeJSONArray decodes data, which must hold one JSON array.
func DecodeJSONArray(data string) ([]any, error) {
	var d JSONDecoder
	return d.DecodeArray(data)
}

// DecodeObject decodes data, which must hold one JSON object.
func (d *JSONDecoder) DecodeObject(data string) (map[string]any, error) {
	if m, ok := d.fastObject(data); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeArray decodes data, which must hold one JSON array.
func (d *JSONDecoder) DecodeArray(data string) ([]any, error) {
	d.reset(data)
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '[' {
		if v, err := d.array(0); err == nil {
			d.skipSpace()
			if d.i == len(d.data) {
				return v, nil
			}
		}
	}
	var a []any
	if err := json.Unmarshal([]byte(data), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// fastObject decodes data on the fast path; ok is false when it cannot.
func (d *JSONDecoder) fastObject(data string) (map[string]any, bool) {
	d.reset(data)
	d.skipSpace()
	if d.i >= len(d.data) || d.data[d.i] != '{' {
		return nil, false
	}
	m, err := d.object(0)
	if err != nil {
		return nil, false
	}
	d.skipSpace()
	return m, d.i == len(d.data)
}

// fastDecodeObject is fastObject on a fresh decoder.
func fastDecodeObject(data string) (map[string]any, bool) {
	var d JSONDecoder
	return d.fastObject(data)
}

// FastJSONObject reports whether data is a JSON object the fast path decodes
// (without falling back to encoding/json).
func FastJSONObject(data string) bool {
	_, ok := fastDecodeObject(data)
	return ok
}

func (d *JSONDecoder) reset(data string) { d.data, d.i = data, 0 }

// JSONDecoder: see the top of this file.
type JSONDecoder struct {
	data string
	i    int
}

func (d *JSONDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *JSONDecoder) value(depth int) (any, error) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, errJSONFallback
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, errJSONFallback
}

func (d *JSONDecoder) literal(lit string) error {
	if len(d.data)-d.i < len(lit) || d.data[d.i:d.i+len(lit)] != lit {
		return errJSONFallback
	}
	d.i += len(lit)
	return nil
}

func (d *JSONDecoder) object(depth int) (map[string]any, error) {
	if depth++; depth > jsonMaxDepth {
		return nil, errJSONFallback
	}
	d.i++ // '{'
	m := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, errJSONFallback
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, errJSONFallback
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v // a repeated key: the last wins, as in encoding/json
		if done, err := d.afterElement('}'); err != nil {
			return nil, err
		} else if done {
			return m, nil
		}
	}
}

func (d *JSONDecoder) array(depth int) ([]any, error) {
	if depth++; depth > jsonMaxDepth {
		return nil, errJSONFallback
	}
	d.i++ // '['
	a := []any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := d.afterElement(']'); err != nil {
			return nil, err
		} else if done {
			return a, nil
		}
	}
}

// afterElement consumes what follows an element of an object or array: a
// comma (done false) or the closing byte end (done true).
func (d *JSONDecoder) afterElement(end byte) (done bool, err error) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return false, errJSONFallback
	}
	switch d.data[d.i] {
	case ',':
		d.i++
		return false, nil
	case end:
		d.i++
		return true, nil
	}
	return false, errJSONFallback
}

// str decodes a string at d.i (on its opening quote).
func (d *JSONDecoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return d.data[start : d.i-1], nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return d.slowStr(start)
		}
		d.i++
	}
	return "", errJSONFallback
}

// slowStr decodes a string holding escapes or non-ASCII bytes like
// encoding/json: invalid UTF-8 and lone surrogates become U+FFFD.
func (d *JSONDecoder) slowStr(start int) (string, error) {
	buf := make([]byte, d.i-start, d.i-start+16)
	copy(buf, d.data[start:d.i])
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c < 0x20:
			return "", errJSONFallback
		case c == '\\':
			if d.i+1 >= len(d.data) {
				return "", errJSONFallback
			}
			e := d.data[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", errJSONFallback
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						if x, ok := d.hex4(); ok {
							if dec := utf16.DecodeRune(r, x); dec != utf8.RuneError {
								r2 = dec
							} else {
								d.i = save // not a pair: the second escape stands alone
							}
						} else {
							return "", errJSONFallback
						}
					}
					r = r2
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", errJSONFallback
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.data[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return "", errJSONFallback
}

func (d *JSONDecoder) hex4() (rune, bool) {
	if len(d.data)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.data[d.i : d.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}

// number decodes a JSON number (RFC 8259 §6) as float64.
func (d *JSONDecoder) number() (float64, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.data) {
		return 0, errJSONFallback
	}
	switch c := d.data[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
	default:
		return 0, errJSONFallback
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if !d.digits() {
			return 0, errJSONFallback
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return 0, errJSONFallback
		}
	}
	f, err := strconv.ParseFloat(d.data[start:d.i], 64)
	if err != nil {
		return 0, errJSONFallback
	}
	return f, nil
}

func (d *JSONDecoder) digits() bool {
	start := d.i
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}
