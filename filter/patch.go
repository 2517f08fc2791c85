package filter

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
)

// PATCH operation names (RFC 7644 §3.5.2), as ParsePatch returns them.
const (
	OpAdd     = "add"
	OpReplace = "replace"
	OpRemove  = "remove"
)

// apply implements Apply on a deep copy; res itself is never written.
func apply(rs *ResourceSchema, res map[string]any, ops []Operation) (map[string]any, bool, error) {
	if rs == nil || rs.impl == nil {
		return nil, false, internalError("filter: nil resource schema")
	}
	return newPatcher(rs.impl, cloneMap(res)).applyAll(res, ops)
}

// applyAll runs ops on p's copy of res and checks the result against res.
func (p *patcher) applyAll(res map[string]any, ops []Operation) (map[string]any, bool, error) {
	out, err := p.run(ops)
	if err != nil {
		return nil, false, err
	}
	for _, d := range p.rs.required {
		ref := attrRef{ext: d.ext, attr: d}
		before, _ := p.rs.attrValue(ref, res)
		after, _ := p.rs.attrValue(ref, out)
		if isPresent(before) && !isPresent(after) {
			return nil, false, errorf(ScimTypeInvalidValue, "attribute %s is required and cannot be removed", quote(d.fullPath()))
		}
	}
	return out, !equalValues(out, res), nil
}

// scanAllowance is how many times each element of the lists a request
// touches may be examined by work no index answers, on top of maxScan.
const scanAllowance = 2

// maxScan is the number of element examinations any request may make
// besides scanAllowance per element: some 50 ms of CPU.
const maxScan = 1 << 19

// patcher applies operations to its working copy of a resource.
type patcher struct {
	rs  *resourceSchema
	res map[string]any
	// lists holds the working copies of the multi-valued attributes
	// touched so far (patch_list.go); flush writes them back.
	lists map[*attrDef]*elemList
	seed  maphash.Seed
	// visits counts element examinations (checks of an index hit, a
	// filter or a given value against one element); budget bounds it.
	visits, budget int
	// naive turns the indexes off: every lookup scans the list. The
	// equivalence fuzzer runs both modes; tests use it to show the cost
	// the indexes save.
	naive bool
}

func newPatcher(rs *resourceSchema, res map[string]any) *patcher {
	return &patcher{rs: rs, res: res, seed: maphash.MakeSeed(), budget: maxScan}
}

// run applies ops in order and returns the resource.
func (p *patcher) run(ops []Operation) (map[string]any, error) {
	for i, op := range ops {
		if err := p.apply(op); err != nil {
			return nil, withPrefix(err, fmt.Sprintf("operation %d: ", i+1))
		}
	}
	p.flush()
	return p.res, nil
}

// spend charges n element examinations and fails with 400 tooMany (RFC 7644
// §3.12: more than the server is willing to process) past the budget.
func (p *patcher) spend(n int) error {
	p.visits += n
	if !p.naive && p.visits > p.budget {
		return errorf(ScimTypeTooMany, "the request needs more than %d element comparisons; split it", p.budget)
	}
	return nil
}

// apply applies one operation.
func (p *patcher) apply(op Operation) error {
	kind := strings.ToLower(op.Op)
	switch kind {
	case OpAdd, OpReplace, OpRemove:
	default:
		return errorf(ScimTypeInvalidSyntax, "unknown op %s (want add, replace or remove)", quote(op.Op))
	}
	if strings.Trim(op.Path, " \t\r\n") == "" {
		if kind == OpRemove {
			return errorf(ScimTypeNoTarget, "remove needs a path")
		}
		return p.pathless(kind, op.Value)
	}
	pp, err := p.rs.opPath(op)
	if err != nil {
		return err
	}
	if pp.filter == nil {
		return p.target(kind, pp.ref, op.Value)
	}
	return p.filtered(kind, pp, op.Value)
}

// pathless applies an add or replace without path: value holds attributes to
// add or replace, keyed by plain, dotted ("name.givenName") or URN-qualified
// names, or by an extension URN holding that extension's attributes. Unknown
// and readOnly attributes (Okta sends "id") are ignored, as on POST and PUT.
// A key holding a value filter (`emails[type eq "work"].value`) is the
// operation with that path, applied after the others: what the client means,
// not an unknown attribute to ignore.
func (p *patcher) pathless(kind string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		return p.pathlessObject(kind, x)
	case []any:
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return errorf(ScimTypeInvalidValue, "value of a %s without path must be an object", kind)
			}
			if err := p.pathlessObject(kind, m); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return errorf(ScimTypeInvalidValue, "%s needs a value", kind)
	}
	return errorf(ScimTypeInvalidValue, "value of a %s without path must be an object", kind)
}

// pathlessObject is pathless for one object.
func (p *patcher) pathlessObject(kind string, m map[string]any) error {
	var paths []string
	for k := range m {
		if strings.ContainsRune(k, '[') {
			paths = append(paths, k)
		}
	}
	if len(paths) == 0 {
		return p.pathlessMap(kind, m)
	}
	rest := make(map[string]any, len(m)-len(paths))
	for k, v := range m {
		if !strings.ContainsRune(k, '[') {
			rest[k] = v
		}
	}
	if err := p.pathlessMap(kind, rest); err != nil {
		return err
	}
	slices.Sort(paths)
	for _, k := range paths {
		if err := p.apply(Operation{Op: kind, Path: k, Value: m[k]}); err != nil {
			return err
		}
	}
	return nil
}

func (p *patcher) pathlessMap(kind string, m map[string]any) error {
	type entry struct {
		key string
		ref attrRef
	}
	entries := make([]entry, 0, len(m))
	for k := range m {
		ref, msg := p.rs.resolveName(k)
		if msg != "" || (ref.attr != nil && ref.leaf().readOnly()) || (ref.attr != nil && ref.attr.readOnly()) {
			continue
		}
		entries = append(entries, entry{k, ref})
	}
	// Whole attributes first, then sub-attributes, so that {"name": {...},
	// "name.givenName": "x"} ends with the sub-attribute set.
	slices.SortFunc(entries, func(a, b entry) int {
		if (a.ref.sub == nil) != (b.ref.sub == nil) {
			if a.ref.sub == nil {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	for _, e := range entries {
		if err := p.target(kind, e.ref, m[e.key]); err != nil {
			return err
		}
	}
	return nil
}

// container returns the map holding the attributes of ext (the resource for
// core attributes), creating the extension object when create is set.
func (p *patcher) container(ext *extSchema, create bool) map[string]any {
	if ext == nil {
		return p.res
	}
	if v, ok := getKey(p.res, ext.id); ok {
		if m, ok := v.(map[string]any); ok {
			return m
		}
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	setKey(p.res, ext.id, m)
	return m
}

// pruneExt drops the object of ext when an operation left it empty. It runs
// after every operation, so it looks at one level only (a list of empty
// strings, however long, is not scanned).
func (p *patcher) pruneExt(ext *extSchema) {
	if ext == nil {
		return
	}
	if v, ok := getKey(p.res, ext.id); ok && shallowEmpty(v) && !p.hasLiveList(ext) {
		deleteKey(p.res, ext.id)
		p.dropLists(ext)
	}
}

// target applies an operation to an attribute path without value filter.
func (p *patcher) target(kind string, ref attrRef, v any) error {
	c := p.container(ref.ext, kind != OpRemove && v != nil)
	if c == nil {
		return nil
	}
	defer p.pruneExt(ref.ext)
	if ref.attr == nil {
		return p.extObject(kind, ref.ext, v)
	}
	if ref.sub != nil {
		return p.subAttr(kind, c, ref.attr, ref.sub, v)
	}
	switch kind {
	case OpRemove:
		return p.removeAttr(c, ref.attr, v)
	case OpAdd:
		return p.addAttr(c, ref.attr, v)
	default:
		return p.replaceAttr(c, ref.attr, v)
	}
}

// extObject applies an operation whose target is a whole extension object:
// remove drops it, add and replace apply to each attribute given.
func (p *patcher) extObject(kind string, ext *extSchema, v any) error {
	if kind == OpRemove || v == nil {
		if kind != OpAdd {
			deleteKey(p.res, ext.id)
			p.dropLists(ext)
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errorf(ScimTypeInvalidValue, "value for %s must be an object", quote(ext.id))
	}
	for _, k := range sortedKeys(m) {
		ap, ok := splitAttrPath(k)
		if !ok || ap.URIPrefix != nil {
			continue
		}
		uri := ext.id
		ap.URIPrefix = &uri
		ref, msg := p.rs.resolve(ap, nil)
		if msg != "" || ref.attr.readOnly() || ref.leaf().readOnly() {
			continue
		}
		if err := p.target(kind, ref, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// shallowEmpty reports whether v is null, an empty string, list or object, or
// an object whose values all are.
func shallowEmpty(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return isEmptyValue(v)
	}
	for _, e := range m {
		if !isEmptyValue(e) {
			return false
		}
	}
	return true
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
