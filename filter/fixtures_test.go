package filter

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

var (
	userRS  = NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	groupRS = NewResourceSchema(schema.CoreGroupSchema())
	// widgetRS has one attribute of every simple type, for type tests.
	widgetRS = NewResourceSchema(schema.Schema{
		ID:   "urn:example:scim:schemas:Widget",
		Name: optional.NewString("Widget"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "count", Type: schema.AttributeTypeInteger()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "weight", Type: schema.AttributeTypeDecimal()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "sizes", Type: schema.AttributeTypeInteger(), MultiValued: true})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "enabled"})),
			schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "expires"})),
			schema.SimpleCoreAttribute(schema.SimpleBinaryParams(schema.BinaryParams{Name: "blob"})),
			schema.SimpleCoreAttribute(schema.SimpleReferenceParams(schema.ReferenceParams{Name: "link"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "code", CaseExact: true})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "label"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "serial", Mutability: schema.AttributeMutabilityImmutable()})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "secret", Returned: schema.AttributeReturnedRequest()})),
		},
	})
)

// Full views of users, as Match, Project and Comparator receive them.
const (
	bjensenJSON = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "701984",
  "userName": "bjensen",
  "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
  "displayName": "Babs Jensen",
  "nickName": "Babs",
  "profileUrl": "https://login.example.com/bjensen",
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "addresses": [
    {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "primary": true},
    {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA"}
  ],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "userType": "Employee",
  "title": "Tour Guide",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "password": "t1meMa$heen",
  "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
  "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\"", "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios", "division": "Theme Park", "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
  }
}`
	jsmithJSON = `{
  "id": "26118915-6090-4610-87e4-49d8ca9f808d",
  "userName": "JSmith",
  "name": {"familyName": "Smith", "givenName": "John"},
  "emails": [{"value": "john@example.org", "type": "work"}],
  "ims": [{"value": "john@foo.com", "type": "xmpp"}],
  "userType": "Intern",
  "active": false,
  "meta": {"resourceType": "User", "created": "2026-01-02T00:00:00Z", "lastModified": "2026-03-01T10:00:00Z"}
}`
	aliceJSON = `{
  "id": "a1",
  "externalId": "ALICE-1",
  "userName": "alice",
  "name": {"familyName": "O'Malley", "givenName": "Alice"},
  "title": "",
  "emails": [
    {"value": "alice@example.com", "type": "home"},
    {"value": "alice@work.example.org", "type": "work", "primary": true}
  ],
  "userType": "Employee",
  "meta": {"resourceType": "User", "created": "2011-01-01T00:00:00Z", "lastModified": "2011-05-13T06:42:34+02:00"}
}`
	// driftJSON has a value of an unexpected type wherever one can be.
	driftJSON = `{
  "id": 7,
  "userName": 42,
  "active": "yes",
  "name": "not an object",
  "emails": "not a list",
  "ims": [null, 3, {"value": 5, "type": true}],
  "title": ["a", "list"],
  "meta": {"lastModified": "garbage", "created": 12},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "not an object"
}`
	groupJSON = `{
  "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
  "displayName": "Tour Guides",
  "members": [
    {"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
    {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
  ],
  "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
}`
)

// decode parses a JSON object the way encoding/json hands resources to us.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return m
}

// users returns fresh copies of the sample users by name.
func users(t testing.TB) map[string]map[string]any {
	return map[string]map[string]any{
		"bjensen": decode(t, bjensenJSON),
		"jsmith":  decode(t, jsmithJSON),
		"alice":   decode(t, aliceJSON),
		"drift":   decode(t, driftJSON),
	}
}

// matching returns the sorted names of the resources f matches.
func matching(f *Filter, res map[string]map[string]any) []string {
	out := []string{}
	for name, r := range res {
		if f.Match(r) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func mustCompile(t testing.TB, rs *ResourceSchema, expr string) *Filter {
	t.Helper()
	f, err := Compile(rs, expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return f
}

// scimType returns the scimType of err, or "" when err is not an *Error.
func scimType(err error) string {
	if e, ok := AsError(err); ok {
		return e.ScimType
	}
	return ""
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// sameJSON compares two values through their canonical JSON encoding.
func sameJSON(t testing.TB, got any, want string) bool {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %q: %v", want, err)
	}
	return toJSON(t, got) == toJSON(t, w)
}
