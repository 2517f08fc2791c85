// Package filter implements SCIM 2.0 semantics on plain, map-shaped resources:
// filter evaluation (RFC 7644 §3.4.2.2), attribute paths, index planning, PATCH
// application (RFC 7644 §3.5.2, including the quirks of Microsoft Entra ID and Okta),
// attribute projection (RFC 7644 §3.9) and sort comparison (RFC 7644 §3.4.2.3).
// It knows nothing of HTTP or Redis.
//
// Resources are map[string]any values as produced by encoding/json (numbers are
// float64). Two shapes are used:
//
//   - the full view, given to Filter.Match, Project and Comparator: "id",
//     "externalId", the core attributes, "meta" (resourceType, created,
//     lastModified, version, location), optionally "schemas" (derived from the
//     extensions present when absent), a user's read-only "groups", and
//     extension attributes under their schema URN key, e.g.
//     res["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any);
//   - the stored attributes, produced by Normalize and transformed by Apply:
//     the same without id, meta, schemas and groups.
//
// Attribute names inside a normalized resource use the canonical case of the
// schema; lookups of names are case-insensitive everywhere (RFC 7643 §2.1).
//
// Choices where the RFCs leave room:
//
//   - "ne" is the negation of "eq": a missing attribute is not equal to any
//     value, and a multi-valued attribute is "ne" a value when none of its
//     values equals it. "eq null" matches an unassigned attribute, "ne null" an
//     assigned one (RFC 7643 §2.5).
//   - A value of an unexpected type in a resource never matches (not even
//     "pr") and never panics. Filters that cannot match by type (userName gt
//     true, active co "x", gt on a boolean or binary, an unknown attribute, a
//     returned:never attribute) are 400 invalidFilter at Compile. Booleans may
//     be written "True"/"False" and numbers as strings.
//   - Value filters may hold any logical expression (RFC 7644 §3.4.2.2
//     valFilter), not only the two terms of the generic parser's grammar.
//   - Case-insensitive strings compare by strings.ToLower, like store indexes.
//     Ids referenced by members.value, groups.value and manager.value compare
//     case-exactly, as ids do (RFC 7643 §3.1).
//   - PATCH: a value filter that matches nothing is a no-op for remove; for add
//     and replace it creates the element when the filter is a conjunction of
//     eq that does not name the element's value (Entra's emails[type eq
//     "work"].value), and is 400 noTarget otherwise (members[value eq "id"]
//     of a non-member).
//     Removing a required attribute (userName, a group's displayName) is 400
//     invalidValue. Replacing with null removes. A bare value for a complex
//     attribute stands for {"value": v}. Unknown and readOnly attributes inside
//     a path-less value are ignored (Okta sends "id"); in a path they are 400
//     invalidPath and mutability. A key of a path-less value that holds a
//     value filter (`emails[type eq "work"].value`) is applied as that path. Remove with a value removes only the given
//     values (Entra's member removal). Adding a member already there is a
//     no-op, even with another "display".
//   - Unknown sortBy is 400 invalidPath.
//   - Cost: normalizing, patching and projecting are linear in the size of
//     the resource and the request. Multi-valued attributes are changed
//     through hash indexes (an added value, members[value eq "id"], a value
//     given to remove, the primary element are found in O(1)); work no index
//     answers (a value filter with co, a sub-attribute path over every
//     element) is bounded per request, past which Apply and Normalize
//     answer 400 tooMany; so is the number of PATCH paths that need the
//     generic filter parser (MaxGenericPaths).
//   - Schema extensions: built-in ones (the enterprise User) and ones an
//     operator declares per tenant (Extension, NewExtendedResourceSchema)
//     work alike. A declared string attribute with canonicalValues accepts
//     only those; CheckRequired checks required attributes and extensions.
//   - Returned (RFC 7643 §7): always attributes and sub-attributes survive
//     attributes and excludedAttributes; never ones (and writeOnly ones)
//     are never returned nor filterable; request ones only when named.
package filter

// This file fixes the API the rest of the project programs against.
// Signatures may gain siblings but must not change.

import (
	"errors"
	"fmt"
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

// Error implements error; the text is "scim <scimType>: <detail>".
func (e *Error) Error() string { return "scim " + e.ScimType + ": " + e.Detail }

// AsError unwraps an *Error from err (errors.As).
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
// and meta (RFC 7643 §3.1) are included. Every extension is optional; see
// NewExtendedResourceSchema for required ones and checked ids.
func NewResourceSchema(core schema.Schema, extensions ...schema.Schema) *ResourceSchema {
	return newResourceSchema(core, extensions...)
}

// Filter is a compiled SCIM filter bound to a ResourceSchema. It is immutable and
// safe for concurrent use.
type Filter struct {
	impl *compiled
}

// Compile parses expr (RFC 7644 §3.4.2.2) and checks it against rs. Common lookups
// (`attr eq "v"`, `attr eq "v" and ...`, `emails[value eq "v"]`) take a fast path
// that does not run the generic parser; both paths give the same result. Errors are
// *Error with scimType invalidFilter (status 400); MaxFilterLength and
// MaxFilterDepth apply before any parsing.
func Compile(rs *ResourceSchema, expr string) (*Filter, error) {
	return compile(rs, expr)
}

// Match reports whether res, a full resource view, satisfies the filter. It never
// panics on values of an unexpected type: such a value simply does not match.
func (f *Filter) Match(res map[string]any) bool { return f.impl.match(res) }

// String returns the filter in canonical form: attribute names in schema case,
// extension attributes URN-qualified, operators in lower case, literals as JSON
// and converted to the attribute's type. It compiles back to the same filter
// (when it is not longer than MaxFilterLength).
func (f *Filter) String() string { return f.impl.String() }

// Lookup is one index lookup a store can answer without scanning: the resources
// whose Attr equals one of Values. Attr is canonical: "id", "userName",
// "externalId", "emails.value" (users), "displayName" or "members.value"
// (groups). For attributes that are not caseExact (userName, emails.value,
// displayName) Values are lower-cased already (strings.ToLower); id, externalId
// and members.value (user ids) are case-exact. Attributes of extensions listed
// in SchemaExtension.Indexed appear URN-qualified ("urn:...:User:costCenterCode"),
// lower-cased unless caseExact.
type Lookup struct {
	Attr   string
	Values []string
}

// Plan splits the filter for a store. When ok is true, every resource matching the
// filter is among the union of the resources found by lookups, and the caller
// must still run Match on each candidate (the residual). When ok is false the
// filter needs a scan. Indexable: eq on an indexed attribute (also inside a value
// filter such as emails[value eq "x" and type eq "work"]), "and" with at least
// one indexable side (the side with fewer values is used), "or" whose sides are
// all indexable (union).
func (f *Filter) Plan() (lookups []Lookup, ok bool) { return f.impl.plan() }

// Operation is one PATCH operation (RFC 7644 §3.5.2) as received; Op is matched
// case-insensitively ("Replace" and "replace" are the same). Value holds decoded
// JSON; a nil Value stands for both an absent and a null "value".
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`

	// parsed is Path as ParsePatch resolved it, so that Apply does not
	// parse it again; used only while Path is unchanged and for the same
	// schema.
	parsed *parsedPath
}

// MaxGenericPaths is the number of operations of one PATCH request whose path
// is outside the grammar of the fast path (see Compile) and needs the generic
// parser, which costs tens of microseconds per path; beyond it ParsePatch
// answers 400 tooMany. Identity providers send paths of the fast grammar.
const MaxGenericPaths = 64

// ParsePatch decodes and validates a PatchOp request body (schemas must contain
// urn:ietf:params:scim:api:messages:2.0:PatchOp; "Operations" a non-empty array;
// member names are matched case-insensitively). It checks each op name, parses each
// path against the schema and coerces each value to the type of its target. The
// operations come back with Op in lower case. Errors are *Error: invalidSyntax
// (structure, op), invalidPath (unknown attribute, bad path or value filter),
// mutability (readOnly path), invalidValue (missing or ill-typed value), noTarget
// (remove without path), tooMany (more than MaxGenericPaths paths that need
// the generic parser). The operations remember their parsed paths, so that
// Apply does not parse them again.
func ParsePatch(rs *ResourceSchema, body []byte) ([]Operation, error) {
	return parsePatch(rs, body)
}

// Apply applies ops (RFC 7644 §3.5.2.1-3) to a deep copy of res, atomically: on
// error res is untouched and the returned resource is nil; res is never modified.
// changed reports whether the result differs from res (a no-op PATCH need not be
// written). res must be normalized (see Normalize). Readonly attributes (id, meta,
// groups) give 400 mutability, as does a change of an immutable value; unknown
// attributes 400 invalidPath; a remove without a path 400 noTarget; a value filter
// that matches nothing and cannot create its element 400 noTarget; the removal of a
// required attribute (core or of an extension) 400 invalidValue; work past the
// bound described in the package documentation 400 tooMany. Setting
// primary=true on an element clears it on the other elements of the attribute.
func Apply(rs *ResourceSchema, res map[string]any, ops []Operation) (out map[string]any, changed bool, err error) {
	return apply(rs, res, ops)
}

// Normalize returns a copy of res with attribute names in canonical case, values
// coerced to their schema type where an IdP sends them as strings ("True" → true,
// "42" → 42), a single object for a multi-valued attribute wrapped in a list,
// null and empty values dropped, duplicates merged, at most one primary element per
// attribute (the first), unknown attributes and readOnly attributes dropped, and
// "schemas", "meta", "id" and "groups" removed. Dotted and URN-qualified keys are
// accepted. It fails with *Error invalidValue for values that cannot be coerced
// (or are not among the canonical values of a declared extension attribute),
// and tooMany past the work bound. Required attributes are not checked: see
// CheckRequired.
func Normalize(rs *ResourceSchema, res map[string]any) (map[string]any, error) {
	return normalize(rs, res)
}

// Project returns res (a full view) restricted per RFC 7644 §3.9 and RFC 7643 §7
// "returned": when attributes is non-empty only those (plus "returned: always"
// attributes: id and schemas) are kept; otherwise excluded ones are removed
// unless returned always. Returned-never attributes (password) are always removed,
// returned-request ones unless named in attributes. Names may be URN-qualified
// and dotted (name.givenName, emails.value); names that do not resolve are
// ignored.
//
// The result is a new map and res is left as it is. When attributes or
// excluded is non-empty the result is a deep copy. When both are empty (the
// common case) a top-level value that the projection keeps whole (name,
// emails, an extension object: anything with nothing to remove) is res's own
// value, not a copy; only values the projection changes are copied. So the
// caller must not mutate nested values of the result while res is in use,
// nor nested values of res while the result is in use.
func Project(rs *ResourceSchema, res map[string]any, attributes, excluded []string) map[string]any {
	return project(rs, res, attributes, excluded)
}

// Comparator orders full views by the attribute path given as sortBy (RFC 7644
// §3.4.2.3): strings by the attribute's caseExact (strings.ToLower otherwise),
// numbers by value, false before true, dateTimes as instants; a complex attribute
// by its "value", a multi-valued one by its primary value or else its first. Missing
// values, and values of an unexpected type, sort last; reversing the result for
// descending order puts them first, as the RFC asks. It fails with 400 invalidPath
// for unknown paths.
func Comparator(rs *ResourceSchema, sortBy string) (func(a, b map[string]any) int, error) {
	return comparator(rs, sortBy)
}

// String renders the operation as {op path value}.
func (o Operation) String() string { return fmt.Sprintf("{%s %s %v}", o.Op, o.Path, o.Value) }
