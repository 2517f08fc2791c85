package filter

import (
	"fmt"
	"strings"
)

// compileBool prepares a literal for a boolean attribute: only eq and ne apply
// (RFC 7644 §3.4.2.2); the strings "true" and "false" in any case are accepted
// because Microsoft Entra ID sends them.
func compileBool(op compareOp, v any) (cmpValue, error) {
	if op != opEq && op != opNe {
		return cmpValue{}, fmt.Errorf("boolean attributes support only eq, ne and pr, not %s", op)
	}
	b, ok := parseBool(v)
	if !ok {
		return cmpValue{}, fmt.Errorf("boolean attribute compared with a non-boolean value")
	}
	return cmpValue{kind: valBool, b: b}, nil
}

// parseBool accepts a bool or the strings "true"/"false" in any case.
func parseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch {
		case strings.EqualFold(x, "true"):
			return true, true
		case strings.EqualFold(x, "false"):
			return false, true
		}
	}
	return false, false
}

func (n *node) testBool(v any) bool {
	b, ok := v.(bool)
	return ok && b == n.val.b
}
