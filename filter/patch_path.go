package filter

import "strings"

// patchPath is a resolved PATCH path (RFC 7644 §3.5.2):
// attrPath / valuePath [subAttr].
type patchPath struct {
	ref    attrRef  // the attribute, with its sub-attribute when there is no filter
	filter *node    // value filter over the elements of ref.attr, or nil
	sub    *attrDef // sub-attribute after the value filter, or nil
	// generic is set when the path needed the generic parser.
	generic bool
}

// target returns the definition the path ends at (nil for an extension object).
func (pp *patchPath) target() *attrDef {
	if pp.sub != nil {
		return pp.sub
	}
	return pp.ref.leaf()
}

// parsePatchPath parses and resolves a PATCH path. Unknown attributes and bad
// syntax, also inside a value filter, are invalidPath; readOnly targets are
// mutability.
func (rs *resourceSchema) parsePatchPath(path string) (*patchPath, error) {
	s, err := checkLimits(path, "path", ScimTypeInvalidPath)
	if err != nil {
		return nil, err
	}
	ast, fast := fastPath(s)
	if !fast {
		if ast, err = slowPath(s); err != nil {
			return nil, errorf(ScimTypeInvalidPath, "malformed path %s: %v", quote(s), err)
		}
	}
	ref, msg := rs.resolve(ast.AttributePath, nil)
	if msg != "" {
		return nil, errorf(ScimTypeInvalidPath, "path %s: %s", quote(s), msg)
	}
	pp := &patchPath{ref: ref, generic: !fast}
	if ast.ValueExpression != nil {
		if ref.attr == nil || ref.sub != nil || ref.attr.typ != typeComplex {
			return nil, errorf(ScimTypeInvalidPath, "path %s: a value filter needs a complex attribute", quote(s))
		}
		c := compiler{rs: rs, scimType: ScimTypeInvalidPath}
		if pp.filter, err = c.expr(ast.ValueExpression, ref.attr); err != nil {
			return nil, withPrefix(err, "path "+quote(s)+": ")
		}
		if ast.SubAttribute != nil {
			if pp.sub = ref.attr.sub(*ast.SubAttribute); pp.sub == nil {
				return nil, errorf(ScimTypeInvalidPath, "path %s: unknown sub-attribute %s", quote(s), quote(*ast.SubAttribute))
			}
		}
	}
	if t := pp.target(); ref.attr != nil && (ref.attr.readOnly() || (t != nil && t.readOnly())) {
		return nil, errorf(ScimTypeMutability, "attribute %s is readOnly", quote(strings.TrimSpace(s)))
	}
	return pp, nil
}

// parsedPath is a path resolved by ParsePatch, kept in its Operation.
type parsedPath struct {
	rs   *resourceSchema
	path string
	pp   *patchPath
}

// opPath returns the resolved path of op, parsing it unless ParsePatch did
// for this schema already.
func (rs *resourceSchema) opPath(op Operation) (*patchPath, error) {
	if pp := op.parsed; pp != nil && pp.rs == rs && pp.path == op.Path {
		return pp.pp, nil
	}
	return rs.parsePatchPath(op.Path)
}
