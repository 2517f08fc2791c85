package filter

import (
	"fmt"
	"strings"
	"time"
)

// compileDateTime prepares a literal for a dateTime attribute: eq, ne and the
// ordering operators compare instants (RFC 7644 §3.4.2.2 "chronological
// comparison"); co, sw and ew compare the text, case-insensitively.
func compileDateTime(op compareOp, v any) (cmpValue, error) {
	s, ok := v.(string)
	if !ok {
		return cmpValue{}, fmt.Errorf("dateTime attribute compared with a non-string value")
	}
	if op.substring() {
		return cmpValue{kind: valString, str: s, fold: strings.ToLower(s)}, nil
	}
	t, ok := parseDateTime(s)
	if !ok {
		return cmpValue{}, fmt.Errorf("%s is not an xsd:dateTime such as \"2026-01-01T00:00:00Z\"", quote(s))
	}
	return cmpValue{kind: valTime, str: s, t: t}, nil
}

// parseDateTime parses an xsd:dateTime (RFC 7643 §2.3.5): RFC 3339 with an
// optional zone, UTC when the zone is absent.
func parseDateTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func (n *node) testTime(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	t, ok := parseDateTime(s)
	if !ok {
		return false
	}
	return ordered(n.op, t.Compare(n.val.t))
}
