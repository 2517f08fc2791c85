package filter

// HasImmutable reports whether the schema (core or an extension) declares an
// attribute immutable (RFC 7643 §7), at the top level or as a sub-attribute of
// a single-valued complex attribute; the core User and Group schemas do not
// (Group "members" has immutable sub-attributes, but a replacement replaces
// whole members), a tenant's own extensions may.
func (s *ResourceSchema) HasImmutable() bool {
	for _, d := range s.impl.attrs {
		if hasImmutable(d) {
			return true
		}
	}
	for _, e := range s.impl.exts {
		for _, d := range e.attrs {
			if hasImmutable(d) {
				return true
			}
		}
	}
	return false
}

func hasImmutable(d *attrDef) bool {
	if d.mut == mutImmutable {
		return true
	}
	if d.typ == typeComplex && !d.multi {
		for _, sd := range d.subs {
			if sd.mut == mutImmutable {
				return true
			}
		}
	}
	return false
}

// KeepImmutable applies the immutable attributes of the schema to a
// replacement (PUT, RFC 7644 §3.5.1) of the normalized attributes old by the
// normalized attributes next: one that has a value in old keeps it when next
// leaves it out (next is changed in place), and a different value in next is
// 400 mutability, as the same change by PATCH is. One without a value in old
// takes next's (immutable attributes are set once). Multi-valued values are
// compared as sets (RFC 7643 §2.4: no order). The immutable sub-attributes of
// a single-valued complex attribute are treated alike.
func (s *ResourceSchema) KeepImmutable(old, next map[string]any) error {
	for _, d := range s.impl.attrs {
		if _, err := keepImmutable(d, old, next); err != nil {
			return err
		}
	}
	for _, e := range s.impl.exts {
		oe, _ := old[e.id].(map[string]any)
		if oe == nil {
			continue
		}
		ne, _ := next[e.id].(map[string]any)
		for _, d := range e.attrs {
			var err error
			if ne, err = keepImmutable(d, oe, ne); err != nil {
				return err
			}
		}
		if ne != nil {
			next[e.id] = ne
		}
	}
	return nil
}

// keepImmutable applies def's immutability from o to n (created when a kept
// value needs it) and returns n.
func keepImmutable(def *attrDef, o, n map[string]any) (map[string]any, error) {
	ov, ok := o[def.name]
	if !ok || !isPresent(ov) {
		return n, nil
	}
	if def.mut == mutImmutable {
		nv, ok := n[def.name]
		if !ok || !isPresent(nv) {
			if n == nil {
				n = map[string]any{}
			}
			n[def.name] = ov
			return n, nil
		}
		if !sameImmutable(def, ov, nv) {
			return n, errorf(ScimTypeMutability, "attribute %s is immutable", quote(def.fullPath()))
		}
		return n, nil
	}
	if def.typ != typeComplex || def.multi {
		return n, nil
	}
	oc, _ := ov.(map[string]any)
	if oc == nil {
		return n, nil
	}
	nc, _ := n[def.name].(map[string]any)
	for _, sd := range def.subs {
		if sd.mut != mutImmutable {
			continue
		}
		var err error
		if nc, err = keepImmutable(sd, oc, nc); err != nil {
			return n, err
		}
	}
	if nc != nil {
		if n == nil {
			n = map[string]any{}
		}
		n[def.name] = nc
	}
	return n, nil
}

// sameImmutable compares two values of an immutable attribute: a multi-valued
// one as a set.
func sameImmutable(def *attrDef, a, b any) bool {
	if !def.multi {
		return equalValues(a, b)
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if !aok || !bok {
		return equalValues(a, b)
	}
	if len(as) != len(bs) {
		return false
	}
	used := make([]bool, len(bs))
outer:
	for _, x := range as {
		for j, y := range bs {
			if !used[j] && equalValues(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}
