package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// A connector entry belongs to its adapter: the registry handed to Load makes
// the adapter's Config for the entry's type, the whole entry is decoded into it
// (strictly, like the rest of the file) and its Validate reports problems as
// *connectors.FieldError, which are located here by their key.

// decodeConnector decodes one connector entry in two steps: name and type, then
// the whole entry into the Config the registry makes for the type, then Validate.
func (l *loader) decodeConnector(n *yaml.Node, cc *Connector, path string) {
	cc.Line = n.Line
	if n.Kind != yaml.MappingNode {
		l.unreadableValue(n, path, "must be a mapping with at least name and type, not "+nodeKind(n))
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
func (l *loader) connectorString(n *yaml.Node, path, key string) string {
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
		case cur.Kind == yaml.SequenceNode && s.isIndex && s.index >= 0 && s.index < len(cur.Content):
			cur = cur.Content[s.index]
			line = cur.Line
		default:
			return line, nil
		}
	}
	return line, followAlias(cur)
}
