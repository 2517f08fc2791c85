package filter

import "strings"

// Limits applied to filters and PATCH paths before any parsing, so that a
// hostile request cannot make the (recursive) parser work hard.
const (
	// MaxFilterLength is the longest filter or PATCH path accepted, in bytes.
	MaxFilterLength = 4096
	// MaxFilterDepth is the deepest nesting of parentheses and value-path
	// brackets accepted ("not" always comes with parentheses).
	MaxFilterDepth = 32
)

// compiled is the implementation behind Filter.
type compiled struct {
	rs   *resourceSchema
	root *node
}

func (c *compiled) String() string {
	if c == nil || c.root == nil {
		return ""
	}
	return c.root.String()
}

func compile(rs *ResourceSchema, expr string) (*Filter, error) {
	if rs == nil || rs.impl == nil {
		return nil, internalError("filter: nil resource schema")
	}
	root, err := rs.impl.compileFilter(expr)
	if err != nil {
		return nil, err
	}
	return &Filter{impl: &compiled{rs: rs.impl, root: root}}, nil
}

// compileFilter checks the limits, parses expr (fast path first) and compiles
// the syntax tree against the schema.
func (rs *resourceSchema) compileFilter(expr string) (*node, error) {
	s, err := checkLimits(expr, "filter", ScimTypeInvalidFilter)
	if err != nil {
		return nil, err
	}
	ast, ok := fastFilter(s)
	if !ok {
		if ast, err = slowFilter(s); err != nil {
			rw, ok := rewriteValuePathSub(s)
			if !ok {
				return nil, errorf(ScimTypeInvalidFilter, "malformed filter %s: %v", quote(s), err)
			}
			if ast, err = slowFilter(rw); err != nil {
				return nil, errorf(ScimTypeInvalidFilter, "malformed filter %s: %v", quote(s), err)
			}
		}
	}
	c := compiler{rs: rs, scimType: ScimTypeInvalidFilter}
	return c.expr(ast, nil)
}

// checkLimits trims surrounding spaces and enforces MaxFilterLength and
// MaxFilterDepth. what names the input in error details.
func checkLimits(expr, what, scimType string) (string, error) {
	if len(expr) > MaxFilterLength {
		return "", errorf(scimType, "%s is longer than %d bytes", what, MaxFilterLength)
	}
	s := strings.Trim(expr, " \t\r\n")
	if s == "" {
		return "", errorf(scimType, "%s is empty", what)
	}
	if d := nesting(s); d > MaxFilterDepth {
		return "", errorf(scimType, "%s nests deeper than %d levels", what, MaxFilterDepth)
	}
	return s, nil
}

// nesting returns the maximum depth of parentheses and brackets in s, outside
// string literals.
func nesting(s string) int {
	depth, max := 0, 0
	forEachOutsideStrings(s, func(_ int, c byte) bool {
		switch c {
		case '(', '[':
			depth++
			if depth > max {
				max = depth
			}
		case ')', ']':
			if depth > 0 {
				depth--
			}
		}
		return true
	})
	return max
}

// forEachOutsideStrings calls fn with the index and value of every byte of s
// that lies outside JSON string literals (the quotes themselves excluded), until
// fn returns false.
func forEachOutsideStrings(s string, fn func(i int, c byte) bool) {
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		default:
			if !fn(i, c) {
				return
			}
		}
	}
}
