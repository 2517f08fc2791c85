package filter

import (
	"slices"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// attrType is the SCIM data type of an attribute (RFC 7643 §2.3).
type attrType uint8

const (
	typeString attrType = iota
	typeBoolean
	typeDecimal
	typeInteger
	typeDateTime
	typeBinary
	typeReference
	typeComplex
)

var attrTypeNames = [...]string{
	typeString:    "string",
	typeBoolean:   "boolean",
	typeDecimal:   "decimal",
	typeInteger:   "integer",
	typeDateTime:  "dateTime",
	typeBinary:    "binary",
	typeReference: "reference",
	typeComplex:   "complex",
}

func (t attrType) String() string { return attrTypeNames[t] }

// mutability is the RFC 7643 §7 "mutability" characteristic.
type mutability uint8

const (
	mutReadWrite mutability = iota
	mutImmutable
	mutReadOnly
	mutWriteOnly
)

// returned is the RFC 7643 §7 "returned" characteristic.
type returned uint8

const (
	retDefault returned = iota
	retAlways
	retNever
	retRequest
)

// attrDef is one compiled attribute or sub-attribute definition.
type attrDef struct {
	name      string // canonical case
	typ       attrType
	multi     bool
	caseExact bool
	required  bool
	mut       mutability
	ret       returned

	subs     []*attrDef
	subIndex map[string]*attrDef // canonical and lower-cased name → sub-attribute
	parent   *attrDef            // nil for a top-level attribute
	ext      *extSchema          // owning extension; nil for core and common attributes

	valueSub   *attrDef // the "value" sub-attribute, if any
	typeSub    *attrDef // the "type" sub-attribute, if any
	primarySub *attrDef // the boolean "primary" sub-attribute, if any

	// byValue marks multi-valued complex attributes whose elements are
	// identified by their "value" alone because every sub-attribute is
	// immutable (Group "members"): adding an element with a known value is a
	// no-op.
	byValue bool
	// isSchemas marks the common "schemas" attribute.
	isSchemas bool
	// canonical lists the only values a string attribute of an extension
	// accepts (core schemas' canonical values are suggestions IdPs ignore).
	canonical []string
}

// path returns the attribute's dotted name relative to its schema.
func (d *attrDef) path() string {
	if d.parent != nil {
		return d.parent.name + "." + d.name
	}
	return d.name
}

// fullPath returns the attribute's name as a client would write it: URN-qualified
// for extension attributes.
func (d *attrDef) fullPath() string {
	top := d
	if d.parent != nil {
		top = d.parent
	}
	if top.ext != nil {
		return top.ext.id + ":" + d.path()
	}
	return d.path()
}

func (d *attrDef) sub(name string) *attrDef {
	if d.subIndex == nil {
		return nil
	}
	if s, ok := d.subIndex[name]; ok {
		return s
	}
	return d.subIndex[strings.ToLower(name)]
}

// readOnly reports whether a client may never write the attribute, either
// itself or through its parent.
func (d *attrDef) readOnly() bool {
	return d.mut == mutReadOnly || (d.parent != nil && d.parent.mut == mutReadOnly)
}

// extSchema is a compiled schema extension (RFC 7643 §3.3): its attributes live
// under the extension URN key of a resource.
type extSchema struct {
	id       string
	required bool // every resource carries it (RFC 7643 §6)
	attrs    []*attrDef
	index    map[string]*attrDef // by canonical and lower-cased name
}

func (e *extSchema) attr(name string) *attrDef {
	if a, ok := e.index[name]; ok {
		return a
	}
	return e.index[strings.ToLower(name)]
}

// resourceSchema is the compiled form behind ResourceSchema.
type resourceSchema struct {
	core     schema.Schema
	extDefs  []SchemaExtension
	coreID   string
	attrs    []*attrDef          // core attributes followed by the common ones
	index    map[string]*attrDef // by canonical and lower-cased name
	exts     []*extSchema
	extIndex map[string]*extSchema
	// indexed maps the leaf definition of an attribute an index can answer to
	// its Lookup.Attr name.
	indexed map[*attrDef]string
	// required lists the writable top-level attributes, core and of the
	// extensions, a PATCH cannot remove.
	required []*attrDef
	schemas  *attrDef
	// direct is set when Normalize may take the direct normalizer
	// (normalize_direct.go).
	direct bool
}

func (rs *resourceSchema) attr(name string) *attrDef {
	if a, ok := rs.index[name]; ok {
		return a
	}
	return rs.index[strings.ToLower(name)]
}

func (rs *resourceSchema) ext(urn string) *extSchema {
	if e, ok := rs.extIndex[urn]; ok {
		return e
	}
	return rs.extIndex[strings.ToLower(urn)]
}

// extAttr finds an unqualified attribute name among the extensions, when exactly
// one extension defines it.
func (rs *resourceSchema) extAttr(name string) *attrDef {
	var found *attrDef
	for _, e := range rs.exts {
		if a := e.attr(name); a != nil {
			if found != nil {
				return nil
			}
			found = a
		}
	}
	return found
}

// idReferences are the sub-attributes holding the id of another resource of
// this service provider. Ids are caseExact (RFC 7643 §3.1), so these compare
// case-exactly too, which keeps them consistent with the id indexes of a store.
var idReferences = map[string]bool{
	"members.value": true,
	"groups.value":  true,
	"manager.value": true,
}

func newResourceSchema(core schema.Schema, extensions ...schema.Schema) *ResourceSchema {
	exts := make([]SchemaExtension, len(extensions))
	for i, e := range extensions {
		exts[i] = SchemaExtension{Schema: e}
	}
	return compileResourceSchema(core, exts)
}

func compileResourceSchema(core schema.Schema, extensions []SchemaExtension) *ResourceSchema {
	rs := &resourceSchema{
		core:     core,
		extDefs:  slices.Clone(extensions),
		coreID:   core.ID,
		index:    map[string]*attrDef{},
		extIndex: map[string]*extSchema{},
		indexed:  map[*attrDef]string{},
	}
	add := func(a schema.CoreAttribute) {
		d := compileAttr(a, nil, nil)
		if _, dup := rs.index[strings.ToLower(d.name)]; dup {
			return
		}
		rs.attrs = append(rs.attrs, d)
		rs.index[strings.ToLower(d.name)] = d
		rs.index[d.name] = d
	}
	for _, a := range core.Attributes {
		add(a)
	}
	for _, a := range schema.CommonAttributes() {
		add(a)
	}
	if s := rs.attr("schemas"); s != nil {
		s.isSchemas = true
		s.ret = retAlways
		s.mut = mutReadOnly
		rs.schemas = s
	}
	if id := rs.attr("id"); id != nil {
		id.ret = retAlways
		id.mut = mutReadOnly
	}
	for _, x := range extensions {
		es := x.Schema
		e := &extSchema{id: es.ID, required: x.Required, index: map[string]*attrDef{}}
		for _, a := range es.Attributes {
			d := compileAttr(a, nil, e)
			e.attrs = append(e.attrs, d)
			e.index[strings.ToLower(d.name)] = d
			e.index[d.name] = d
		}
		rs.exts = append(rs.exts, e)
		rs.extIndex[strings.ToLower(e.id)] = e
	}
	for _, d := range rs.attrs {
		if d.required && !d.readOnly() && !d.isSchemas {
			rs.required = append(rs.required, d)
		}
	}
	for _, e := range rs.exts {
		for _, d := range e.attrs {
			if d.required && !d.readOnly() {
				rs.required = append(rs.required, d)
			}
		}
	}
	idx := func(name string) {
		parts := strings.SplitN(name, ".", 2)
		d := rs.attr(parts[0])
		if d != nil && len(parts) == 2 {
			d = d.sub(parts[1])
		}
		if d != nil {
			rs.indexed[d] = name
		}
	}
	idx("id")
	idx("externalId")
	switch core.ID {
	case schema.UserSchema:
		idx("userName")
		idx("emails.value")
	case schema.GroupSchema:
		idx("displayName")
		idx("members.value")
	}
	rs.direct = rs.directNormalizable()
	return &ResourceSchema{impl: rs}
}

func compileAttr(a schema.CoreAttribute, parent *attrDef, ext *extSchema) *attrDef {
	d := &attrDef{
		name:      a.Name(),
		typ:       parseType(a.AttributeType()),
		multi:     a.MultiValued(),
		caseExact: a.CaseExact(),
		required:  a.Required(),
		mut:       parseMutability(a.Mutability()),
		ret:       parseReturned(a.Returned()),
		parent:    parent,
		ext:       ext,
	}
	if d.mut == mutWriteOnly {
		// RFC 7643 §7: values of a writeOnly attribute are never returned.
		d.ret = retNever
	}
	if parent != nil && idReferences[parent.name+"."+d.name] {
		d.caseExact = true
	}
	if ext != nil && d.typ == typeString {
		d.canonical = a.CanonicalValues()
	}
	if d.typ != typeComplex {
		return d
	}
	d.subIndex = map[string]*attrDef{}
	allImmutable := true
	for _, s := range a.SubAttributes() {
		sd := compileAttr(s, d, ext)
		d.subs = append(d.subs, sd)
		d.subIndex[strings.ToLower(sd.name)] = sd
		d.subIndex[sd.name] = sd
		if sd.mut != mutImmutable {
			allImmutable = false
		}
	}
	d.valueSub = d.subIndex["value"]
	d.typeSub = d.subIndex["type"]
	if p := d.subIndex["primary"]; p != nil && p.typ == typeBoolean {
		d.primarySub = p
	}
	d.byValue = d.multi && d.valueSub != nil && allImmutable
	return d
}

func parseType(s string) attrType {
	switch s {
	case "boolean":
		return typeBoolean
	case "decimal":
		return typeDecimal
	case "integer":
		return typeInteger
	case "dateTime":
		return typeDateTime
	case "binary":
		return typeBinary
	case "reference":
		return typeReference
	case "complex":
		return typeComplex
	default:
		return typeString
	}
}

func parseMutability(s string) mutability {
	switch s {
	case "immutable":
		return mutImmutable
	case "readOnly":
		return mutReadOnly
	case "writeOnly":
		return mutWriteOnly
	default:
		return mutReadWrite
	}
}

func parseReturned(s string) returned {
	switch s {
	case "always":
		return retAlways
	case "never":
		return retNever
	case "request":
		return retRequest
	default:
		return retDefault
	}
}
