// Package clip caps values of attacker-chosen size (a userName, an event id,
// an error quoting either, a request path) before they reach a log line or an
// error message: a 1 MB userName must not become megabytes of log per retry.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is the longest value, in bytes, that String keeps whole.
const Max = 256

// String returns s when it is at most Max bytes long, else its first Max bytes
// (cut on a rune boundary) followed by "…" and the full length, e.g.
// "aaaa…(+1048320 bytes)".
func String(s string) string {
	return N(s, Max)
}

// N is String with the limit n.
func N(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}

// Error returns err's message capped by ErrorMax (an error may quote several
// request values); "" for nil.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return N(err.Error(), ErrorMax)
}

// ErrorMax is the longest error message Error keeps whole.
const ErrorMax = 1024
