package filter

import "strings"

// plan implements Filter.Plan. Indexable: "eq" with a string on an indexed
// attribute (also inside a value filter, e.g. emails[value eq "x"]); "and"
// when at least one side is (the side with fewer values is kept, the other
// becomes residual); "or" when both sides are (union).
func (c *compiled) plan() ([]Lookup, bool) {
	if c == nil || c.root == nil {
		return nil, false
	}
	return c.rs.plan(c.root)
}

func (rs *resourceSchema) plan(n *node) ([]Lookup, bool) {
	switch n.kind {
	case kindCmp:
		if n.op != opEq || n.val.kind != valString {
			return nil, false
		}
		leaf := n.ref.leaf()
		attr, ok := rs.indexed[leaf]
		if !ok || leaf == nil {
			return nil, false
		}
		v := n.val.str
		if !leaf.caseExact {
			v = strings.ToLower(v)
		}
		return []Lookup{{Attr: attr, Values: []string{v}}}, true
	case kindValuePath:
		return rs.plan(n.kids[0])
	case kindAnd:
		var best []Lookup
		found := false
		for _, k := range n.kids {
			l, ok := rs.plan(k)
			if ok && (!found || countValues(l) < countValues(best)) {
				best, found = l, true
			}
		}
		return best, found
	case kindOr:
		var all []Lookup
		for _, k := range n.kids {
			l, ok := rs.plan(k)
			if !ok {
				return nil, false
			}
			all = mergeLookups(all, l)
		}
		return all, true
	}
	return nil, false
}

func countValues(ls []Lookup) int {
	n := 0
	for _, l := range ls {
		n += len(l.Values)
	}
	return n
}

// mergeLookups adds the lookups of b to a, one Lookup per attribute, values
// de-duplicated in first-seen order.
func mergeLookups(a, b []Lookup) []Lookup {
	for _, l := range b {
		i := 0
		for i < len(a) && a[i].Attr != l.Attr {
			i++
		}
		if i == len(a) {
			a = append(a, Lookup{Attr: l.Attr})
		}
		for _, v := range l.Values {
			dup := false
			for _, w := range a[i].Values {
				if w == v {
					dup = true
					break
				}
			}
			if !dup {
				a[i].Values = append(a[i].Values, v)
			}
		}
	}
	return a
}
