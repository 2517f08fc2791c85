package filter

import (
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
)

// The elements of a multi-valued attribute are changed through an elemList,
// the working copy of the attribute for one Apply or Normalize. It keeps
// lazily built hash indexes over the elements, so that finding the element
// an added value merges with, the elements a value filter such as
// members[value eq "id"] selects or the current primary element costs
// O(1 + hits) instead of a scan of the list: a request carrying n values, or
// n operations, against a list of m elements costs O(n + m), not O(n·m)
// (a POST with 20,000 emails used to take seconds).
//
// Indexes map a hash of a key to the positions of the elements that had
// that key when they were indexed. They are never trusted: every candidate is
// checked with the real predicate, so a hash collision or a stale entry (an
// element changed or removed since) costs a check, never a wrong answer, and
// stale entries are dropped when their bucket is read. An element changed in
// place is indexed again under its new keys (touch). Removed elements are
// tombstones until flush writes the list back.
//
// Work that no index can answer (a value filter with "co", a sub-attribute
// path over every element) scans the list and is charged to a budget (see
// patcher.spend), so that the cost of a request stays bounded by a constant
// times the size of the data it touches.

// elemList is the working copy of one multi-valued attribute.
type elemList struct {
	def   *attrDef
	c     map[string]any // the container the attribute is written back to
	elems []any
	dead  []bool // tombstones
	live  int
	dirty bool // differs from what c holds
	seed  maphash.Seed

	ident *elemIndex              // identity (sameElement), built on first use
	bySub map[*attrDef]*elemIndex // per indexable sub-attribute, built on first use
}

// elemIndex maps key hashes to element positions, in ascending order except
// for positions re-added by touch (lookups sort them). Most keys have one
// position, kept in first without a slice of its own.
type elemIndex struct {
	key   func(e any) (uint64, bool)
	first map[uint64]int
	more  map[uint64][]int
}

// list returns the working copy of the multi-valued attribute def held by
// container c, loading it on first use.
func (p *patcher) list(c map[string]any, def *attrDef) *elemList {
	if l, ok := p.lists[def]; ok {
		return l
	}
	cur, _ := getKey(c, def.name)
	elems := listOf(cur)
	if elems == nil && cur != nil {
		elems = []any{cur}
	}
	l := &elemList{def: def, c: c, elems: elems, dead: make([]bool, len(elems)), live: len(elems), seed: p.seed}
	p.budget += scanAllowance * len(elems)
	if p.lists == nil {
		p.lists = map[*attrDef]*elemList{}
	}
	p.lists[def] = l
	return l
}

// dropLists forgets the working copies of ext's attributes (the extension
// object itself was removed).
func (p *patcher) dropLists(ext *extSchema) {
	for def := range p.lists {
		if def.ext == ext {
			delete(p.lists, def)
		}
	}
}

// hasLiveList reports whether a working copy of an attribute of ext holds
// elements not yet written back.
func (p *patcher) hasLiveList(ext *extSchema) bool {
	for def, l := range p.lists {
		if def.ext == ext && l.live > 0 {
			return true
		}
	}
	return false
}

// flush writes every changed list back to its container.
func (p *patcher) flush() {
	for def, l := range p.lists {
		if l.dirty {
			_ = writeList(l.c, def, l.values())
		}
	}
	p.lists = nil
	for _, e := range p.rs.exts {
		p.pruneExt(e)
	}
}

// values returns the live elements in order.
func (l *elemList) values() []any {
	out := make([]any, 0, l.live)
	for i, e := range l.elems {
		if !l.dead[i] {
			out = append(out, e)
		}
	}
	return out
}

// positions returns the positions of the live elements in order.
func (l *elemList) positions() []int {
	out := make([]int, 0, l.live)
	for i := range l.elems {
		if !l.dead[i] {
			out = append(out, i)
		}
	}
	return out
}

// reset replaces all elements.
func (l *elemList) reset(elems []any) {
	l.elems, l.dead, l.live, l.dirty = elems, make([]bool, len(elems)), len(elems), true
	l.ident, l.bySub = nil, nil
}

// reserve makes room for n more elements and index entries.
func (l *elemList) reserve(n int) {
	l.elems = slices.Grow(l.elems, n)
	l.dead = slices.Grow(l.dead, n)
	if l.ident == nil && n > 16 {
		l.ident = &elemIndex{key: l.identKey, first: make(map[uint64]int, l.live+n), more: map[uint64][]int{}}
		for i, e := range l.elems {
			if !l.dead[i] {
				l.ident.insert(e, i)
			}
		}
	}
}

// add appends an element and returns its position.
func (l *elemList) add(e any) int {
	l.elems = append(l.elems, e)
	l.dead = append(l.dead, false)
	l.live++
	l.dirty = true
	i := len(l.elems) - 1
	l.touch(i)
	return i
}

// remove tombstones the element at i.
func (l *elemList) remove(i int) {
	if !l.dead[i] {
		l.dead[i] = true
		l.live--
		l.dirty = true
	}
}

// touch indexes the element at i under its current keys, after it was added
// or changed in place.
func (l *elemList) touch(i int) {
	l.dirty = true
	if l.ident != nil {
		l.ident.insert(l.elems[i], i)
	}
	for _, x := range l.bySub {
		x.insert(l.elems[i], i)
	}
}

// forgetIndexes drops the indexes after a change of every element.
func (l *elemList) forgetIndexes() {
	l.dirty = true
	l.ident, l.bySub = nil, nil
}

func (x *elemIndex) insert(e any, i int) {
	k, ok := x.key(e)
	if !ok {
		return
	}
	j, ok := x.first[k]
	switch {
	case !ok:
		x.first[k] = i
	case j != i:
		if b := x.more[k]; len(b) == 0 || b[len(b)-1] != i {
			x.more[k] = append(b, i)
		}
	}
}

// size is the number of positions indexed under k.
func (x *elemIndex) size(k uint64) int {
	if _, ok := x.first[k]; !ok {
		return 0
	}
	return 1 + len(x.more[k])
}

func (l *elemList) build(key func(any) (uint64, bool)) *elemIndex {
	x := &elemIndex{key: key, first: make(map[uint64]int, l.live), more: map[uint64][]int{}}
	for i, e := range l.elems {
		if !l.dead[i] {
			x.insert(e, i)
		}
	}
	return x
}

// lookup returns the live positions indexed under k that still have key k,
// ascending and without repeats; the entries are cleaned on the way.
func (l *elemList) lookup(x *elemIndex, k uint64) []int {
	j, ok := x.first[k]
	if !ok {
		return nil
	}
	all := append([]int{j}, x.more[k]...)
	kept := all[:0]
	for _, i := range all {
		if l.dead[i] {
			continue
		}
		if k2, ok := x.key(l.elems[i]); ok && k2 == k {
			kept = append(kept, i)
		}
	}
	if !slices.IsSorted(kept) {
		slices.Sort(kept)
	}
	kept = slices.Compact(kept)
	delete(x.more, k)
	if len(kept) == 0 {
		delete(x.first, k)
		return nil
	}
	x.first[k] = kept[0]
	if len(kept) > 1 {
		x.more[k] = slices.Clone(kept[1:])
	}
	return kept
}

// sameCandidates returns, in order, the positions of the elements that may be
// the same element as w (sameElement): the identity index's hits, or every
// live element in naive mode.
func (p *patcher) sameCandidates(l *elemList, w any) []int {
	if p.naive {
		return l.positions()
	}
	k, ok := l.identKey(w)
	if !ok {
		return nil
	}
	if l.ident == nil {
		l.ident = l.build(l.identKey)
	}
	return l.lookup(l.ident, k)
}

// indexableSub reports whether elements can be looked up by the value of sd:
// a single-valued simple sub-attribute whose equality (eq in a filter, a
// sub-attribute given to remove) is equality of scalarKey. DateTimes are
// left out: filters compare them as instants, remove as text.
func indexableSub(sd *attrDef) bool {
	return sd != nil && !sd.multi && sd.typ != typeComplex && sd.typ != typeDateTime
}

// subCandidates returns, in order, the positions of the elements whose
// sub-attribute sd may equal v (a value of sd's type as coerced, or a
// filter literal already folded for a caseExact=false attribute when folded
// is set); ok is false when sd cannot be looked up, and in naive mode.
func (p *patcher) subCandidates(l *elemList, sd *attrDef, v any, folded bool) ([]int, bool) {
	if p.naive || !indexableSub(sd) {
		return nil, false
	}
	x := l.subIndex(p.seed, sd)
	return l.lookup(x, hashValue(p.seed, v, !sd.caseExact && !folded)), true
}

// subBucketSize is the number of entries (an upper bound of the hits) under
// which subCandidates would find v.
func (p *patcher) subBucketSize(l *elemList, sd *attrDef, v any, folded bool) int {
	return l.subIndex(p.seed, sd).size(hashValue(p.seed, v, !sd.caseExact && !folded))
}

func (l *elemList) subIndex(seed maphash.Seed, sd *attrDef) *elemIndex {
	if x, ok := l.bySub[sd]; ok {
		return x
	}
	if l.bySub == nil {
		l.bySub = map[*attrDef]*elemIndex{}
	}
	x := l.build(func(e any) (uint64, bool) { return subKey(seed, sd, e) })
	l.bySub[sd] = x
	return x
}

// subKey hashes the value of sub-attribute sd of element e.
func subKey(seed maphash.Seed, sd *attrDef, e any) (uint64, bool) {
	m, ok := e.(map[string]any)
	if !ok {
		return 0, false
	}
	v, ok := getKey(m, sd.name)
	if !ok {
		return 0, false
	}
	return hashValue(seed, v, !sd.caseExact), true
}

// identityKey hashes what identifies an element for sameElement: equal
// elements have equal keys.
func identityKey(seed maphash.Seed, def *attrDef, e any) (uint64, bool) {
	if def.typ != typeComplex {
		return hashValue(seed, e, !def.caseExact), true
	}
	m, ok := e.(map[string]any)
	if !ok {
		return 0, false
	}
	if def.valueSub == nil {
		return hashValue(seed, m, false), true
	}
	v, ok := getKey(m, def.valueSub.name)
	if !ok {
		return 0, false
	}
	h := hashValue(seed, v, !def.valueSub.caseExact)
	if def.byValue || def.typeSub == nil {
		return h, true
	}
	if t, ok := getKey(m, def.typeSub.name); ok {
		h = (h^hashValue(seed, t, !def.typeSub.caseExact))*0x100000001b3 + 1
	}
	return h, true
}

// Tags mixed into the hashes of booleans and numbers; a collision with
// another type costs one comparison, never a wrong answer.
const (
	hashTrue   = 0x9e3779b97f4a7c15
	hashFalse  = 0x7f4a7c159e3779b9
	hashNumber = 0x5bd1e9955bd1e995
)

// hashValue hashes a decoded JSON value: values equal for equalValues (or
// for sameScalar, when fold is set and v is a string) hash alike.
func hashValue(seed maphash.Seed, v any, fold bool) uint64 {
	switch x := v.(type) {
	case string:
		if fold {
			x = strings.ToLower(x)
		}
		return maphash.String(seed, x)
	case bool:
		if x {
			return hashTrue
		}
		return hashFalse
	}
	if f, ok := toFloat(v); ok {
		if f == 0 {
			f = 0 // -0 equals 0
		}
		return maphash.Comparable(seed, f) ^ hashNumber
	}
	var h maphash.Hash
	h.SetSeed(seed)
	writeScalar(&h, v, fold)
	return h.Sum64()
}

// writeScalar writes a canonical encoding of a decoded JSON value: values
// equal for equalValues (or for sameScalar, when fold is set and v is a
// string) write the same bytes.
func writeScalar(h *maphash.Hash, v any, fold bool) {
	switch x := v.(type) {
	case nil:
		h.WriteByte('z')
	case string:
		h.WriteByte('s')
		if fold {
			x = strings.ToLower(x)
		}
		h.WriteString(x)
		h.WriteByte(0)
	case bool:
		if x {
			h.WriteByte('t')
		} else {
			h.WriteByte('f')
		}
	case map[string]any:
		h.WriteByte('m')
		for _, k := range sortedKeys(x) {
			h.WriteString(k)
			h.WriteByte(0)
			writeScalar(h, x[k], false)
		}
		h.WriteByte('}')
	case []any, []map[string]any, []string:
		h.WriteByte('l')
		for _, e := range listOf(x) {
			writeScalar(h, e, false)
		}
		h.WriteByte(']')
	default:
		if f, ok := toFloat(v); ok {
			if f == 0 {
				f = 0 // -0 equals 0
			}
			h.WriteByte('n')
			var b [8]byte
			bits := math.Float64bits(f)
			for i := range b {
				b[i] = byte(bits >> (8 * i))
			}
			h.Write(b[:])
			return
		}
		fmt.Fprintf(h, "?%T:%v", v, v)
	}
}

func (l *elemList) identKey(e any) (uint64, bool) { return identityKey(l.seed, l.def, e) }
