package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// PatchOpSchema is the schema URI of a PATCH request body (RFC 7644 §3.5.2).
const PatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// parsePatch implements ParsePatch: it checks the message structure (RFC
// 7644 §3.5.2), each op name, each path against the schema and each value
// against the type of its target, and returns the operations with Op in
// lower case and Path trimmed. Key names ("Operations", "op", "path",
// "value") are matched case-insensitively.
func parsePatch(rs *ResourceSchema, body []byte) ([]Operation, error) {
	if rs == nil || rs.impl == nil {
		return nil, internalError("filter: nil resource schema")
	}
	obj, err := DecodeJSONObject(string(body))
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, errorf(ScimTypeInvalidSyntax, "request body must be a JSON object")
		}
		return nil, errorf(ScimTypeInvalidSyntax, "request body is not valid JSON")
	}
	if obj == nil {
		return nil, errorf(ScimTypeInvalidSyntax, "request body must be a JSON object")
	}
	schemas, _ := getKey(obj, "schemas")
	if !forEachElem(schemas, func(s any) bool {
		str, ok := s.(string)
		return ok && strings.EqualFold(str, PatchOpSchema)
	}) {
		return nil, errorf(ScimTypeInvalidSyntax, "schemas must contain %s", quote(PatchOpSchema))
	}
	rawOps, _ := getKey(obj, "Operations")
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, errorf(ScimTypeInvalidSyntax, "Operations must be a non-empty array")
	}
	ops := make([]Operation, 0, len(list))
	generic := 0
	for i, raw := range list {
		op, err := rs.impl.parseOperation(raw)
		if err != nil {
			return nil, withPrefix(err, fmt.Sprintf("operation %d: ", i+1))
		}
		if op.parsed != nil && op.parsed.pp.generic {
			if generic++; generic > MaxGenericPaths {
				return nil, errorf(ScimTypeTooMany, "more than %d operations have paths outside the common forms (attr, attr.sub, attr[sub op value and ...].sub)", MaxGenericPaths)
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func (rs *resourceSchema) parseOperation(raw any) (Operation, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return Operation{}, errorf(ScimTypeInvalidSyntax, "each operation must be a JSON object")
	}
	opv, _ := getKey(m, "op")
	name, _ := opv.(string)
	kind := strings.ToLower(name)
	switch kind {
	case OpAdd, OpReplace, OpRemove:
	default:
		return Operation{}, errorf(ScimTypeInvalidSyntax, "op must be add, replace or remove, not %s", quote(name))
	}
	op := Operation{Op: kind}
	if pv, ok := getKey(m, "path"); ok && pv != nil {
		path, ok := pv.(string)
		if !ok {
			return Operation{}, errorf(ScimTypeInvalidPath, "path must be a string")
		}
		op.Path = strings.Trim(path, " \t\r\n")
	}
	value, hasValue := getKey(m, "value")
	op.Value = value
	if kind != OpRemove && !hasValue {
		return Operation{}, errorf(ScimTypeInvalidValue, "%s needs a value", kind)
	}
	if op.Path == "" {
		if kind == OpRemove {
			return Operation{}, errorf(ScimTypeNoTarget, "remove needs a path")
		}
		return op, rs.checkPathlessValue(kind, value)
	}
	pp, err := rs.parsePatchPath(op.Path)
	if err != nil {
		return Operation{}, err
	}
	op.parsed = &parsedPath{rs: rs, path: op.Path, pp: pp}
	if value != nil {
		if err := rs.checkValue(pp, value); err != nil {
			return Operation{}, err
		}
	}
	return op, nil
}

// checkValue coerces value to the type of the path's target, for early
// invalidValue errors; Apply coerces again.
func (rs *resourceSchema) checkValue(pp *patchPath, value any) error {
	var err error
	switch {
	case pp.sub != nil:
		err = checkAttr(pp.sub, value)
	case pp.filter != nil:
		err = checkComplex(pp.ref.attr, value)
	case pp.ref.attr == nil:
		return rs.checkExtValue(pp.ref.ext, value)
	default:
		err = checkAttr(pp.ref.leaf(), value)
	}
	return err
}

func (rs *resourceSchema) checkExtValue(ext *extSchema, value any) error {
	m, ok := value.(map[string]any)
	if !ok {
		return errorf(ScimTypeInvalidValue, "value for %s must be an object", quote(ext.id))
	}
	for _, k := range sortedKeys(m) {
		if a := ext.attr(k); a != nil && !a.readOnly() {
			if err := checkAttr(a, m[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPathlessValue checks the value of an add or replace without path.
func (rs *resourceSchema) checkPathlessValue(kind string, value any) error {
	var maps []map[string]any
	switch x := value.(type) {
	case map[string]any:
		maps = append(maps, x)
	case []any:
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return errorf(ScimTypeInvalidValue, "value of a %s without path must be an object", kind)
			}
			maps = append(maps, m)
		}
	default:
		return errorf(ScimTypeInvalidValue, "value of a %s without path must be an object", kind)
	}
	for _, m := range maps {
		for _, k := range sortedKeys(m) {
			v := m[k]
			ref, msg := rs.resolveName(k)
			if msg != "" || v == nil {
				continue
			}
			if ref.attr == nil {
				if err := rs.checkExtValue(ref.ext, v); err != nil {
					return err
				}
				continue
			}
			if ref.attr.readOnly() || ref.leaf().readOnly() {
				continue
			}
			if err := checkAttr(ref.leaf(), v); err != nil {
				return err
			}
		}
	}
	return nil
}
