package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// compileNumber prepares a literal for an integer or decimal attribute:
// substring operators do not apply. A number written as a string is accepted.
func compileNumber(def *attrDef, op compareOp, v any) (cmpValue, error) {
	if op.substring() {
		return cmpValue{}, fmt.Errorf("%s attributes cannot be compared with %s", def.typ, op)
	}
	f, ok := parseNumber(v)
	if !ok {
		return cmpValue{}, fmt.Errorf("%s attribute compared with a non-numeric value", def.typ)
	}
	return cmpValue{kind: valNumber, num: f}, nil
}

// parseNumber accepts JSON numbers in their Go forms and strings holding a
// JSON number. NaN and infinities are refused.
func parseNumber(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case string:
		if !isJSONNumber(x) {
			return 0, false
		}
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return 0, false
		}
	default:
		var ok bool
		if f, ok = toFloat(v); !ok {
			return 0, false
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// toFloat converts the numeric types a decoded resource may hold.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// isJSONNumber reports whether s follows the number grammar of RFC 8259 §6.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

func (n *node) testNumber(v any) bool {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) {
		return false
	}
	c := 0
	switch {
	case f < n.val.num:
		c = -1
	case f > n.val.num:
		c = 1
	}
	return ordered(n.op, c)
}
