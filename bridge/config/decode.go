package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// The decoder walks the YAML tree and the Go value together, so that every
// problem is reported with its key path and line: unknown keys (strict decoding),
// duplicate keys, values of the wrong kind. Leaves (scalars, and types that
// decode themselves) go through yaml.v3 after ${VAR} expansion.

// decode fills v from n; path is the key path of n.
func (l *loader) decode(n *yaml.Node, v reflect.Value, path string) {
	n = l.deref(n, path)
	if n == nil {
		return
	}
	if _, ok := l.nodes[path]; !ok {
		l.nodes[path] = n
	}
	t := v.Type()
	switch t {
	case reflect.TypeFor[Connector]():
		l.decodeConnector(n, v.Addr().Interface().(*Connector), path)
		return
	case reflect.TypeFor[auth.Token]():
		l.decodeToken(n, v.Addr().Interface().(*auth.Token), path)
		return
	}
	if isLeaf(t) {
		l.decodeLeaf(n, v, path)
		return
	}
	if isNull(n) {
		v.SetZero()
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		l.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		l.decodeStruct(n, v, path, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.unreadableValue(n, path, "must be a list, not "+nodeKind(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := indexPath(path, i)
			l.setLine(ip, item.Line)
			l.decode(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.unreadableValue(n, path, "must be a mapping, not "+nodeKind(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		l.decodeMapKeys(n, v, path, map[string]bool{})
	default:
		l.decodeLeaf(n, v, path)
	}
}

// decodeStruct fills the struct v from the mapping n. Keys in extra are
// accepted even when the struct has no field for them.
func (l *loader) decodeStruct(n *yaml.Node, v reflect.Value, path string, extra map[string]bool) {
	l.decodeStructKeys(n, v, path, extra, map[string]bool{})
}

// decodeStructKeys decodes the keys of n not yet taken by a mapping of higher
// precedence: a mapping's own keys win over what its merge keys (<<: *anchor)
// bring in, and earlier merge sources win over later ones.
func (l *loader) decodeStructKeys(n *yaml.Node, v reflect.Value, path string, extra, taken map[string]bool) {
	n = l.deref(n, path)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.unreadableValue(n, path, "must be a mapping, not "+nodeKind(n))
		return
	}
	fields, inline := l.fieldsOf(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.addLine(k.Line, path, nil, "keys must be strings")
			continue
		}
		kp := fieldPath(path, k.Value)
		if !l.claimKey(k, kp, seen, taken) {
			continue
		}
		f, ok := fields[k.Value]
		switch {
		case ok:
			l.setLine(kp, k.Line)
			if f.secret {
				l.secretKeys[kp] = true
			}
			l.decode(val, v.FieldByIndex(f.index), kp)
		case inline != nil:
			m := v.FieldByIndex(inline.index)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			l.decodeMapKeys(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, val}}, m, path, map[string]bool{})
		case extra[k.Value]:
			l.setLine(kp, k.Line)
		default:
			l.addLine(k.Line, kp, nil, "unknown key"+suggest(k.Value, fields))
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			for _, src := range l.mergeSources(n.Content[i+1], path) {
				l.decodeStructKeys(src, v, path, extra, taken)
			}
		}
	}
}

// claimKey records the key k (at kp) of one mapping in seen and taken. It
// reports false, and the key is to be skipped, when k is a duplicate within
// the mapping (an error at its line) or an earlier source already set it.
func (l *loader) claimKey(k *yaml.Node, kp string, seen map[string]int, taken map[string]bool) bool {
	if first, dup := seen[k.Value]; dup {
		l.addLine(k.Line, kp, nil, fmt.Sprintf("duplicate key (first at line %d)", first))
		return false
	}
	seen[k.Value] = k.Line
	if taken[k.Value] {
		return false
	}
	taken[k.Value] = true
	return true
}

// decodeMapKeys adds the pairs of the mapping n not yet taken to the map v
// (same precedence as decodeStructKeys).
func (l *loader) decodeMapKeys(n *yaml.Node, v reflect.Value, path string, taken map[string]bool) {
	kt, et := v.Type().Key(), v.Type().Elem()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		kv := reflect.New(kt).Elem()
		if k.Kind != yaml.ScalarNode || k.Decode(kv.Addr().Interface()) != nil {
			l.addLine(k.Line, path, nil, "keys must be "+describeType(kt))
			continue
		}
		kp := mapKeyPath(path, k.Value)
		if !l.claimKey(k, kp, seen, taken) {
			continue
		}
		l.setLine(kp, k.Line)
		ev := reflect.New(et).Elem()
		l.decode(val, ev, kp)
		v.SetMapIndex(kv, ev)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			for _, src := range l.mergeSources(n.Content[i+1], path) {
				l.decodeMapKeys(src, v, path, taken)
			}
		}
	}
}

// decodeLeaf expands n and decodes it with yaml.v3.
func (l *loader) decodeLeaf(n *yaml.Node, v reflect.Value, path string) {
	l.expand(n, path)
	t := v.Type()
	if d := describeType(t); d != "" && isBasic(t) && n.Kind != yaml.ScalarNode {
		l.unreadableValue(n, path, "must be "+d+", not "+nodeKind(n))
		return
	}
	if msg, ok := decodeScalar(n, v); !ok {
		l.unreadableValue(n, path, msg)
		return
	}
	if t.Kind() == reflect.String {
		l.noteString(path, v.String())
	}
}

// decodeScalar decodes n into v with yaml.v3; on failure it returns the
// message to show, which never quotes the value (it may be a secret).
func decodeScalar(n *yaml.Node, v reflect.Value) (msg string, ok bool) {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		return "", true
	}
	t := v.Type()
	if isBasic(t) || t == reflect.TypeFor[time.Time]() {
		return "must be " + describeType(t), false
	}
	if _, isTypeError := errors.AsType[*yaml.TypeError](err); isTypeError {
		// yaml.v3's own wording quotes the value: say less.
		return "has an invalid value", false
	}
	// A type that decodes itself (yaml.Unmarshaler, encoding.TextUnmarshaler)
	// returns its message as a plain error.
	return err.Error(), false
}

// follow resolves aliases for read-only lookups (bounded, aliases may be cyclic).
func followAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// maxAliases bounds alias expansion (a "billion laughs" document).
const maxAliases = 10000

// deref resolves aliases, counting expansions against maxAliases.
func (l *loader) deref(n *yaml.Node, path string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		l.aliases++
		if l.aliases > maxAliases {
			if l.aliases == maxAliases+1 {
				l.addLine(n.Line, path, nil, "too many alias expansions")
			}
			return nil
		}
		n = n.Alias
	}
	return n
}

// mergeSources returns the mappings a merge key (<<) refers to.
func (l *loader) mergeSources(val *yaml.Node, path string) []*yaml.Node {
	val = l.deref(val, path)
	if val == nil {
		return nil
	}
	switch val.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{val}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, item := range val.Content {
			if m := l.deref(item, path); m != nil && m.Kind == yaml.MappingNode {
				out = append(out, m)
			} else if m != nil {
				l.addLine(item.Line, path, nil, "a merge key (<<) takes a mapping or a list of mappings")
			}
		}
		return out
	}
	l.addLine(val.Line, path, nil, "a merge key (<<) takes a mapping or a list of mappings")
	return nil
}

// setLine records the line of a key path (the first record wins).
func (l *loader) setLine(path string, line int) {
	if _, ok := l.lines[path]; !ok {
		l.lines[path] = line
	}
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// yamlField is a decodable struct field.
type yamlField struct {
	index  []int
	typ    reflect.Type
	secret bool // tagged config:"secret"
}

// structKeys is what structFields returns.
type structKeys struct {
	fields map[string]yamlField
	inline *yamlField
}

// fieldsOf is structFields, cached for the load.
func (l *loader) fieldsOf(t reflect.Type) (map[string]yamlField, *yamlField) {
	k, ok := l.structs[t]
	if !ok {
		k.fields, k.inline = structFields(t)
		l.structs[t] = k
	}
	return k.fields, k.inline
}

// structFields lists the keys of a struct the way yaml.v3 does (tag name, else
// the lower-cased field name; ",inline" structs merged; an ",inline" map takes
// the other keys).
func structFields(t reflect.Type) (map[string]yamlField, *yamlField) {
	fields := map[string]yamlField{}
	var inline *yamlField
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(index), i)
			if slices.Contains(strings.Split(opts, ","), "inline") {
				switch f.Type.Kind() {
				case reflect.Struct:
					walk(f.Type, idx)
					continue
				case reflect.Map:
					inline = &yamlField{index: idx, typ: f.Type}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := fields[name]; !dup {
				fields[name] = yamlField{index: idx, typ: f.Type, secret: f.Tag.Get("config") == "secret"}
			}
		}
	}
	walk(t, nil)
	return fields, inline
}

// isLeaf reports whether values of t are decoded by yaml.v3 directly.
func isLeaf(t reflect.Type) bool {
	if t == reflect.TypeFor[yaml.Node]() || t == reflect.TypeFor[time.Time]() {
		return true
	}
	pt := reflect.PointerTo(t)
	if t.Implements(reflect.TypeFor[yaml.Unmarshaler]()) || pt.Implements(reflect.TypeFor[yaml.Unmarshaler]()) ||
		pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return false
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8
	}
	return true
}

// isBasic reports whether t is a plain scalar kind that does not decode itself.
func isBasic(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	if pt.Implements(reflect.TypeFor[yaml.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// describeType names what a value of t looks like in YAML ("" when unsure).
func describeType(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 30s or 1h"
	case reflect.TypeFor[time.Time]():
		return "a timestamp such as 2026-01-31T09:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return ""
}

// nodeKind names what n is, for "must be X, not Y".
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	}
	return "a string"
}

// suggest returns ` (did you mean "x"?)` for a near miss among the known keys.
func suggest(key string, fields map[string]yamlField) string {
	best, bestDist := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(key), name)
		if d < bestDist || (d == bestDist && best != "" && name < best) {
			best, bestDist = name, d
		}
	}
	if best == "" || bestDist >= len(key) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance of a and b
// (Levenshtein plus transpositions of adjacent bytes).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// unreadableValue reports a value of the wrong kind at path and marks it
// unreadable, so the checks that would read it stay silent (one error per
// mistake).
func (l *loader) unreadableValue(n *yaml.Node, path, msg string) {
	l.addLine(n.Line, path, n, msg)
	l.unreadable[path] = true
}
