package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// The decoder walks the YAML tree and the Go value together, so that every
// problem is reported with its key path and line: unknown keys (strict decoding),
// duplicate keys, values of the wrong kind. Leaves (scalars, and types that
// decode themselves) go through yaml.v3 after ${VAR} expansion.

// decode fills v from n; path is the key path of n.
func (l *configLoader) decode(n *yaml.Node, v reflect.Value, path string) {
	n = l.deref(n, path)
	if n == nil {
		return
	}
	if _, ok := l.nodes[path]; !ok {
		l.nodes[path] = n
	}
	t := v.Type()
	if t == reflect.TypeFor[ConnectorConfig]() {
		l.decodeConnector(n, v.Addr().Interface().(*ConnectorConfig), path)
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
			l.addLine(n.Line, path, n, "must be a list, not "+nodeKind(n))
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
			l.addLine(n.Line, path, n, "must be a mapping, not "+nodeKind(n))
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
func (l *configLoader) decodeStruct(n *yaml.Node, v reflect.Value, path string, extra map[string]bool) {
	l.decodeStructKeys(n, v, path, extra, map[string]bool{})
}

// decodeStructKeys decodes the keys of n not yet taken by a mapping of higher
// precedence: a mapping's own keys win over what its merge keys (<<: *anchor)
// bring in, and earlier merge sources win over later ones.
func (l *configLoader) decodeStructKeys(n *yaml.Node, v reflect.Value, path string, extra, taken map[string]bool) {
	n = l.deref(n, path)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.addLine(n.Line, path, n, "must be a mapping, not "+nodeKind(n))
		return
	}
	fields, inline := structFields(v.Type())
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
		if first, dup := seen[k.Value]; dup {
			l.addLine(k.Line, kp, nil, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		if taken[k.Value] {
			continue
		}
		taken[k.Value] = true
		f, ok := fields[k.Value]
		switch {
		case ok:
			l.setLine(kp, k.Line)
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

// decodeMapKeys adds the pairs of the mapping n not yet taken to the map v
// (same precedence as decodeStructKeys).
func (l *configLoader) decodeMapKeys(n *yaml.Node, v reflect.Value, path string, taken map[string]bool) {
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
		if first, dup := seen[k.Value]; dup {
			l.addLine(k.Line, kp, nil, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		if taken[k.Value] {
			continue
		}
		taken[k.Value] = true
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
func (l *configLoader) decodeLeaf(n *yaml.Node, v reflect.Value, path string) {
	l.expand(n, path)
	t := v.Type()
	if d := describeType(t); d != "" && isBasic(t) && n.Kind != yaml.ScalarNode {
		l.addLine(n.Line, path, n, "must be "+d+", not "+nodeKind(n))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		l.addLine(n.Line, path, n, leafMessage(err, t))
		return
	}
	if t.Kind() == reflect.String && isSecretKey(path) {
		l.addSecret(v.String(), 4)
	}
}

// decodeConnector decodes one connector entry in two steps: name and type, then
// the whole entry into the Config the registry makes for the type, then Validate.
func (l *configLoader) decodeConnector(n *yaml.Node, cc *ConnectorConfig, path string) {
	cc.Line = n.Line
	if n.Kind != yaml.MappingNode {
		l.addLine(n.Line, path, n, "must be a mapping with at least name and type, not "+nodeKind(n))
		return
	}
	cc.Name = l.connectorString(n, path, "name")
	cc.Type = l.connectorString(n, path, "type")
	typePath := fieldPath(path, "type")
	known := slices.Sorted(func(yield func(string) bool) {
		for k := range l.registry {
			if !yield(k) {
				return
			}
		}
	})
	if cc.Type == "" {
		// A non-scalar type was reported by connectorString; an unset variable
		// is filtered out by its node.
		if tn := l.nodes[typePath]; tn == nil || tn.Kind == yaml.ScalarNode {
			l.fail(typePath, "is required (one of: "+strings.Join(known, ", ")+")")
		}
		l.expand(n, path) // report unset variables of the entry all the same
		return
	}
	newConfig, ok := l.registry[cc.Type]
	if !ok || newConfig == nil {
		l.fail(typePath, fmt.Sprintf("unknown connector type %s (known: %s)", l.show(typePath, cc.Type), strings.Join(known, ", ")))
		l.expand(n, path)
		return
	}
	cfg := newConfig()
	rv := reflect.ValueOf(cfg)
	if cfg == nil || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		l.fail(typePath, fmt.Sprintf("connector type %q is registered without a pointer to a config struct", cc.Type))
		return
	}
	l.decodeStruct(n, rv.Elem(), path, map[string]bool{"name": true, "type": true})
	cc.Config = cfg
	for _, e := range flattenErrors(cfg.Validate()) {
		var fe *connectors.FieldError
		if !errors.As(e, &fe) {
			l.addLine(n.Line, path, nil, e.Error())
			continue
		}
		line, node := resolveKey(n, fe.Key)
		p := path
		switch {
		case fe.Key == "":
		case strings.HasPrefix(fe.Key, "["):
			p += fe.Key
		default:
			p += "." + fe.Key
		}
		l.addLine(line, p, node, fe.Msg)
	}
}

// connectorString reads the string at key of a connector entry ("" if absent).
func (l *configLoader) connectorString(n *yaml.Node, path, key string) string {
	kp := fieldPath(path, key)
	k, val := lookupKey(n, key)
	if k == nil {
		return ""
	}
	l.setLine(kp, k.Line)
	if val = l.deref(val, kp); val == nil {
		return ""
	}
	l.nodes[kp] = val
	l.expand(val, kp)
	if val.Kind != yaml.ScalarNode {
		l.addLine(val.Line, kp, val, "must be a string, not "+nodeKind(val))
		return ""
	}
	if isNull(val) || l.failed[val] {
		return ""
	}
	return strings.TrimSpace(val.Value)
}

// lookupKey finds key in the mapping n, then in what its merge keys (<<) bring
// in; it returns the key and value nodes, or nils.
func lookupKey(n *yaml.Node, key string) (k, v *yaml.Node) {
	return lookupKeyDepth(followAlias(n), key, 0)
}

func lookupKeyDepth(n *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if n.Kind != yaml.MappingNode || depth > 10 {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if c := n.Content[i]; c.Kind == yaml.ScalarNode && c.Value == key && !isMerge(c) {
			return c, n.Content[i+1]
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMerge(n.Content[i]) {
			continue
		}
		src := followAlias(n.Content[i+1])
		srcs := []*yaml.Node{src}
		if src.Kind == yaml.SequenceNode {
			srcs = src.Content
		}
		for _, m := range srcs {
			if k, v := lookupKeyDepth(followAlias(m), key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// flattenErrors returns the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// resolveKey finds the line of a FieldError key such as `connection.clientId` or
// `groups["Design Team"][0].role` inside the connector entry n: the line of the
// key itself when it exists, else of its deepest existing parent, else of the
// entry. node is the key's value when it exists.
func resolveKey(n *yaml.Node, key string) (line int, node *yaml.Node) {
	line, cur := n.Line, n
	for _, s := range parseKey(key) {
		cur = followAlias(cur)
		switch {
		case cur.Kind == yaml.MappingNode:
			name := s.name
			if s.isIndex {
				name = strconv.Itoa(s.index)
			}
			k, v := lookupKey(cur, name)
			if k == nil {
				return line, nil
			}
			line, cur = k.Line, v
		case cur.Kind == yaml.SequenceNode && s.isIndex && s.index < len(cur.Content):
			cur = cur.Content[s.index]
			line = cur.Line
		default:
			return line, nil
		}
	}
	return line, followAlias(cur)
}

// keySegment is one step of a key path: a name or an index.
type keySegment struct {
	name    string
	index   int
	isIndex bool
}

// parseKey splits `a.b["c d"][0].e` into segments; it stops at the first
// malformed part and returns what it parsed.
func parseKey(key string) []keySegment {
	var segs []keySegment
	for i := 0; i < len(key); {
		switch key[i] {
		case '.':
			i++
		case '[':
			rest := key[i+1:]
			if strings.HasPrefix(rest, `"`) {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil || !strings.HasPrefix(rest[len(q):], "]") {
					return segs
				}
				name, _ := strconv.Unquote(q)
				segs = append(segs, keySegment{name: name})
				i += 1 + len(q) + 1
				continue
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return segs
			}
			inner := strings.Trim(rest[:end], `'`)
			if idx, err := strconv.Atoi(inner); err == nil && idx >= 0 {
				segs = append(segs, keySegment{index: idx, isIndex: true})
			} else {
				segs = append(segs, keySegment{name: inner})
			}
			i += 1 + end + 1
		default:
			end := strings.IndexAny(key[i:], ".[")
			if end < 0 {
				end = len(key) - i
			}
			segs = append(segs, keySegment{name: key[i : i+end]})
			i += end
		}
	}
	return segs
}

// follow resolves aliases for read-only lookups (bounded, aliases may be cyclic).
func followAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// deref resolves aliases, counting expansions against maxAliases.
func (l *configLoader) deref(n *yaml.Node, path string) *yaml.Node {
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
func (l *configLoader) mergeSources(val *yaml.Node, path string) []*yaml.Node {
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
func (l *configLoader) setLine(path string, line int) {
	if _, ok := l.lines[path]; !ok {
		l.lines[path] = line
	}
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// yamlField is a decodable struct field.
type yamlField struct {
	index []int
	typ   reflect.Type
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
				fields[name] = yamlField{index: idx, typ: f.Type}
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

// describe names what a value of t looks like in YAML ("" when unsure).
func describeType(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration such as 30s or 1h"
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

var yamlLinePrefix = regexp.MustCompile(`^line \d+: `)

// leafMessage turns a yaml.v3 decoding error into a message that never quotes
// the value (it may be a secret).
func leafMessage(err error, t reflect.Type) string {
	if isBasic(t) {
		return "must be " + describeType(t)
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	for i, m := range msgs {
		m = yamlLinePrefix.ReplaceAllString(m, "")
		if strings.Contains(m, "`") {
			m = "has an invalid value"
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
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
