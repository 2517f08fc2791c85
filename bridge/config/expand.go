package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// expand replaces ${VAR} references and $$ escapes in every scalar value of n's
// subtree (mapping keys are left alone). Each node is expanded once, even when
// aliases reach it again. An unset (or empty) variable is reported at the
// value's line and key path, and the value becomes empty; the variable's value
// is never part of a message.
func (l *loader) expand(n *yaml.Node, path string) {
	if n == nil || l.done[n] {
		return
	}
	l.done[n] = true
	switch n.Kind {
	case yaml.ScalarNode:
		l.expandScalar(n, path)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.expand(c, indexPath(path, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.expand(n.Content[i+1], anyKeyPath(path, n.Content[i].Value))
		}
	}
}

func (l *loader) expandScalar(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "$") {
		return
	}
	out, values, problems := expandVars(n.Value, l.getenv)
	for _, v := range values {
		l.addSecret(v, minRedact)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			l.addLine(n.Line, path, nil, p)
		}
		l.failed[n] = true
		n.Value, n.Tag, n.Style = "", "!!str", 0
		return
	}
	n.Value = out
	if len(values) == 0 {
		return
	}
	l.fromEnv[n] = true
	// The expanded text is typed like a plain scalar, so that "${WORKERS}" fills
	// an integer key; string keys receive the text verbatim either way. An
	// explicit tag (!!str "${X}") keeps the value a string.
	if n.Style&yaml.TaggedStyle != 0 {
		return
	}
	probe := yaml.Node{Kind: yaml.ScalarNode, Value: out}
	var x any
	if probe.Decode(&x) == nil {
		switch x.(type) {
		case int, int64, uint64, float64, bool:
			n.Tag, n.Style = "", 0
			return
		}
	}
	n.Tag = "!!str"
}

// expandVars expands ${NAME} with getenv and $$ to $ in s; a $ followed by
// anything else is kept as is. It returns the result, the values substituted,
// and one message per unset variable or malformed reference (never a value).
func expandVars(s string, getenv func(string) string) (out string, values, problems []string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, "unterminated ${ reference (write $$ for a literal $)")
				return b.String(), values, problems
			}
			name := s[i+2 : i+2+end]
			i += 2 + end
			if !validVarName(name) {
				problems = append(problems, "malformed ${...} reference: a variable name is letters, digits and _, not starting with a digit (write $$ for a literal $)")
				continue
			}
			v := getenv(name)
			if v == "" {
				problems = append(problems, fmt.Sprintf("environment variable %s is not set", name))
				continue
			}
			values = append(values, v)
			b.WriteString(v)
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), values, problems
}

func validVarName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if !(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}
