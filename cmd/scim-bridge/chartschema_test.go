package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/connectors/registry"
)

// chartSchema is the Helm chart's values schema, which closes the tenant and
// connector entries of config.tenants (additionalProperties: false).
var chartSchema = filepath.Join("..", "..", "deploy", "helm", "scim-bridge", "values.schema.json")

// TestChartSchemaKnowsEveryConfigKey compares the keys the chart's values
// schema accepts in a tenant and in each connector type with the keys the
// configuration loader accepts (config.Tenant and each registered type's
// Config, nested mappings included, by their yaml tags): a key added to the
// configuration but not to the schema would make `helm install` refuse a valid
// configuration; a key only the schema knows would let a typo through to a
// crash-looping pod.
func TestChartSchemaKnowsEveryConfigKey(t *testing.T) {
	b, err := os.ReadFile(chartSchema)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", chartSchema, err)
	}
	s := schemaKeys{t: t, root: root, seen: map[reflect.Type]bool{}}
	s.compare("tenant", reflect.TypeFor[config.Tenant](), s.definition("tenant"))

	branches := map[string]map[string]any{} // connector type -> its schema
	allOf, _ := s.definition("connector")["allOf"].([]any)
	for _, a := range allOf {
		branch, _ := a.(map[string]any)
		cond, _ := branch["if"].(map[string]any)
		props, _ := cond["properties"].(map[string]any)
		typ, _ := props["type"].(map[string]any)
		name, _ := typ["const"].(string)
		then, _ := branch["then"].(map[string]any)
		if name == "" || then == nil {
			t.Fatalf("connector: allOf entry %v is not {if: {properties: {type: {const: T}}}, then: ...}", branch)
		}
		branches[name] = s.resolve(then)
	}
	builtin := registry.Builtin()
	for typ, newConfig := range builtin {
		sch, ok := branches[typ]
		if !ok {
			t.Errorf("connector type %s has no schema of its keys in %s", typ, chartSchema)
			continue
		}
		s.compare("connector "+typ, reflect.TypeOf(newConfig()), sch)
	}
	for typ := range branches {
		if _, ok := builtin[typ]; !ok {
			t.Errorf("%s describes connector type %s, which is not registered", chartSchema, typ)
		}
	}
}

// schemaKeys compares Go configuration types with the values schema.
type schemaKeys struct {
	t    *testing.T
	root map[string]any
	seen map[reflect.Type]bool // structs compared already (schemas may recurse)
}

func (s schemaKeys) definition(name string) map[string]any {
	defs, _ := s.root["definitions"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	if !ok {
		s.t.Fatalf("%s has no definitions.%s", chartSchema, name)
	}
	return d
}

// resolve follows a $ref, and picks the mapping alternative of an anyOf or
// oneOf (a token is a string or a mapping).
func (s schemaKeys) resolve(sch map[string]any) map[string]any {
	for range 10 {
		ref, ok := sch["$ref"].(string)
		if !ok {
			break
		}
		sch = s.definition(strings.TrimPrefix(ref, "#/definitions/"))
	}
	if _, ok := sch["properties"]; ok {
		return sch
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		alts, _ := sch[k].([]any)
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok {
				if r := s.resolve(m); r["properties"] != nil {
					return r
				}
			}
		}
	}
	return sch
}

// compare checks that sch accepts exactly the keys of typ, recursively.
func (s schemaKeys) compare(path string, typ reflect.Type, sch map[string]any) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if sch == nil {
		s.t.Errorf("%s: no schema for %s", path, typ)
		return
	}
	sch = s.resolve(sch)
	switch {
	case typ == reflect.TypeFor[time.Time](), typ == reflect.TypeFor[config.Connector]():
		// A timestamp is a scalar; connector entries are compared per type.
	case typ.Kind() == reflect.Struct:
		if s.seen[typ] {
			return
		}
		s.seen[typ] = true
		fields := yamlKeys(typ)
		props, _ := sch["properties"].(map[string]any)
		if sch["additionalProperties"] != false {
			s.t.Errorf("%s: the schema does not refuse unknown keys (additionalProperties: false)", path)
		}
		var missing, extra []string
		for k := range fields {
			if _, ok := props[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k := range props {
			if _, ok := fields[k]; !ok {
				extra = append(extra, k)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		if len(missing) > 0 {
			s.t.Errorf("%s: keys the configuration accepts that the chart's schema does not list: %q", path, missing)
		}
		if len(extra) > 0 {
			s.t.Errorf("%s: keys the chart's schema accepts but the configuration does not know: %q", path, extra)
		}
		for k, ft := range fields {
			if p, ok := props[k].(map[string]any); ok {
				s.compare(path+"."+k, ft, p)
			}
		}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8:
		items, _ := sch["items"].(map[string]any)
		s.compare(path+"[]", typ.Elem(), items)
	case typ.Kind() == reflect.Map:
		if elem, ok := sch["additionalProperties"].(map[string]any); ok {
			s.compare(path+"{}", typ.Elem(), elem)
		}
	}
}

// yamlKeys lists the keys of a struct as yaml.v3 (and the loader) read them:
// the tag's name, else the lower-cased field name; ",inline" structs merged;
// "-" and unexported fields skipped.
func yamlKeys(typ reflect.Type) map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-":
		case slices.Contains(strings.Split(opts, ","), "inline") && f.Type.Kind() == reflect.Struct:
			for k, v := range yamlKeys(f.Type) {
				keys[k] = v
			}
		case !f.IsExported():
		case name == "":
			keys[strings.ToLower(f.Name)] = f.Type
		default:
			keys[name] = f.Type
		}
	}
	return keys
}
