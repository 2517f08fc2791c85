package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Validation runs the table of rules (rules.go) over the decoded
// configuration, defaults applied. Each rule names a key path where [*] stands
// for every item of a list (or every entry of a map); it is checked at every
// concrete key the path matches, in table order, and reports its message at
// that key when the check fails. The first failing rule of a key wins: later
// rules of the same key assume the earlier ones hold (an id is checked for
// uniqueness only once it is well formed). Every key is checked, so that one
// load reports every problem at once.

// rule is one check of the configuration.
type rule struct {
	// key is the key path checked, e.g. tenants[*].scim_tokens[*].
	key string
	// check reports whether the value at a key is acceptable.
	check check
	// msg is reported at the key when check fails. It may name {value} (the
	// value, quoted, unless it came from the environment: never for a
	// credential), {line} (the line of the key a uniqueness check found it
	// clashing with) and {tenant} (the id of that key's tenant).
	msg string
}

// check reports whether the value at one key is acceptable.
type check func(v *value) bool

// value is what a check sees: one concrete key and its decoded value.
type value struct {
	path  string        // e.g. tenants[2].scim_tokens[0]
	v     reflect.Value // the decoded value
	run   *validation
	other string // key path a uniqueness check found this value clashing with
}

// validation is the state of one run of the rules.
type validation struct {
	l    *loader
	root reflect.Value                // the *Config being checked
	sets map[string]map[string]string // set name -> scope and value -> first key path
}

// validate checks c with every rule and records the failures.
func (l *loader) validate(c *Config) {
	run := &validation{l: l, root: reflect.ValueOf(c).Elem(), sets: map[string]map[string]string{}}
	failed := map[string]bool{} // key paths with a failed rule
	for _, r := range rules() {
		run.each(r.key, func(path string, v reflect.Value) {
			if failed[path] {
				return
			}
			val := &value{path: path, v: v, run: run}
			if r.check(val) {
				return
			}
			failed[path] = true
			l.fail(path, val.message(r.msg))
		})
	}
	l.checkExtensions(c)
	l.validateCredentials(c)
}

// each calls fn with every concrete key path key matches and its value. Keys
// below an entry that is not a mapping (reported by the decoder) are skipped.
// A key naming no field panics: the rule table is wrong.
func (run *validation) each(key string, fn func(path string, v reflect.Value)) {
	var walk func(v reflect.Value, path string, segs []keySegment)
	walk = func(v reflect.Value, path string, segs []keySegment) {
		if run.l.unreadable[path] {
			return
		}
		if len(segs) == 0 {
			fn(path, v)
			return
		}
		s, rest := segs[0], segs[1:]
		switch {
		case v.Kind() == reflect.Slice && s.isIndex:
			for i := range v.Len() {
				if s.index < 0 || s.index == i {
					walk(v.Index(i), indexPath(path, i), rest)
				}
			}
		case v.Kind() == reflect.Map && (s.isIndex && s.index < 0 || !s.isIndex):
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			for _, k := range keys {
				if s.isIndex || fmt.Sprint(k) == s.name {
					walk(v.MapIndex(k), mapKeyPath(path, fmt.Sprint(k)), rest)
				}
			}
		case v.Kind() == reflect.Struct && !s.isIndex:
			fields, _ := run.l.fieldsOf(v.Type())
			f, ok := fields[s.name]
			if !ok {
				panic(fmt.Sprintf("config: rule key %s: %s has no key %q", key, v.Type(), s.name))
			}
			walk(v.FieldByIndex(f.index), fieldPath(path, s.name), rest)
		default:
			panic(fmt.Sprintf("config: rule key %s: cannot step into %s with %+v", key, v.Type(), s))
		}
	}
	walk(run.root, "", parseKey(key))
}

// lookup returns the value at a concrete key path (invalid when absent).
func (run *validation) lookup(path string) reflect.Value {
	var out reflect.Value
	run.each(path, func(_ string, v reflect.Value) { out = v })
	return out
}

// message fills the placeholders of a rule's message.
func (v *value) message(msg string) string {
	if !strings.Contains(msg, "{") {
		return msg
	}
	l := v.run.l
	r := []string{"{line}", fmt.Sprint(l.lineOf(v.other))}
	if v.v.Kind() == reflect.String {
		r = append(r, "{value}", l.show(v.path, v.v.String()))
	}
	if tp := tenantPath(v.other); tp != "" {
		idPath := fieldPath(tp, "id")
		if id := v.run.lookup(idPath); id.IsValid() {
			r = append(r, "{tenant}", l.show(idPath, id.String()))
		}
	}
	return strings.NewReplacer(r...).Replace(msg)
}

// set is a group of keys whose values must differ (see distinct).
type set struct {
	name      string
	fold      bool // compare ignoring case
	perTenant bool // values only clash within one tenant
}

// first returns the first key path of s holding v's value, recording v's key
// when it is the first; with record false it only looks.
func (run *validation) first(s set, v *value, record bool) (string, bool) {
	m := run.sets[s.name]
	if m == nil {
		m = map[string]string{}
		run.sets[s.name] = m
	}
	key := v.v.String()
	if s.fold {
		key = strings.ToLower(key)
	}
	if s.perTenant {
		key = tenantPath(v.path) + "\x00" + key
	}
	if p, ok := m[key]; ok {
		return p, true
	}
	if record {
		m[key] = v.path
	}
	return "", false
}
