package filter

// CheckRequired checks attrs, a resource in the stored form (see Normalize
// and Apply), for what RFC 7643 makes required: the required core attributes
// (§4.1 userName, §4.2 a group's displayName), every extension attached as
// required (§6 schemaExtensions), the required attributes of the extensions
// present, and the required sub-attributes in every value of a complex
// attribute (§2.2). ReadOnly attributes belong to the server and are not
// checked. It fails with 400 invalidValue naming the first missing one.
func CheckRequired(rs *ResourceSchema, attrs map[string]any) error {
	if rs == nil || rs.impl == nil {
		return internalError("filter: nil resource schema")
	}
	s := rs.impl
	if err := checkRequiredAttrs(attrs, s.attrs); err != nil {
		return err
	}
	for _, e := range s.exts {
		v, ok := getKey(attrs, e.id)
		m, isMap := v.(map[string]any)
		if !ok || !isMap || !presentExt(e, m) {
			if e.required {
				return errorf(ScimTypeInvalidValue, "schema extension %s is required", quote(e.id))
			}
			continue
		}
		if err := checkRequiredAttrs(m, e.attrs); err != nil {
			return err
		}
	}
	return nil
}

// checkRequiredAttrs checks the attributes defs inside container c.
func checkRequiredAttrs(c map[string]any, defs []*attrDef) error {
	for _, d := range defs {
		if d.readOnly() || d.isSchemas || !d.required && !hasRequiredSub(d) {
			continue // nothing of it can be missing
		}
		v, ok := getKey(c, d.name)
		if !ok || !presentAttr(d, v) {
			if d.required {
				return errorf(ScimTypeInvalidValue, "attribute %s is required", quote(d.fullPath()))
			}
			continue
		}
		if d.typ != typeComplex {
			continue
		}
		for _, sd := range d.subs {
			if !sd.required || sd.readOnly() {
				continue
			}
			missing := forEachElem(v, func(e any) bool {
				m, ok := e.(map[string]any)
				if !ok {
					return false
				}
				sv, ok := getKey(m, sd.name)
				return !ok || !presentAttr(sd, sv)
			})
			if missing {
				return errorf(ScimTypeInvalidValue, "attribute %s is required in every value of %s", quote(sd.fullPath()), quote(d.fullPath()))
			}
		}
	}
	return nil
}

// hasRequiredSub reports whether a complex attribute has a required
// sub-attribute a client writes.
func hasRequiredSub(d *attrDef) bool {
	if d.typ != typeComplex {
		return false
	}
	for _, sd := range d.subs {
		if sd.required && !sd.readOnly() {
			return true
		}
	}
	return false
}
