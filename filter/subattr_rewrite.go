package filter

import "strings"

// rewriteValuePathSub turns `attr[valFilter].sub op value` — not in the RFC 7644
// grammar, but sent by Microsoft Entra ID when users are matched on a work email
// (`emails[type eq "work"].value eq "x"`) — into the equivalent
// `attr[valFilter and sub op value]`. It accepts only a whole filter of exactly
// that shape (one comparison after the value path, nothing after it); anything
// else reports false and keeps its syntax error.
func rewriteValuePathSub(s string) (string, bool) {
	open := strings.IndexByte(s, '[')
	if open <= 0 || strings.ContainsAny(s[:open], " \t\"()") {
		return "", false
	}
	close := matchingBracket(s, open)
	if close < 0 || close+1 >= len(s) || s[close+1] != '.' {
		return "", false
	}
	rest := s[close+2:]
	i := 0
	for i < len(rest) && isAttrNameByte(rest[i]) {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != ' ' {
		return "", false
	}
	sub, cmp := rest[:i], strings.TrimLeft(rest[i:], " ")
	op, operand, _ := strings.Cut(cmp, " ")
	switch strings.ToLower(op) {
	case "pr":
		if strings.TrimSpace(operand) != "" {
			return "", false
		}
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		if !singleValue(strings.TrimSpace(operand)) {
			return "", false
		}
	default:
		return "", false
	}
	return s[:close] + " and " + sub + " " + cmp + "]", true
}

// matchingBracket returns the index of the ']' closing the '[' at open, outside
// string literals, or -1.
func matchingBracket(s string, open int) int {
	depth, at := 0, -1
	forEachOutsideStrings(s[open:], func(i int, c byte) bool {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				at = open + i
				return false
			}
		}
		return true
	})
	return at
}

// singleValue reports whether v is one comparison value: a JSON string literal
// spanning all of v, or one bare word (true, false, null, a number).
func singleValue(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '"' {
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '"':
				return i == len(v)-1
			}
		}
		return false
	}
	return !strings.ContainsAny(v, " \t\"()[]")
}

func isAttrNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
