package filter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Extension declares a schema extension (RFC 7643 §3.3) in the form of RFC
// 7643 §7 (the representation /Schemas serves), so that an operator can add
// custom attributes per tenant without code, as Okta and Entra push them,
// e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User with
// costCenterCode. Field names follow RFC 7643 §7 in JSON and YAML.
type Extension struct {
	// ID is the schema URN: colon-separated segments of letters, digits,
	// '-' and '.', starting with "urn:".
	ID          string      `json:"id" yaml:"id"`
	Name        string      `json:"name" yaml:"name"`
	Description string      `json:"description,omitempty" yaml:"description,omitempty"`
	Attributes  []Attribute `json:"attributes" yaml:"attributes"`
}

// Attribute declares one attribute of an Extension, or one sub-attribute of
// a complex one (RFC 7643 §2.2, §7). Empty characteristics take the defaults
// of RFC 7643 §2.2: mutability readWrite, returned default, uniqueness none,
// caseExact false, not required, single-valued.
type Attribute struct {
	Name string `json:"name" yaml:"name"`
	// Type is one of string, boolean, decimal, integer, dateTime, binary,
	// reference and complex.
	Type        string `json:"type" yaml:"type"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	MultiValued bool   `json:"multiValued" yaml:"multiValued"`
	Required    bool   `json:"required" yaml:"required"`
	CaseExact   bool   `json:"caseExact" yaml:"caseExact"`
	// Mutability is readWrite, immutable, readOnly or writeOnly.
	Mutability string `json:"mutability,omitempty" yaml:"mutability,omitempty"`
	// Returned is default, always, never or request.
	Returned string `json:"returned,omitempty" yaml:"returned,omitempty"`
	// Uniqueness is none, server or global. This package does not enforce
	// it: a store does (see ResourceSchema.Extensions).
	Uniqueness string `json:"uniqueness,omitempty" yaml:"uniqueness,omitempty"`
	// CanonicalValues, for a string, are the only values accepted on
	// write, matched by the attribute's caseExact and stored as declared.
	CanonicalValues []string `json:"canonicalValues,omitempty" yaml:"canonicalValues,omitempty"`
	// ReferenceTypes, for a reference: "User", "Group", "external", "uri".
	ReferenceTypes []string `json:"referenceTypes,omitempty" yaml:"referenceTypes,omitempty"`
	// SubAttributes of a complex attribute; they cannot be complex.
	SubAttributes []Attribute `json:"subAttributes,omitempty" yaml:"subAttributes,omitempty"`
}

// SchemaExtension attaches an extension schema to a resource type (RFC
// 7643 §6 "schemaExtensions"). A required extension must be present in
// every resource of the type.
type SchemaExtension struct {
	Schema   schema.Schema
	Required bool
	// Indexed names string or reference attributes of the extension
	// ("costCenterCode", "site.code") a store keeps a lookup index for:
	// Filter.Plan answers eq on them with a Lookup whose Attr is the
	// URN-qualified path ("urn:...:User:costCenterCode").
	Indexed []string
}

// DefinitionError is an invalid Extension: Path locates the field inside
// it the way a configuration file writes it ("attributes[1].subAttributes[0].type"),
// empty for the extension as a whole.
type DefinitionError struct {
	Path   string
	Detail string
}

func (e *DefinitionError) Error() string {
	if e.Path == "" {
		return e.Detail
	}
	return e.Path + ": " + e.Detail
}

// Schema checks the declaration and returns the schema it declares, as the
// elimity-com/scim package represents it (for /Schemas). Errors are
// *DefinitionError.
func (e Extension) Schema() (schema.Schema, error) {
	if err := checkSchemaURN(e.ID); err != nil {
		return schema.Schema{}, &DefinitionError{Path: "id", Detail: err.Error()}
	}
	if strings.TrimSpace(e.Name) == "" {
		return schema.Schema{}, &DefinitionError{Path: "name", Detail: "a name is required"}
	}
	if len(e.Attributes) == 0 {
		return schema.Schema{}, &DefinitionError{Path: "attributes", Detail: "at least one attribute is required"}
	}
	norm := e
	var err error
	if norm.Attributes, err = checkAttributes(e.Attributes, "attributes", false); err != nil {
		return schema.Schema{}, err
	}
	// The RFC 7643 §7 form is what the library decodes: one source of truth
	// for the served schema and the compiled one.
	raw, err := json.Marshal(norm)
	if err != nil {
		return schema.Schema{}, &DefinitionError{Detail: err.Error()}
	}
	var s schema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return schema.Schema{}, &DefinitionError{Detail: err.Error()}
	}
	return s, nil
}

// checkSchemaURN checks a schema id: "urn:" and at least two more segments
// of the URI rule of the filter grammar (RFC 7644 §3.4.2.2), so that
// "<id>:<attribute>" parses as a path.
func checkSchemaURN(id string) error {
	if !strings.HasPrefix(strings.ToLower(id), "urn:") || strings.Count(id, ":") < 2 || !validURI(id) {
		return fmt.Errorf("%s is not a schema URN such as \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"", quote(id))
	}
	return nil
}

var (
	attrTypes    = []string{"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
	mutabilities = []string{"readWrite", "immutable", "readOnly", "writeOnly"}
	returneds    = []string{"default", "always", "never", "request"}
	uniquenesses = []string{"none", "server", "global"}
)

// checkAttributes checks sibling attribute declarations and returns them
// with defaults filled in.
func checkAttributes(attrs []Attribute, path string, sub bool) ([]Attribute, error) {
	seen := map[string]int{}
	out := make([]Attribute, len(attrs))
	for i, a := range attrs {
		at := fmt.Sprintf("%s[%d]", path, i)
		bad := func(field, format string, args ...any) error {
			return &DefinitionError{Path: at + field, Detail: fmt.Sprintf(format, args...)}
		}
		if !validAttrName(a.Name) || (strings.HasPrefix(a.Name, "$") && !(sub && a.Name == "$ref")) {
			return nil, bad(".name", "%s is not an attribute name (a letter, then letters, digits, '-' or '_')", quote(a.Name))
		}
		if j, dup := seen[strings.ToLower(a.Name)]; dup {
			return nil, bad(".name", "%s is declared twice (attribute names are case-insensitive; first at %s[%d])", quote(a.Name), path, j)
		}
		seen[strings.ToLower(a.Name)] = i
		var err error
		if a.Mutability, err = oneOf(a.Mutability, mutabilities); err != nil {
			return nil, bad(".mutability", "%v", err)
		}
		if a.Returned, err = oneOf(a.Returned, returneds); err != nil {
			return nil, bad(".returned", "%v", err)
		}
		if a.Uniqueness, err = oneOf(a.Uniqueness, uniquenesses); err != nil {
			return nil, bad(".uniqueness", "%v", err)
		}
		if !slices.Contains(attrTypes, a.Type) {
			return nil, bad(".type", "unknown type %s (want one of %s)", quote(a.Type), strings.Join(attrTypes, ", "))
		}
		switch {
		case a.Type == "complex" && sub:
			return nil, bad(".type", "a sub-attribute cannot be complex (RFC 7643 §2.3.8)")
		case a.Type == "complex" && len(a.SubAttributes) == 0:
			return nil, bad(".subAttributes", "a complex attribute needs sub-attributes")
		case a.Type != "complex" && len(a.SubAttributes) > 0:
			return nil, bad(".subAttributes", "only a complex attribute has sub-attributes")
		case len(a.CanonicalValues) > 0 && a.Type != "string":
			return nil, bad(".canonicalValues", "only a string attribute has canonical values")
		case len(a.ReferenceTypes) > 0 && a.Type != "reference":
			return nil, bad(".referenceTypes", "only a reference attribute has reference types")
		case a.Uniqueness != "none" && (a.Type == "boolean" || a.Type == "dateTime" || a.Type == "binary"):
			return nil, bad(".uniqueness", "a %s attribute cannot be unique", a.Type)
		}
		if a.Type == "complex" {
			if a.SubAttributes, err = checkAttributes(a.SubAttributes, at+".subAttributes", true); err != nil {
				return nil, err
			}
		}
		out[i] = a
	}
	return out, nil
}

// oneOf returns v, or the first of allowed when v is empty.
func oneOf(v string, allowed []string) (string, error) {
	if v == "" {
		return allowed[0], nil
	}
	if !slices.Contains(allowed, v) {
		return "", fmt.Errorf("%s is not one of %s", quote(v), strings.Join(allowed, ", "))
	}
	return v, nil
}

// NewExtendedResourceSchema compiles a resource type from its core schema and
// its extensions: built-in ones such as schema.ExtensionEnterpriseUser() and
// those an operator declared (Extension.Schema). Everything works for the
// extensions' attributes as for core ones: filters and sorting
// ("urn:...:User:costCenterCode", "urn:...:User:site.code"), PATCH paths,
// projection by attributes/excludedAttributes and "returned", coercion and
// type checks on write (Normalize, Apply), canonical values, and required
// attributes and extensions (CheckRequired). It fails when two extensions
// share an id, or an id is the core schema's or a prefix of another's.
// NewResourceSchema(core, ext...) is this with every extension optional.
func NewExtendedResourceSchema(core schema.Schema, exts ...SchemaExtension) (*ResourceSchema, error) {
	for i, e := range exts {
		if err := checkSchemaURN(e.Schema.ID); err != nil {
			return nil, fmt.Errorf("extension %d: %w", i, err)
		}
		ids := []string{core.ID}
		for _, o := range exts[:i] {
			ids = append(ids, o.Schema.ID)
		}
		for _, o := range ids {
			a, b := strings.ToLower(e.Schema.ID), strings.ToLower(o)
			if a == b || strings.HasPrefix(a, b+":") || strings.HasPrefix(b, a+":") {
				return nil, fmt.Errorf("extension %s collides with schema %s", quote(e.Schema.ID), quote(o))
			}
		}
	}
	rs := compileResourceSchema(core, exts)
	for _, e := range exts {
		for _, name := range e.Indexed {
			ref, msg := rs.impl.resolveName(e.Schema.ID + ":" + name)
			switch leaf := ref.leaf(); {
			case msg != "" || ref.ext == nil || !strings.EqualFold(ref.ext.id, e.Schema.ID):
				return nil, fmt.Errorf("extension %s: indexed attribute %s is not one of its attributes", quote(e.Schema.ID), quote(name))
			case leaf.typ != typeString && leaf.typ != typeReference:
				return nil, fmt.Errorf("extension %s: indexed attribute %s is a %s, not a string or reference", quote(e.Schema.ID), quote(name), leaf.typ)
			default:
				rs.impl.indexed[leaf] = leaf.fullPath()
			}
		}
	}
	return rs, nil
}

// Core returns the core schema rs was compiled from.
func (rs *ResourceSchema) Core() schema.Schema { return rs.impl.core }

// Extensions returns the extensions rs was compiled with, in order, for
// /Schemas and /ResourceTypes (RFC 7643 §6, §7).
func (rs *ResourceSchema) Extensions() []SchemaExtension { return slices.Clone(rs.impl.extDefs) }
