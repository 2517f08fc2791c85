package filter

// normalize implements Normalize: the resource is built from nothing with the
// rules of a path-less PATCH add, so POST, PUT and PATCH share one set of
// coercions: canonical names, IdP leniencies ("True", "42", a single object
// for a multi-valued attribute, dotted and URN-qualified keys), unknown and
// readOnly attributes dropped (id, meta, schemas, groups), duplicates merged
// and at most one primary element per multi-valued attribute (the first).
// Required attributes are not checked. Most bodies take the direct
// normalizer (normalize_direct.go), which gives the same result in one pass.
func normalize(rs *ResourceSchema, res map[string]any) (map[string]any, error) {
	if rs == nil || rs.impl == nil {
		return nil, internalError("filter: nil resource schema")
	}
	if out, ok := rs.impl.normalizeDirect(res); ok {
		return out, nil
	}
	return newPatcher(rs.impl, map[string]any{}).normalize(res)
}

// normalize builds p's resource from res.
func (p *patcher) normalize(res map[string]any) (map[string]any, error) {
	if err := p.pathlessMap(OpAdd, res); err != nil {
		return nil, err
	}
	p.flush()
	return p.res, nil
}
