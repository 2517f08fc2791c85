package filter

// HasImmutable reports whether the schema (core or an extension) declares a
// top-level attribute immutable (RFC 7643 §7); the core User and Group
// schemas do not, a tenant's own extensions may.
func (s *ResourceSchema) HasImmutable() bool {
	for _, d := range s.impl.attrs {
		if d.mut == mutImmutable {
			return true
		}
	}
	for _, e := range s.impl.exts {
		for _, d := range e.attrs {
			if d.mut == mutImmutable {
				return true
			}
		}
	}
	return false
}

// KeepImmutable applies the immutable top-level attributes of the schema to a
// replacement (PUT, RFC 7644 §3.5.1) of the normalized attributes old by the
// normalized attributes next: one that has a value in old keeps it when next
// leaves it out (next is changed in place), and a different value in next is
// 400 mutability, as the same change by PATCH is. One without a value in old
// takes next's (immutable attributes are set once).
func (s *ResourceSchema) KeepImmutable(old, next map[string]any) error {
	keep := func(def *attrDef, o, n map[string]any) (map[string]any, error) {
		ov, ok := o[def.name]
		if !ok || !isPresent(ov) {
			return n, nil
		}
		nv, ok := n[def.name]
		if !ok || !isPresent(nv) {
			if n == nil {
				n = map[string]any{}
			}
			n[def.name] = ov
			return n, nil
		}
		if !equalValues(ov, nv) {
			return n, errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
		}
		return n, nil
	}
	for _, d := range s.impl.attrs {
		if d.mut == mutImmutable {
			if _, err := keep(d, old, next); err != nil {
				return err
			}
		}
	}
	for _, e := range s.impl.exts {
		oe, _ := old[e.id].(map[string]any)
		if oe == nil {
			continue
		}
		ne, _ := next[e.id].(map[string]any)
		for _, d := range e.attrs {
			if d.mut != mutImmutable {
				continue
			}
			var err error
			if ne, err = keep(d, oe, ne); err != nil {
				return err
			}
		}
		if ne != nil {
			next[e.id] = ne
		}
	}
	return nil
}
