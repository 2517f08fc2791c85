package filter

// projectReference is project as it was before the default projection
// stopped copying what it keeps (git history: filter/project.go), kept as
// the obvious version FuzzProjectDefaultEquivalence checks project against.
// It uses the per-attribute helpers (selection, pick, exclude,
// projectComplex), which the change left as they were.
func projectReference(rs *ResourceSchema, res map[string]any, attributes, excluded []string) map[string]any {
	if rs == nil || rs.impl == nil || res == nil {
		return nil
	}
	s := rs.impl
	out := make(map[string]any, len(res))
	if len(attributes) > 0 {
		sel := s.selection(attributes)
		for k, v := range res {
			if e := s.ext(k); e != nil {
				m, ok := v.(map[string]any)
				if !ok {
					continue
				}
				pm := map[string]any{}
				for ak, av := range m {
					a := e.attr(ak)
					if a == nil || a.ret == retNever {
						continue
					}
					if pv, ok := sel.pick(a, av, sel.exts[e]); ok {
						pm[a.name] = pv
					}
				}
				if len(pm) > 0 {
					out[k] = pm
				}
				continue
			}
			d := s.attr(k)
			if d == nil || d.ret == retNever {
				continue
			}
			if pv, ok := sel.pick(d, v, d.ret == retAlways); ok {
				out[k] = pv
			}
		}
		return out
	}
	ex := s.selection(excluded)
	for k, v := range res {
		if e := s.ext(k); e != nil {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			gone := ex.exts[e] // excluded, but for its returned:always attributes
			pm := map[string]any{}
			for ak, av := range m {
				a := e.attr(ak)
				if a == nil {
					if !gone {
						pm[ak] = clone(av)
					}
					continue
				}
				if pv, ok := ex.exclude(a, av, gone); ok {
					pm[a.name] = pv
				}
			}
			if len(pm) > 0 {
				out[k] = pm
			}
			continue
		}
		d := s.attr(k)
		if d == nil {
			out[k] = clone(v)
			continue
		}
		if pv, ok := ex.exclude(d, v, false); ok {
			out[k] = pv
		}
	}
	return out
}
