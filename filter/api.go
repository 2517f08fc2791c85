// Package filter implements SCIM 2.0 semantics on plain, map-shaped resources:
// filter evaluation (RFC 7644 §3.4.2.2), attribute paths, index planning, PATCH
// application (RFC 7644 §3.5.2, including the quirks of Microsoft Entra ID and Okta),
// attribute projection and sort comparison. It knows nothing of HTTP or Redis.
//
// Resources are map[string]any values as produced by encoding/json (numbers are
// float64), holding the attributes of a resource except "meta" and "schemas".
// Extension attributes live under their schema URN key, e.g.
// res["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any).
// Attribute names inside a normalized resource use the canonical case of the schema.
package filter

// NOTE: this file fixes the API the rest of the project programs against.
// Signatures may gain siblings but must not change.

import (
	"errors"
	"net/http"

	"github.com/elimity-com/scim/schema"
)

// Error is a SCIM-level failure: the HTTP status and the RFC 7644 §3.12 scimType
// (invalidFilter, invalidPath, noTarget, invalidValue, mutability, invalidSyntax,
// tooMany, uniqueness). Detail is safe to show to the client.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return "scim " + e.ScimType + ": " + e.Detail }

// Errorf-style helpers are in errors.go; AsError unwraps an *Error from err.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// badRequest builds a 400 *Error.
func badRequest(scimType, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: detail}
}

var _ = badRequest

// ResourceSchema is the compiled description of one resource type: its core schema
// and extension schemas, with attribute lookup by case-insensitive name, type,
// caseExact, multiValued, mutability and returned characteristics. It is immutable
// and safe for concurrent use.
type ResourceSchema struct {
	impl *resourceSchema
}

// NewResourceSchema compiles core and its extensions (the elimity-com/scim schema
// definitions are the single source of truth). The common attributes id, externalId
// and meta (RFC 7643 §3.1) are included.
func NewResourceSchema(core schema.Schema, extensions ...schema.Schema) *ResourceSchema {
	return newResourceSchema(core, extensions...)
}

// Filter is a compiled SCIM filter bound to a ResourceSchema. It is immutable and
// safe for concurrent use.
type Filter struct {
	impl *compiled
}

// Compile parses expr (RFC 7644 §3.4.2.2) and checks it against rs. Common lookups
// (`attr eq "v"`, `attr eq "v" and ...`) take a fast path that does not run the
// generic parser; both paths give the same result. Errors are *Error with scimType
// invalidFilter (status 400); limits on length and nesting depth apply.
func Compile(rs *ResourceSchema, expr string) (*Filter, error) {
	return compile(rs, expr)
}

// Match reports whether res satisfies the filter. It never panics on values of an
// unexpected type: such a value simply does not match.
func (f *Filter) Match(res map[string]any) bool { return f.impl.match(res) }

// String returns the filter in canonical form.
func (f *Filter) String() string { return f.impl.String() }

// Lookup is one index lookup a store can answer without scanning: the resources
// whose Attr equals one of Values. Attr is canonical: "id", "userName",
// "externalId", "emails.value", "displayName" or "members.value". For attributes
// that are not caseExact (userName, emails.value, displayName) Values are
// lower-cased already.
type Lookup struct {
	Attr   string
	Values []string
}

// Plan splits the filter for a store. When ok is true, every resource matching the
// filter is among the union of the resources found by lookups, and the caller
// must still run Match on each candidate (the residual). When ok is false the
// filter needs a scan.
func (f *Filter) Plan() (lookups []Lookup, ok bool) { return f.impl.plan() }

// Operation is one PATCH operation (RFC 7644 §3.5.2) as received; Op is matched
// case-insensitively ("Replace" and "replace" are the same).
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// ParsePatch decodes and validates a PatchOp request body
// (schemas must contain urn:ietf:params:scim:api:messages:2.0:PatchOp). Errors are *Error
// (invalidSyntax, invalidPath, invalidValue ...).
func ParsePatch(rs *ResourceSchema, body []byte) ([]Operation, error) {
	return parsePatch(rs, body)
}

// Apply applies ops to a deep copy of res, atomically: on error res is untouched and
// the returned resource is nil. changed reports whether the result differs from res.
// res must be normalized (see Normalize). Readonly attributes (id, meta, groups)
// give 400 mutability; unknown attributes 400 invalidPath; a remove without a path
// 400 noTarget.
func Apply(rs *ResourceSchema, res map[string]any, ops []Operation) (out map[string]any, changed bool, err error) {
	return apply(rs, res, ops)
}

// Normalize returns a copy of res with attribute names in canonical case, values
// coerced to their schema type where an IdP sends them as strings ("True" → true,
// "42" → 42), unknown attributes and readOnly attributes dropped, and "schemas",
// "meta" and "id" removed. It fails with *Error (invalidValue / invalidSyntax) for
// values that cannot be coerced.
func Normalize(rs *ResourceSchema, res map[string]any) (map[string]any, error) {
	return normalize(rs, res)
}

// Project returns a copy of res restricted per RFC 7644 §3.9: when attributes is
// non-empty only those (plus "returned: always" attributes such as id) are kept;
// otherwise excluded ones are removed. Names may be URN-qualified and dotted.
func Project(rs *ResourceSchema, res map[string]any, attributes, excluded []string) map[string]any {
	return project(rs, res, attributes, excluded)
}

// Comparator orders resources by the attribute path given as sortBy (RFC 7644
// §3.4.2.3): strings by the attribute's caseExact, missing values last in
// ascending order. It fails with 400 invalidPath for unknown paths.
func Comparator(rs *ResourceSchema, sortBy string) (func(a, b map[string]any) int, error) {
	return comparator(rs, sortBy)
}
