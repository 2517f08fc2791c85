package config

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// envPrefix starts the name of every variable that overrides a key.
const envPrefix = "SCIM_BRIDGE_"

// envOverride is an environment variable that overrides a key of the file.
type envOverride struct {
	name   string       // SCIM_BRIDGE_...
	path   string       // key path it sets
	index  []int        // field of Config it sets
	typ    reflect.Type // type of that field
	secret bool         // tagged config:"secret"
}

// envOverrides lists the SCIM_BRIDGE_* variables, derived from Config: one
// per top-level key holding a single value (SCIM_BRIDGE_LISTEN) and per key of
// a top-level mapping (SCIM_BRIDGE_LOG_LEVEL), in field order. Lists and maps
// (tenants) come from the file only.
func envOverrides() []envOverride {
	var out []envOverride
	var walk func(t reflect.Type, prefix string, index []int, depth int)
	walk = func(t reflect.Type, prefix string, index []int, depth int) {
		fields, _ := structFields(t)
		for key, f := range fields {
			path := fieldPath(prefix, key)
			idx := append(append([]int(nil), index...), f.index...)
			switch {
			case isLeaf(f.typ) && f.typ.Kind() != reflect.Slice:
				out = append(out, envOverride{name: envName(path), path: path, index: idx, typ: f.typ, secret: f.secret})
			case f.typ.Kind() == reflect.Struct && depth == 0:
				walk(f.typ, path, idx, depth+1)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil, 0)
	slices.SortFunc(out, func(a, b envOverride) int { return slices.Compare(a.index, b.index) })
	return out
}

// envName is the variable of a key path: log.level -> SCIM_BRIDGE_LOG_LEVEL.
func envName(path string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// applyEnv applies the SCIM_BRIDGE_* overrides (environment over file); a
// variable that is unset or empty leaves the file's value alone. The value is
// decoded like a plain YAML scalar of the key's type; a string is taken
// verbatim for a credential and without surrounding white space otherwise.
func (l *loader) applyEnv(c *Config) {
	root := reflect.ValueOf(c).Elem()
	for _, o := range envOverrides() {
		v := l.getenv(o.name)
		if v == "" {
			continue
		}
		l.envSrc[o.path] = o.name
		if o.secret {
			l.secretKeys[o.path] = true
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
		if o.typ.Kind() == reflect.String {
			n.Tag = "!!str"
		}
		if !l.isSecret(o.path) {
			n.Value = strings.TrimSpace(v)
		}
		field := root.FieldByIndex(o.index)
		if msg, ok := decodeScalar(n, field); !ok {
			l.fail(o.path, msg)
			continue
		}
		if field.Kind() == reflect.String {
			l.noteString(o.path, field.String())
		} else if tok, ok := field.Addr().Interface().(*auth.Token); ok {
			l.addSecret(tok.Value, 4)
		}
	}
}
